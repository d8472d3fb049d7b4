#!/bin/bash
# /app/scripts/deploy_all.sh

echo "=========================================="
echo "  도장콕 전체 배포"
echo "  $(date '+%Y-%m-%d %H:%M:%S')"
echo "=========================================="

# 1. React (다운타임 없음)
echo "[1/3] React 배포..."
/app/scripts/deploy_frontend.sh

# 2. Spring Boot (다운타임 3-5분)
echo "[2/3] Spring Boot 배포..."
echo "서비스 중단이 발생합니다."
/app/scripts/deploy_backend.sh

# 3. FastAPI (별도 인스턴스, 다운타임 1-2분)
echo "[3/3] FastAPI 배포..."
ssh ai-server '/app/scripts/deploy_ai_server.sh'

echo "=========================================="
echo "  전체 배포 완료"
echo "=========================================="
