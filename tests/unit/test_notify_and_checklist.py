import contextlib
import http.server
import json
import threading

import pytest

from tasks.apps.frontend import manual as frontend
from tasks.engine import checklist, notify
from tasks.errors import ConfigError

from .conftest import make_session, make_view


@pytest.fixture
def webhook():
    """A local HTTP server that captures what would go to Discord."""
    posts, status = [], {"code": 204}

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/api/webhooks/1/token", posts, status
    srv.shutdown()


def test_notice_posts_content(webhook):
    url, posts, _ = webhook
    assert notify.send(url, "배포 시작합니다 (예상 12분)").startswith("공지함")
    assert posts == [{"content": "배포 시작합니다 (예상 12분)"}]


def test_notice_failure_never_shows_the_url(webhook):
    url, _, status = webhook
    status["code"] = 500
    with pytest.raises(RuntimeError) as err:
        notify.send(url, "x")
    assert "token" not in str(err.value) and "HTTP 500" in str(err.value)
    with pytest.raises(RuntimeError) as err:
        notify.send("http://127.0.0.1:9/api/webhooks/secret", "x", timeout=1)
    assert "secret" not in str(err.value)


def test_no_webhook_is_skipped():
    assert "미설정" in notify.send(None, "배포 완료")


def test_yes_answers_and_is_recorded():
    assert checklist.ask("브라우저 콘솔 에러 없음", True) == (True, "--yes")


def test_prompt_without_terminal_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(ConfigError, match="--yes"):
        checklist.ask("브라우저 콘솔 에러 없음", False)


def test_no_answer_declines(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter(["maybe", "n"])
    ok, by = checklist.ask("q", False, reader=lambda prompt: next(answers))
    assert (ok, by) == (False, "operator")


def test_after_phase_no_is_declined_with_rollback_flag(monkeypatch):
    s = make_session(None, "frontend", yes=False)
    monkeypatch.setattr(checklist, "ask", lambda q, yes: (False, "operator"))
    plan = frontend.plan(make_view("frontend"))
    with pytest.raises(checklist.Declined) as err:
        checklist.run_phase(plan, s, checklist.AFTER, {"6": "ok"})
    assert err.value.item.rollback_on_no


def test_prompts_without_a_terminal_are_refused_before_any_host(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)
    plan = frontend.plan(make_view("frontend"))
    assert plan.asks  # "주요 페이지 로드 확인" only a person can answer
    with pytest.raises(ConfigError, match="no terminal"):
        checklist.answerable([plan], yes=False, task="deploy frontend")
    checklist.answerable([plan], yes=True, task="deploy frontend")


def test_the_checks_before_a_deploy_read_the_host_in_one_round_trip():
    from tasks.apps.common import before_items
    from tasks.engine.steps import Plan

    from .fakes import FakeRemote

    def checked(remote):
        s = make_session(remote, component="frontend", lines=(said := []))
        items = before_items(lambda v: "/app/frontend", lambda v: "/app/frontend/.env",
                             lambda v: ".env.example", ["package.json"])  # fmt: skip
        plan = Plan("frontend", "A", "t", "", "", "", (), tuple(items))
        with contextlib.suppress(checklist.Declined):
            checklist.run_phase(plan, s, checklist.BEFORE)
        return said, [c for _, c in remote.calls]

    said, calls = checked(FakeRemote([(r"rev-list --count", 0, "3"), (r"log -1", 0, "abc m")]))
    assert len(calls) == 1 and "rev-list --count" in calls[0] and "comm -13" in calls[0]
    assert "(3개 커밋 뒤)" in "\n".join(said) and "abc m" in "\n".join(said)
    # a read that failed runs again on its own: its own status and error are what is shown
    said, calls = checked(FakeRemote([(r"comm -13", 1, "missing in .env: DB_X")]))
    assert len(calls) == 2 and "comm -13" in calls[1] and "rev-list" not in calls[1]
    assert "✗] `.env` 파일 변경사항 확인 — missing in .env: DB_X" in "\n".join(said)
