#!/bin/bash
# gpu as its image gives it: no internet in the lab, so pip reads the wheelhouse that is
# bind-mounted read-only at /srv/wheelhouse (the AI app's requirements, downloaded once on
# the operator side). Runs as root on the booted host. `fab setup` makes the rest.
set -euo pipefail
printf '[global]\nno-index = true\nfind-links = /srv/wheelhouse\n' > /etc/pip.conf
