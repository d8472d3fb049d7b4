#!/bin/bash
# /app/scripts/deploy_frontend.sh

echo "=== React 프론트엔드 배포 시작 ==="

cd /app/frontend
git pull origin main
npm ci
npm run build

rm -rf /var/www/dojangkok/*
cp -r build/* /var/www/dojangkok/

nginx -s reload

echo "=== React 배포 완료 ==="
curl -s -o /dev/null -w "%{http_code}" http://localhost
