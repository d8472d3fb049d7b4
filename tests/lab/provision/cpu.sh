#!/bin/bash
# The manual's hand-configured cpu host: nginx + frontend, backend + MariaDB.
# Runs as root on the booted host; env: OPERATOR, CPU_IP, DB_PASSWORD, MYSQL_ROOT_PASSWORD.
set -euo pipefail
as_deploy() { sudo -u deploy -H "$@"; }
install -d -o deploy -g deploy /app/frontend /app/backend /app/backups /var/log/dojangkok \
  /var/www/dojangkok

# TLS for `fab setup`/push-config: a lab CA (trusted on this host; the operator side
# copies ca.pem to .lab/tls/) and a leaf it signs, ECDSA P-256, per Mozilla "intermediate".
install -d -m 755 /etc/ssl/dojangkok
(
  cd /etc/ssl/dojangkok
  ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256"
  openssl req -x509 $ec -days 3650 -subj '/CN=dojangkok lab CA' \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout ca.key -out ca.pem 2>/dev/null
  openssl req $ec -subj /CN=cpu -keyout privkey.pem -out leaf.csr 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:cpu,DNS:localhost,IP:${CPU_IP},IP:127.0.0.1" > leaf.ext
  openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
    -sha256 -extfile leaf.ext -out leaf.pem 2>/dev/null
  cat leaf.pem ca.pem > fullchain.pem
  chmod 600 privkey.pem ca.key
  rm -f leaf.csr leaf.ext
)
cp /etc/ssl/dojangkok/ca.pem /usr/local/share/ca-certificates/dojangkok-lab.crt
update-ca-certificates >/dev/null

# Frontend: clone, its build-time .env, build once, publish build/* to the web root.
as_deploy git clone -q "git://${OPERATOR}/frontend.git" /app/frontend
as_deploy sh -c 'echo REACT_APP_API_URL=/api > /app/frontend/.env'
(cd /app/frontend && as_deploy npm ci --no-audit --no-fund --loglevel=error \
  && as_deploy npm run build --silent)
as_deploy cp -r /app/frontend/build/. /var/www/dojangkok/
cat > /etc/nginx/sites-available/default <<'CONF'
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    server_name _;
    root /var/www/dojangkok;
    index index.html;

    location / {
        try_files $uri $uri/ /index.html;
    }

    location /api/ {
        proxy_pass http://127.0.0.1:8080;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
    }
}
CONF
ln -sf /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default
nginx -t -q
systemctl reload nginx

# MariaDB: app database and user; root by unix socket or password.
mysql --protocol=socket -uroot <<SQL
CREATE DATABASE IF NOT EXISTS dojangkok CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'dojangkok'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
GRANT ALL PRIVILEGES ON dojangkok.* TO 'dojangkok'@'localhost';
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket
  OR mysql_native_password USING PASSWORD('${MYSQL_ROOT_PASSWORD}');
FLUSH PRIVILEGES;
SQL

# Backend: clone, build once, .env, systemd unit (Restart=no: the manual's hand setup).
as_deploy git clone -q "git://${OPERATOR}/backend.git" /app/backend
(cd /app/backend && as_deploy ./gradlew clean build -x test >/dev/null)
test -f /app/backend/build/libs/dojangkok.jar
install -m 600 -o deploy -g deploy /dev/null /app/backend/.env
cat > /app/backend/.env <<ENV
DB_URL=jdbc:mariadb://localhost:3306/dojangkok
DB_USER=dojangkok
DB_PASSWORD=${DB_PASSWORD}
SERVER_PORT=8080
ENV
cat > /etc/systemd/system/dojangkok.service <<'UNIT'
[Unit]
Description=dojangkok backend
After=network.target mariadb.service

[Service]
User=deploy
WorkingDirectory=/app/backend
EnvironmentFile=/app/backend/.env
ExecStart=/usr/bin/java -jar /app/backend/build/libs/dojangkok.jar
# Spring Boot exits 143 on SIGTERM: a clean stop, not a failure.
SuccessExitStatus=143
Restart=no

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now dojangkok.service
for _ in $(seq 120); do
  curl -fsS http://127.0.0.1:8080/health >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS http://127.0.0.1:8080/health
curl -fsS http://127.0.0.1/ | grep -q dojangkok
