"""The command builders, run for real in a local bash where they are self-contained."""

import re
import subprocess

import pytest

from tasks import shell
from tasks.errors import ConfigError


def bash(cmd: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, capture_output=True, text=True
    )


def test_values_are_quoted():
    assert shell.cd("/app/my dir", "ls") == "cd -- '/app/my dir' && ls"
    with pytest.raises(ConfigError, match="systemd 유닛 이름 형식이 아닙니다"):  # a name: checked
        shell.systemctl("stop", "a;rm -rf /")


def test_pull_is_fast_forward_only_and_refuses_an_edited_checkout():
    assert shell.git_pull("/app/backend", "origin", "main", fetch_first=True) == (
        f"cd -- /app/backend && {{ {shell.EDITED_CHECK}; }} && "
        "git fetch origin && git pull --ff-only origin main"
    )


def test_an_edited_checkout_is_refused_before_the_pull(tmp_path):
    import subprocess

    def git(*args, cwd=tmp_path / "work"):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    (tmp_path / "work").mkdir()
    git("init", "-q", "-b", "main")
    (tmp_path / "work" / "f").write_text("1\n")
    git("add", "f")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    git("clone", "-q", str(tmp_path / "work"), str(tmp_path / "co"), cwd=tmp_path)
    pull = shell.git_pull(str(tmp_path / "co"), "origin", "main")
    ok = subprocess.run(["bash", "-c", pull], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "co" / "f").write_text("edited\n")
    res = subprocess.run(["bash", "-c", pull], capture_output=True, text=True)
    assert res.returncode == 1 and "changed on the host" in res.stderr and " M f" in res.stderr


@pytest.mark.parametrize(
    ("env", "example", "ok", "says"),
    [
        ("A=1\nexport B=2\n", "A=\nB=\n", True, "키가 모두 일치합니다"),
        ("A=1\nB=2\nEXTRA=3\n", "A=\nB=\n", True, ".env에만 있는 키 (문제 없음): EXTRA"),
        ("A=1\n# B=2\n", "A=\nB=\n", False, ".env에 없는 키: B"),
        ("A=1\n", None, True, "비교할 것이 없습니다"),
    ],
)
def test_env_keys_diff(tmp_path, env, example, ok, says):
    (tmp_path / ".env").write_text(env + "SECRET=value-never-shown\n")
    if example is not None:
        (tmp_path / ".env.example").write_text(example)
    res = bash(shell.env_keys_diff(".env", ".env.example"), cwd=tmp_path)
    assert (res.returncode == 0) is ok
    assert says in res.stdout + res.stderr
    assert "value-never-shown" not in res.stdout + res.stderr


def test_keep_newest(tmp_path):
    for i in range(5):
        d = tmp_path / f"backup_{i}"
        d.mkdir()
        subprocess.run(["touch", "-d", f"2026-01-0{i + 1}", str(d)], check=True)
    assert bash(shell.keep_newest(str(tmp_path), "backup_", 2)).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup_3", "backup_4"]


def test_smoke_spec_is_validated():
    with pytest.raises(ConfigError, match="스모크 요청 #1에 url이나 path가 없습니다"):
        shell.smoke([{"method": "GET"}])


def test_smoke_against_a_local_server(tmp_path):
    import http.server
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 200 if self.path == "/ok" else 500
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"status":"UP"}')

        do_POST = do_GET

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    try:
        good = shell.smoke(
            [
                {"url": f"{base}/ok", "expect": "UP"},
                {"method": "POST", "url": f"{base}/ok", "body": {"t": "계약서"}},
            ]
        )
        assert bash(good).returncode == 0
        assert bash(shell.smoke([{"url": f"{base}/ok", "expect": "DOWN"}])).returncode != 0
        bad = bash(shell.smoke([{"url": f"{base}/broken"}]))
        assert bad.returncode != 0 and "FAILED GET" in bad.stderr
        assert bash(shell.health(f"{base}/ok", "UP")).returncode == 0
        assert bash(shell.health(f"{base}/broken", "UP")).returncode != 0
    finally:
        srv.shutdown()


def test_env_keys_diff_against_the_revision_to_deploy(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (tmp_path / ".env.example").write_text("A=\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    (tmp_path / ".env.example").write_text("A=\nNEW_KEY=\n")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    git("checkout", "-q", "HEAD~1")  # the host still has the old checkout
    (tmp_path / ".env").write_text("A=1\n")
    new = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()
    res = bash(shell.env_keys_diff(".env", ".env.example", at_rev=new), cwd=tmp_path)
    assert res.returncode != 0 and "NEW_KEY" in res.stderr
    assert bash(shell.env_keys_diff(".env", ".env.example"), cwd=tmp_path).returncode == 0


def test_revisions_are_never_git_options(tmp_path):
    """git_reset_to resolves the revision after --end-of-options (git 2.39's `reset`
    refuses that flag itself), then resets to the commit id; a `-x` revision is refused."""

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    git("init", "-q", "-b", "main")
    for n in ("one", "two"):
        (tmp_path / "f").write_text(n)
        git("add", "f")
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", n)
    first, head = git("rev-parse", "HEAD~1"), git("rev-parse", "HEAD")
    for bad in ("--output=/tmp/x", "-p", "$(id)", "<직전 배포 리비전>"):
        res = bash(shell.git_reset_to(str(tmp_path), bad))
        assert res.returncode == 1 and f"이 체크아웃에 커밋 {bad}이(가) 없습니다" in res.stderr
        assert git("rev-parse", "HEAD") == head
    res = bash(shell.git_changed(str(tmp_path), "--output=x", head, ["f"]))
    assert res.returncode != 0 and not (tmp_path / "x").exists()
    assert bash(shell.git_changed(str(tmp_path), first, head, ["f"])).stdout.strip() == "f"
    assert bash(shell.git_reset_to(str(tmp_path), first[:7])).returncode == 0
    assert git("rev-parse", "HEAD") == first


def test_a_health_poll_says_how_long_the_start_took_against_its_window(tmp_path):
    """The poll's last line (a step's result, kept in the record): the time the check took to
    pass, against the window; a waiting line about once a second; a failure says the time."""
    ready = tmp_path / "ready"
    check = f"[ -e {shell.q(str(ready))} ]"
    res = subprocess.run(["bash", "-c", f"(sleep 0.5; touch {shell.q(str(ready))}) & "
                          + shell.poll(check, 50, 0.1, 5)], capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    *waits, last = res.stdout.splitlines()
    m = re.fullmatch(r"ok: (\d+)\.(\d)초 만에 정상 \(한도 5초, 0\.1초 간격 (\d+)번째 확인\)", last)
    assert m and 0.4 <= int(m[1]) + int(m[2]) / 10 <= 2, last
    assert waits == ["대기 중... (1/50)"]  # every 10th try at 0.1 s: one line in 0.5 s
    ready.unlink()
    res = subprocess.run(["bash", "-c", shell.poll(check, 3, 0.1)], capture_output=True, text=True)
    assert res.returncode == 1
    assert re.fullmatch(r"3회 연속 실패: 0\.[2-9]초 동안 \(한도 0\.3초\)\n", res.stderr), res.stderr
