#!/bin/bash
# /app/scripts/deploy_ai_server.sh (AI Instance에서 실행)

echo "=== FastAPI AI 서버 배포 시작 ==="
echo "현재 시간: $(date)"

cd /app/ai-server

# 코드 업데이트
git fetch origin
git pull origin main

# 가상환경 활성화 및 의존성 설치
source venv/bin/activate
pip install -r requirements.txt --quiet

# 서비스 재시작
sudo systemctl restart fastapi

# 헬스체크 (최대 30초(임시) 대기)
echo "헬스체크 대기 중..."
for i in {1..6}; do
    if curl -s localhost:8000/health | grep -q "ok"; then
        echo "FastAPI 서버 정상 기동"
        break
    fi
    sleep 5
done

# 간단한 AI 기능 테스트
echo "AI 기능 테스트..."
curl -s -X POST localhost:8000/api/v1/analyze \
    -H "Content-Type: application/json" \
    -d '{"text": "테스트 계약서 내용"}' | head -c 100

echo ""
echo "=== FastAPI 배포 완료 ==="
