#!/bin/bash
# Both hosts, as a cloud image gives them (runs as root on the booted host; env:
# LAB_SUDO_PASSWORD). The base image already has the distribution's packages and the login
# users (base.sh: deploy with passwordless sudo, like `ubuntu`; deploypw with a password).
# Nothing of the application: `fab setup` makes the rest.
set -euo pipefail
echo "deploypw:${LAB_SUDO_PASSWORD}" | chpasswd
