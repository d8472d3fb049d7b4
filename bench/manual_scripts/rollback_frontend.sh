#!/bin/bash
# /app/scripts/rollback_frontend.sh

set -e

echo "=== React 프론트엔드 롤백 시작 ==="

DEPLOY_DIR="/var/www/dojangkok"
BACKUP_DIR="/var/www/backup"

LATEST_BACKUP=$(ls -td $BACKUP_DIR/frontend_backup_* 2>/dev/null | head -1)

if [ -z "$LATEST_BACKUP" ]; then
    echo "백업 파일을 찾을 수 없습니다."
    exit 1
fi

echo "복원할 백업: $LATEST_BACKUP"

rm -rf $DEPLOY_DIR/*
cp -r "$LATEST_BACKUP"/* $DEPLOY_DIR/

sudo nginx -s reload

echo "롤백 완료"
curl -s -o /dev/null -w "HTTP 응답: %{http_code}\n" http://localhost
