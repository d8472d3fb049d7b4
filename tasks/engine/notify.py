"""Discord notices (manual B1 and B12) through a webhook, with requests.

The webhook URL is a secret (``DISCORD_WEBHOOK_URL`` in .env). Without it, notices are
skipped. A notice that fails is reported and never fails a deploy.
"""

from __future__ import annotations

WEBHOOK_KEY = "DISCORD_WEBHOOK_URL"
#: what the operator does about a notice that failed (the task goes on)
NEXT = f" (작업은 계속합니다: 팀에 직접 알리고 {WEBHOOK_KEY}와 디스코드 상태를 확인하세요)"


def send(url: str | None, text: str, timeout: float = 5.0) -> str:
    """Post ``text``; returns what happened, raises only with a masked reason."""
    if not url:
        return f"{WEBHOOK_KEY} 미설정: 공지 생략 ({text})"
    import requests  # only when there is a notice to send: it costs fab's start-up ~0.2 s

    try:
        resp = requests.post(url, json={"content": text}, timeout=timeout)
    except requests.RequestException as exc:
        raise RuntimeError(f"디스코드 공지 실패: {type(exc).__name__}{NEXT}") from None
    if resp.status_code >= 300:
        raise RuntimeError(f"디스코드 공지 실패: HTTP {resp.status_code}{NEXT}")
    return f"공지함: {text}"
