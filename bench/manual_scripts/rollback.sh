#!/bin/bash
# /app/scripts/rollback.sh

echo "=== 긴급 롤백 시작 ==="

# 1. 이전 커밋으로 복원
cd /app
git log --oneline -5
git checkout HEAD~1

# 2. 재빌드
./gradlew clean build -x test

# 3. 서비스 재시작
sudo systemctl restart dojangkok

# 4. (필요 시) DB 복원
# mysql -u root -p dojangkok < backup_YYYYMMDD_HHMM.sql

echo "=== 롤백 완료, 헬스체크 확인 필요 ==="
curl -s localhost:8080/health
