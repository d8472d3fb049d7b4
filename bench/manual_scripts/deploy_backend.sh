#!/bin/bash
# /app/scripts/deploy_backend.sh

set -e

echo "=== Spring Boot 백엔드 배포 시작 ==="
echo "현재 시간: $(date)"

BACKUP_DIR="/app/backups"
APP_DIR="/app/backend"

# 1. 사전 확인
echo "[1/8] 서비스 상태 확인..."
systemctl status dojangkok --no-pager || true

# 2. MySQL 백업
echo "[2/8] MySQL 백업 중..."
mkdir -p $BACKUP_DIR
mysqldump -u root -p"$MYSQL_ROOT_PASSWORD" dojangkok > "$BACKUP_DIR/backup_$(date +%Y%m%d_%H%M).sql"
echo "백업 완료: $(ls -la $BACKUP_DIR/*.sql | tail -1)"

# 3. 코드 동기화
echo "[3/8] 코드 Pull..."
cd $APP_DIR
git fetch origin
git pull origin main

# 4. 환경변수 확인
echo "[4/8] 환경변수 확인..."
if [ -f .env.example ]; then
    diff .env .env.example || echo "환경변수 차이 확인 필요"
fi

# 5. 서비스 중단
echo "[5/7] 서비스 중단..."
sudo systemctl stop dojangkok

# 6. Gradle 빌드
echo "[6/7] Gradle 빌드 중... (약 3분 소요)"
./gradlew clean build -x test

# 7. 서비스 시작
echo "[7/7] 서비스 시작..."
sudo systemctl start dojangkok

# 헬스체크 (최대 60초 대기)
echo "헬스체크 대기 중..."
for i in {1..12}; do
    if curl -s localhost:8080/health | grep -q "UP"; then
        echo "Spring Boot 서버 정상 기동"
        break
    fi
    echo "  대기 중... ($i/12)"
    sleep 5
done

systemctl status dojangkok --no-pager

echo "=== Spring Boot 배포 완료 ==="
echo "완료 시간: $(date)"
