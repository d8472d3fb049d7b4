#!/bin/bash
# Both hosts (runs as root on the booted host; env: LAB_SUDO_PASSWORD, OPERATOR).
set -euo pipefail
echo "deploypw:${LAB_SUDO_PASSWORD}" | chpasswd
install -d -m 755 -o root -g root /app
