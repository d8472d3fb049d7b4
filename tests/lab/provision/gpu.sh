#!/bin/bash
# The manual's hand-configured gpu host: the FastAPI AI server in a venv.
# Runs as root on the booted host; env: OPERATOR. /srv/wheelhouse is bind-mounted read-only.
set -euo pipefail
as_deploy() { sudo -u deploy -H "$@"; }
printf '[global]\nno-index = true\nfind-links = /srv/wheelhouse\n' > /etc/pip.conf
install -d -o deploy -g deploy /app/ai-server /var/log/dojangkok
as_deploy git clone -q "git://${OPERATOR}/ai.git" /app/ai-server
as_deploy sh -c 'echo MODEL_NAME=lab-stub > /app/ai-server/.env'
as_deploy python3 -m venv /app/ai-server/venv
as_deploy /app/ai-server/venv/bin/pip install -q --disable-pip-version-check \
  -r /app/ai-server/requirements.txt
cat > /etc/systemd/system/fastapi.service <<'UNIT'
[Unit]
Description=dojangkok AI server (FastAPI)
After=network.target

[Service]
User=deploy
WorkingDirectory=/app/ai-server
ExecStart=/app/ai-server/venv/bin/uvicorn app.main:app --host 0.0.0.0 --port 8000
Restart=no

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now fastapi.service
for _ in $(seq 120); do
  curl -fsS http://127.0.0.1:8000/health >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS http://127.0.0.1:8000/health
