#!/bin/bash
# Runs inside the freshly debootstrapped image (chroot-like nspawn, no init, host network).
# Installs the packages, creates the accounts, and disables what must not run in the lab.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
# Never start daemons while building the image.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
apt-get update -q
# shellcheck disable=SC2046
apt-get install -y -q --no-install-recommends $(grep -v '^#' /var/tmp/lab-build/packages.txt)
apt-get clean
rm -rf /var/lib/apt/lists/*

# Accounts: deploy (uid 1000, sudo NOPASSWD, like `ubuntu`) and deploypw (sudo with password).
useradd -m -u 1000 -s /bin/bash deploy
useradd -m -u 1001 -s /bin/bash -G sudo deploypw
usermod -p '*' deploy          # no password, but not "locked" (key login works)
usermod -p '*' deploypw        # the real password is set at provisioning
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-deploy
chmod 440 /etc/sudoers.d/90-deploy
for u in deploy deploypw; do install -d -m 700 -o "$u" -g "$u" "/home/$u/.ssh"; done

# sshd: keys only; host keys are generated on the operator side and placed per host.
rm -f /etc/ssh/ssh_host_*
cat > /etc/ssh/sshd_config.d/lab.conf <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UseDNS no
HostKey /etc/ssh/ssh_host_ed25519_key
CONF

# Boot: static network via systemd-networkd; nothing periodic or interactive.
systemctl enable systemd-networkd.service ssh.service nginx.service mariadb.service
systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
  fstrim.timer systemd-tmpfiles-clean.timer console-getty.service getty@tty1.service \
  systemd-networkd-wait-online.service e2scrub_reap.service
rm -f /etc/systemd/network/*.network
: > /etc/machine-id
rm -f /etc/hostname /var/lib/dbus/machine-id
git config --system init.defaultBranch main
rm -f /usr/sbin/policy-rc.d
