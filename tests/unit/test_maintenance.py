"""The maintenance page: the root helper's checks (pure), the operator side's commands and
input checks, the site template's wiring (the lab test serves it: tests/test_maintenance_lab.py)."""

from __future__ import annotations

import base64
import re

import pytest

from tasks import ns
from tasks.engine.console import Console
from tasks.errors import ConfigError
from tasks.hosts.secrets import Secrets
from tasks.onhost import roothelper
from tasks.onhost.roothelper import Refused
from tasks.procedures import maintenance as page
from tasks.procedures.health import Answer
from tasks.shell import ROOT_HELPER

from .fakes import FakeRemote
from .test_config import host, rendered


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# --- the root helper's verb ----------------------------------------------------------------
def test_the_helper_takes_a_scope_from_its_list_and_a_base64_message():
    assert roothelper.plan({}, ["maintenance", "on", "api", b64("점검 <b>")]) == [
        ("maintenance", "on", "api", "점검 <b>")
    ]
    assert roothelper.plan({}, ["maintenance", "off"]) == [("maintenance", "off", "", "")]
    assert roothelper.plan({}, ["maintenance", "on", "site", ""])[0][3] == ""


@pytest.mark.parametrize(
    ("argv", "cause"),
    [
        (["on", "../etc", b64("x")], "scope must be one of site, api"),
        (["on", "Site", b64("x")], "scope must be one of"),
        (["on", "site", b64("a\nb")], "control characters"),
        (["on", "site", b64("a\x1b[2Jb")], "control characters"),
        (["on", "site", b64("a\u202eb")], "control characters"),  # bidi override
        (["on", "site", "$(id)"], "not base64url"),
        (["on", "site", "not base64!"], "not base64url"),
        (["on", "site", base64.urlsafe_b64encode(b"\xff\xfe").decode()], "not base64url"),
        (["on", "site", b64("가" * 301)], "longer than 300"),
        (["on", "site"], "usage"),
        (["off", "now"], "usage"),
        (["status"], "usage"),
    ],
)
def test_the_helper_refuses_in_korean_naming_the_cause(argv, cause):
    with pytest.raises(Refused) as exc:
        roothelper.plan({}, ["maintenance", *argv])
    assert cause in str(exc.value)
    assert re.search("[가-힣]", str(exc.value))  # Korean, the English cause in parentheses


def test_the_longest_message_fits():
    longest = "가" * roothelper.MAINTENANCE_MESSAGE_MAX
    assert roothelper.plan({}, ["maintenance", "on", "site", b64(longest)])[0][3] == longest


def test_the_page_is_korean_with_the_message_escaped_and_the_time():
    html = roothelper.maintenance_page(
        '<img src=x onerror=alert(1)> & "곧"', "2026-12-07 04:10 KST"
    )
    assert '<html lang="ko">' in html and "서비스 점검 중입니다" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;곧&quot;" in html
    assert "<img" not in html
    assert "점검 시작: 2026-12-07 04:10 KST" in html
    assert roothelper.MAINTENANCE_DEFAULT in roothelper.maintenance_page("", "now")


def test_the_helper_refuses_a_directory_the_deploy_login_could_write(tmp_path):
    # tmp_path is this user's (not root's): the helper must not write a page there
    with pytest.raises(Refused, match="root-owned directory"):
        roothelper._root_dir(str(tmp_path))


# --- the operator's side ---------------------------------------------------------------------
def test_the_message_never_reaches_the_command_line_as_text():
    message = "'; rm -rf / #  점검 $(id)"
    command = page.on_command("site", message)
    assert command == f"sudo -n {ROOT_HELPER} maintenance on site {b64(message)}"
    assert "rm -rf" not in command and "$(" not in command
    assert page.off_command() == f"sudo -n {ROOT_HELPER} maintenance off"


@pytest.mark.parametrize(
    ("state", "scope", "message", "problem"),
    [
        ("start", "site", "", "알 수 없는 동작"),
        ("on", "all", "", "--scope='all'"),
        ("off", "site", "x", "--message는 on과 함께만"),
        ("on", "site", "x" * 301, "301자"),
        ("on", "site", "두 줄\n메시지", "줄바꿈"),
    ],
)
def test_bad_input_is_refused_before_any_host(state, scope, message, problem):
    with pytest.raises(ConfigError) as exc:
        page.check_input(state, scope, message)
    assert problem in str(exc.value)


def test_status_lines_say_what_answers_503():
    states = page.parse_status(
        '{"scope": "api", "since": "2026-12-07 04:10 KST", "message": "DB 복원"}\nnot json\n'
    )
    lines = page.describe("cpu", states)
    assert lines[0].startswith("cpu: 점검 페이지 켜짐") and "/api/가 503" in lines[0]
    assert "2026-12-07 04:10 KST" in lines[0] and "메시지: DB 복원" in lines[1]
    assert "fab -H cpu maintenance off" in lines[-1]
    assert page.describe("cpu", page.parse_status("")) == [
        "cpu: 점검 페이지 꺼짐 (maintenance off)"
    ]


class Lines(Console):
    def __init__(self):
        super().__init__(Secrets({}))
        self.lines: list[str] = []

    def out(self, text: str = "") -> None:
        self.lines.append(text)


def test_on_checks_the_site_is_wired_then_calls_the_helper_and_says_so():
    h = host(server_name="dojangkok.example.com")
    fake = FakeRemote([(r"^for f in", 0, '{"scope": "site", "since": "t", "message": "m"}\n')])
    console = Lines()
    page.toggle(h, Secrets({}), "on", "site", "m", console=console,
                connect_host=lambda *_: fake, ask_url=lambda url: Answer(url, 503, 30))  # fmt: skip
    commands = [c for _, c in fake.calls]
    assert commands[0] == page.wired_command(h.settings)
    assert commands[1] == page.on_command("site", "m")
    assert "점검 페이지 켜짐" in console.lines[0]
    assert "  확인: https://dojangkok.example.com/ → HTTP 503" in console.lines


def test_on_refuses_a_site_config_without_the_page():
    h = host()
    fake = FakeRemote([(r"^grep -qF", 1, "")])
    with pytest.raises(ConfigError, match="push-config"):
        page.toggle(h, Secrets({}), "on", console=Lines(), connect_host=lambda *_: fake)
    assert not any("maintenance on" in c for _, c in fake.calls)


def test_dry_run_shows_the_commands_and_touches_nothing():
    console = Lines()
    page.toggle(host(), Secrets({}), "on", "api", "점검", dry_run=True, console=console,
                connect_host=lambda *_: pytest.fail("connected"))  # fmt: skip
    assert f"$ {page.on_command('api', '점검')}" in console.lines


def test_restore_db_turns_the_page_on_only_when_asked():
    assert page.wanted_for_restore(yes=True, maintenance=True, dry_run=False)
    assert not page.wanted_for_restore(yes=True, maintenance=False, dry_run=False)
    assert page.wanted_for_restore(False, False, False, reader=lambda _: "y")
    assert not page.wanted_for_restore(False, False, False, reader=lambda _: "n")


# --- the site template -----------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["manual", "release"])
def test_the_site_tests_the_flags_and_serves_the_page_with_retry_after(strategy):
    site = rendered(strategy=strategy)["nginx"]
    d = roothelper.MAINTENANCE_DIR
    assert f"if (-f {d}/site.on) {{\n        return 503;" in site
    api = site.split("location /api/ {")[1].split("\n    }\n")[0]
    assert f"if (-f {d}/api.on) {{" in api and "return 503;" in api
    named = site.split("location @maintenance {")[1].split("\n    }")[0]
    assert f"root {d};" in named and "rewrite ^ /page.html break;" in named
    assert 'add_header Retry-After "300" always;' in named
    assert "Strict-Transport-Security" in named  # a location's add_header drops the server's
    assert "error_page 503 @maintenance;" in site


def test_the_new_options_have_no_short_flag_that_means_something_else_elsewhere():
    flags = {name: {a.name: a.names for a in ns[name].get_arguments()}
             for name in ("maintenance", "restore-db")}  # fmt: skip
    assert flags["maintenance"] == {"state": ("state",), "scope": ("scope",),
                                    "message": ("message", "m"), "dry_run": ("dry-run", "d")}  # fmt: skip
    assert flags["restore-db"]["maintenance"] == ("maintenance",)
    assert flags["restore-db"]["yes"] == ("yes", "y")


@pytest.mark.parametrize(
    ("argv", "state"),
    [(["maintenance"], None), (["maintenance", "on", "-m", "x"], "on"),
     (["maintenance", "--scope=api", "off"], "off")],
)  # fmt: skip
def test_the_state_may_be_left_out(argv, state):
    from invoke.parser import Parser

    (parsed,) = Parser(contexts=ns.to_contexts()).parse_argv(argv)
    assert parsed.args["state"].value == state
