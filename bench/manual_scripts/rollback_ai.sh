#!/bin/bash
# /app/scripts/rollback_ai.sh (AI Instance)

set -e

echo "=== FastAPI 긴급 롤백 시작 ==="
echo "시간: $(date)"

APP_DIR="/app/ai-server"

cd $APP_DIR

# 이전 버전 확인 및 복원
echo "최근 커밋 히스토리:"
git log --oneline -5

echo "이전 커밋으로 복원 중..."
git checkout HEAD~1

# 의존성 재설치
source venv/bin/activate
pip install -r requirements.txt --quiet

# 서비스 재시작
sudo systemctl restart fastapi

# 헬스체크
echo "헬스체크 대기 중..."
sleep 5
if curl -s localhost:8000/health | grep -q "ok"; then
    echo "롤백 완료 - 서버 정상"
else
    echo "롤백 후 서버 상태 확인 필요"
fi
