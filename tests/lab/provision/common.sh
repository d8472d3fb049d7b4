#!/bin/bash
# Both hosts, as a cloud image gives them (runs as root on the booted host; env:
# LAB_SUDO_PASSWORD). The base image already has the distribution's packages and the login
# users (base.sh: deploy, deploypw with a sudo password); below, admin with passwordless
# sudo, and deploy's build-time sudo taken away. Nothing of the application: `fab setup` makes the rest.
set -euo pipefail
echo "deploypw:${LAB_SUDO_PASSWORD}" | chpasswd

# Accounts, as a cloud image's admin leaves them: admin (uid 1002, sudo NOPASSWD, like
# `ubuntu`) runs `fab setup`'s root steps (admin_user); deploy, the deploy login, has no sudo
# until setup gives it the tool's root helper (and nothing else). This script already runs
# as root through deploy's build-time sudo, which ends here.
id -u admin >/dev/null 2>&1 || useradd -m -u 1002 -s /bin/bash admin
usermod -p '*' admin
install -d -m 700 -o admin -g admin /home/admin/.ssh
install -m 600 -o admin -g admin /home/deploy/.ssh/authorized_keys /home/admin/.ssh/authorized_keys
echo 'admin ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-admin
chmod 440 /etc/sudoers.d/90-admin
visudo -cq
rm -f /etc/sudoers.d/90-deploy
