"""The deploy tasks end to end on the lab's real hosts, checked independently.

Every test runs `fab` as an operator would (a subprocess, the lab's inventory and .env) and
then looks at the hosts itself: what is served over HTTP, what systemd says, what is on disk.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest
import requests

from tests import conftest
from tests.lab import fabrun, leaks
from tests.lab.fabrun import MANUAL, ROOT, SMOKE_NOTES_URL, invocation, polling
from tests.lab.faults import Fault
from tests.lab.site import site

pytestmark = pytest.mark.lab

# The manual strategy (these tests hold the manual's steps; test_release_lab.py the
# release one), and faster polling than the manual's 12 × 5 s: a failing check costs seconds.
FAST = MANUAL + polling(20) + SMOKE_NOTES_URL


def checkout_head(lab, host: str, checkout: str) -> str:
    """The checkout's revision, read as the deploy login that owns it (root's git refuses)."""
    res = lab.run(host, f"git -C {checkout} rev-parse HEAD", user="deploy")
    assert res.returncode == 0 and len(res.stdout.strip()) == 40, res.stderr
    return res.stdout


def inventory(lab, tmp_path: Path, extra: str = FAST, **host_vars: str) -> Path:
    """The lab's inventory with extra sections and cpu host vars."""
    return lab.write_inventory(tmp_path / "hosts.ini", extra, **host_vars)


def env_file(lab, tmp_path: Path, **changes: str | None) -> Path:
    values = lab.env()
    for k, v in changes.items():
        if v is None:
            values.pop(k, None)
        else:
            values[k] = v
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return path


def fab(lab, tmp_path: Path, *args: str, inv: Path | None = None, env: Path | None = None,
        raw: Path | None = None, leak: bool = False):  # fmt: skip
    """`fab` as an operator runs it (``raw``, ``leak``: tests/lab/fabrun.py)."""
    inv = inv or inventory(lab, tmp_path)
    return fabrun.fab(lab, tmp_path, *args, inv=inv, env=env, raw=raw, leak=leak)


def served(lab) -> dict[str, str]:
    """The version each component serves, asked over the lab network (HTTPS through nginx
    for the frontend and the backend: the backend's unit admits only localhost)."""
    return wait_ready(lab, timeout=10)


def wait_ready(lab, timeout: float = 90) -> dict[str, str]:
    """Wait until every component answers (a freshly booted backend takes ~5 s to start)."""
    return conftest.served(lab, timeout)


def notes_url(lab) -> str:
    return site(lab, "/api/notes").url


def ca(lab) -> str:
    return site(lab).ca


@pytest.fixture
def ready_lab(served_lab):
    """Hosts as `fab setup` left them, every component answering."""
    return served_lab


def assert_no_secrets(lab, *texts: str) -> None:
    """No secret of the lab's .env in any of ``texts`` (a failure names key and text, only)."""
    found = leaks.leaks(leaks.secrets_of(lab), {f"text {i}": t for i, t in enumerate(texts)})
    assert not found, found


def watched_channels(lab, tmp_path: Path, watch: leaks.Watch, raw: Path, *results) -> dict:
    """Every channel of a watched run: the raw output (before masking), what fab printed,
    the local history, and the watch's process lists, journals and host histories."""
    channels = dict(watch.channels)
    channels["raw output (before masking)"] = raw.read_text()
    empty = [name for name, text in channels.items() if not text.strip()]
    assert not empty, f"channels with nothing in them (a watch that sees nothing): {empty}"
    channels["printed output"] = "".join(r.stdout + r.stderr for r in results)
    local = tmp_path / "history.jsonl"
    channels[f"local history ({local.name})"] = local.read_text() if local.exists() else ""
    return channels


def assert_history_files_private(watch: leaks.Watch) -> None:
    for host, st in watch.history_stat.items():
        assert st == "600 deploy", f"{host}: {leaks.HISTORY} is {st!r}, want '600 deploy'"


def test_full_deploy_then_every_rollback(ready_lab, tmp_path, cpu_host, gpu_host):
    lab = ready_lab
    note = requests.post(
        notes_url(lab), json={"text": "계약 메모 before"}, verify=ca(lab), timeout=10
    )
    assert note.status_code == 201
    for app in ("frontend", "backend", "ai"):
        lab.push_app(app, {"VERSION": "1.1.0\n"}, "v1.1.0")

    raw = tmp_path / "raw-output.txt"
    with leaks.Watch(lab, tmp_path) as watch:
        res = fab(lab, tmp_path, "full-deploy", "--yes", raw=raw)
    assert res.returncode == 0, res.stderr
    assert "전체 배포 결과" in res.stdout and "다운타임" in res.stdout
    # leaks: no secret in the raw output, the process lists (sampled every 100 ms on both
    # hosts), the journals, the history files (host and local); the test that proves each
    # of these channels sees a leak: test_the_leak_detectors_fire
    assert min(watch.samples.values()) > 50, watch.samples
    found = leaks.leaks(leaks.secrets_of(lab), watched_channels(lab, tmp_path, watch, raw, res))
    assert not found, found
    assert_history_files_private(watch)
    assert served(lab) == {"frontend": "1.1.0", "backend": "1.1.0", "ai": "1.1.0"}
    assert cpu_host.service("dojangkok").is_running and cpu_host.service("nginx").is_running
    assert gpu_host.service("fastapi").is_running

    # the backup step made a real, complete, private dump that holds the data
    dumps = cpu_host.check_output("ls -1 /app/backups/backup_*.sql.gz").split()
    assert len(dumps) == 1
    assert cpu_host.file(dumps[0]).mode == 0o600
    dump = cpu_host.check_output(f"zcat {dumps[0]}")
    assert "Dump completed" in dump.splitlines()[-1] and "계약 메모 before" in dump
    notes = requests.get(notes_url(lab), verify=ca(lab), timeout=10).json()
    assert "계약 메모 before" in [n["text"] for n in notes]

    history = (tmp_path / "history.jsonl").read_text()
    records = [json.loads(line) for line in history.splitlines()]
    assert [(r["component"], r["result"]) for r in records] == [
        ("frontend", "ok"), ("backend", "ok"), ("ai", "ok")
    ]  # fmt: skip
    assert records[1]["downtime_seconds"] > 0 and records[1]["yes"] is True
    remote = cpu_host.check_output("cat /var/lib/dojangkok-deploy/history.jsonl")
    assert_no_secrets(lab, res.stdout, res.stderr, history, remote)

    for host, comp in (("cpu", "backend"), ("cpu", "frontend"), ("gpu", "ai")):
        back = fab(lab, tmp_path, "-H", host, f"rollback-{comp}", "--yes")
        assert back.returncode == 0, back.stderr
    assert served(lab) == {"frontend": "1.0.0", "backend": "1.0.0", "ai": "1.0.0"}
    assert " 롤백 " in fab(lab, tmp_path, "history").stdout  # the rollbacks: the task column
    assert fab(lab, tmp_path, "health").returncode == 0


@pytest.fixture(scope="module")
def backend_lab(lab):
    lab.reset(setup=True)
    wait_ready(lab)
    return lab


@pytest.mark.parametrize(
    ("fault", "failed_step"),
    [
        ("build", "B8 Gradle 빌드 실패"),
        ("start", "B10 헬스체크 실패"),
        ("health", "B10 헬스체크 실패"),
    ],
)
def test_backend_fault_rolls_back_to_the_running_version(backend_lab, tmp_path, fault, failed_step):
    lab = backend_lab
    before = served(lab)["backend"]
    lab.push_app("backend", {"VERSION": "9.9.9\n", "BREAK": fault}, f"broken: {fault}")
    inv = inventory(lab, tmp_path, FAST, backend_health_tries="8")
    number = {"build": 1, "start": 2, "health": 3}[fault]
    with Fault(lab, number, f"backend BREAK={fault}", tmp_path / "history.jsonl") as check:
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
        # the manual strategy stops the backend for its build: down for the build, the
        # failed start or health check, and the old version's start-up
        check.check(res.returncode, res.stdout + res.stderr, cause=failed_step, max_down=120)
    assert res.returncode == 1
    assert failed_step in res.stdout + res.stderr and "롤백 시작" in res.stdout
    assert "이전 버전으로 롤백했습니다" in res.stderr
    assert served(lab)["backend"] == before
    assert lab.run("cpu", "systemctl is-active dojangkok").stdout.strip() == "active"
    (record,) = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert record["result"] == "rolled-back" and record["rolled_back"] is True


def test_backend_fixed_after_faults_deploys(backend_lab, tmp_path):
    lab = backend_lab
    lab.push_app("backend", {"VERSION": "1.2.0\n", "BREAK": None}, "fixed")
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes")
    assert res.returncode == 0, res.stderr
    assert served(lab)["backend"] == "1.2.0"


def test_backup_failure_stops_before_the_service_is_touched(ready_lab, tmp_path):
    lab = ready_lab
    run_id = invocation(lab, "cpu", "dojangkok")
    head = checkout_head(lab, "cpu", "/app/backend")
    lab.push_app("backend", {"VERSION": "7.0.0\n"}, "v7")
    env = env_file(lab, tmp_path, DB_BACKUP_PASSWORD="wrong-password-1")  # the backup account's
    with Fault(lab, 4, "wrong database password", tmp_path / "history.jsonl") as check:
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", env=env)
        check.check(res.returncode, res.stdout + res.stderr, cause="B3 MySQL 백업 실패")
    assert res.returncode == 1
    assert "B3 MySQL 백업 실패" in res.stderr and "백업 실패 시 배포 중단" in res.stderr
    assert invocation(lab, "cpu", "dojangkok") == run_id
    assert checkout_head(lab, "cpu", "/app/backend") == head
    assert "wrong-password-1" not in res.stdout + res.stderr
    # no half-written dump and no option file with the password left behind
    listing = lab.run("cpu", "ls /app/backups /var/lib/dojangkok-deploy -a").stdout
    assert ".my.cnf" not in listing


def test_missing_secret_is_named_before_any_host_is_touched(ready_lab, tmp_path):
    lab = ready_lab
    run_id = invocation(lab, "cpu", "dojangkok")
    env = env_file(lab, tmp_path, DB_BACKUP_PASSWORD=None)
    with Fault(lab, 10, "the operator's .env lacks DB_BACKUP_PASSWORD",
               tmp_path / "history.jsonl") as check:  # fmt: skip
        res = fab(lab, tmp_path, "full-deploy", "--yes", env=env)
        check.check(res.returncode, res.stdout + res.stderr, cause="DB_BACKUP_PASSWORD")
    assert res.returncode == 1
    assert "DB_BACKUP_PASSWORD: " in res.stderr and "에 없습니다" in res.stderr
    assert "도장콕 프론트엔드 배포" not in res.stdout  # stopped before the first host
    assert invocation(lab, "cpu", "dojangkok") == run_id


def test_dry_run_changes_nothing(ready_lab, tmp_path):
    lab = ready_lab
    lab.push_app("backend", {"VERSION": "3.0.0\n"}, "v3")
    run_id = invocation(lab, "cpu", "dojangkok")
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "./gradlew clean build -x test" in res.stdout and "DRY RUN" in res.stdout
    assert invocation(lab, "cpu", "dojangkok") == run_id
    kinds = [json.loads(x)["kind"] for x in
             lab.run("cpu", "cat /var/lib/dojangkok-deploy/history.jsonl").stdout.splitlines()]  # fmt: skip
    assert "deploy" not in kinds  # setup's record only
    assert served(lab)["backend"] == "1.0.0"
    assert not (tmp_path / "history.jsonl").exists()


def test_frontend_faults(ready_lab, tmp_path):
    lab = ready_lab
    lab.push_app("frontend", {"VERSION": "2.0.0\n", "BREAK": "build"}, "broken build")
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 1 and "A3 프로덕션 빌드 실패" in res.stderr
    assert served(lab)["frontend"] == "1.0.0"  # the old build kept serving

    lab.push_app("frontend", {"VERSION": "2.0.1\n", "BREAK": "health"}, "no index.html")
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 1 and "A4 빌드 파일 배포 실패" in res.stdout + res.stderr
    assert "복원할 백업" in res.stdout
    assert served(lab)["frontend"] == "1.0.0"


def test_ai_faults(ready_lab, tmp_path):
    lab = ready_lab
    lab.push_app("ai", {"VERSION": "2.0.0\n", "BREAK": "start"}, "crashes at start")
    res = fab(lab, tmp_path, "-H", "gpu", "deploy-ai", "--yes")
    assert res.returncode == 1 and "C6 헬스체크 실패" in res.stdout + res.stderr
    assert served(lab)["ai"] == "1.0.0"

    reqs = (ROOT / "tests/apps/ai/requirements.txt").read_text()
    lab.push_app(
        "ai",
        {"VERSION": "2.0.1\n", "BREAK": None,
         "requirements.txt": reqs + "dojangkok-missing-package==0.0.0\n"},
        "needs a package the wheelhouse lacks",
    )  # fmt: skip
    head = checkout_head(lab, "gpu", "/app/ai-server")
    res = fab(lab, tmp_path, "-H", "gpu", "deploy-ai", "--yes")
    # Found before the host changes (L3, the host build's runtime check: pip's dry run
    # against the host's index), no longer in C4 after the pull (manual C4's retry after
    # cleanup: tests/unit/test_runner.py)
    assert res.returncode == 1 and "(L3) 런타임 확인 (호스트 빌드)" in res.stdout
    assert "dojangkok-missing-package" in res.stdout + res.stderr
    assert "(C4)" not in res.stdout and "(C5)" not in res.stdout
    assert checkout_head(lab, "gpu", "/app/ai-server") == head
    assert served(lab)["ai"] == "1.0.0"


def test_env_key_missing_stops_before_anything_changes(ready_lab, tmp_path):
    lab = ready_lab
    example = (ROOT / "tests/apps/backend/.env.example").read_text()
    lab.push_app("backend", {".env.example": example + "NEW_REQUIRED_KEY=\n"}, "new key")
    head = checkout_head(lab, "cpu", "/app/backend")
    with Fault(lab, 10, "the host's .env lacks a key the new .env.example has",
               tmp_path / "history.jsonl") as check:  # fmt: skip
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes")
        check.check(res.returncode, res.stdout + res.stderr, cause="NEW_REQUIRED_KEY")
    assert res.returncode == 1
    assert "NEW_REQUIRED_KEY" in res.stdout and "체크리스트" in res.stderr
    assert checkout_head(lab, "cpu", "/app/backend") == head


def test_host_keys_are_checked(ready_lab, tmp_path):
    lab = ready_lab
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with Fault(lab, 11, "host key unknown", tmp_path / "history.jsonl") as check:
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-frontend", "--yes",
                  inv=inventory(lab, tmp_path, FAST, known_hosts_file=str(empty)))  # fmt: skip
        check.check(res.returncode, res.stderr, cause="호스트 키를 모릅니다: 연결하지 않습니다")
    assert res.returncode == 1 and "호스트 키를 모릅니다: 연결하지 않습니다" in res.stderr

    # cpu's address with gpu's key: a changed host key
    gpu = f"gpu,{lab.addresses['gpu']} "
    (key,) = [
        ln[len(gpu) :] for ln in lab.known_hosts.read_text().splitlines() if ln.startswith(gpu)
    ]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"{lab.addresses['cpu']} {key}\n")
    with Fault(lab, 11, "host key changed", tmp_path / "history.jsonl") as check:
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-frontend", "--yes",
                  inv=inventory(lab, tmp_path, FAST, known_hosts_file=str(wrong)))  # fmt: skip
        check.check(res.returncode, res.stderr, cause="호스트 키가 바뀌었습니다")
    assert res.returncode == 1 and "호스트 키가 바뀌었습니다" in res.stderr


def test_sudo_with_a_password(ready_lab, tmp_path):
    """The admin login's sudo password (sudo_password_env): push-config reads the config as
    root over the admin login (deploypw here, sudo with a password); a wrong one stops it."""
    lab = ready_lab
    inv = inventory(lab, tmp_path, FAST, sudo_password_env="LAB_SUDO_PASSWORD")
    inv.write_text(inv.read_text() + "\n[all:vars]\nadmin_user=deploypw\n")
    res = fab(lab, tmp_path, "-H", "cpu", "push-config", "--dry-run", inv=inv)
    assert res.returncode == 0, res.stderr
    assert_no_secrets(lab, res.stdout, res.stderr)

    env = env_file(lab, tmp_path, LAB_SUDO_PASSWORD="not-the-password")
    res = fab(lab, tmp_path, "-H", "cpu", "push-config", "--dry-run", inv=inv, env=env)
    assert res.returncode == 1 and "incorrect password" in res.stderr, res.stderr
    assert "not-the-password" not in res.stdout + res.stderr


@pytest.fixture
def webhook():
    posts = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/api/webhooks/42/secret-token", posts
    srv.shutdown()


def test_discord_notices(ready_lab, tmp_path, webhook):
    lab = ready_lab
    url, posts = webhook
    env = env_file(lab, tmp_path, DISCORD_WEBHOOK_URL=url)
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", env=env)
    assert res.returncode == 0, res.stderr
    heads = [p["content"].splitlines()[0] for p in posts]  # the manual's line; facts below
    assert heads[0] == "배포 시작합니다 (예상 12분)" and "배포 완료" in heads
    history = (tmp_path / "history.jsonl").read_text()
    assert "secret-token" not in res.stdout + res.stderr + history


def test_health_reports_a_stopped_service(ready_lab, tmp_path):
    lab = ready_lab
    lab.run("gpu", "systemctl stop fastapi")
    try:
        res = fab(lab, tmp_path, "health")
        assert res.returncode == 1 and "비정상" in res.stdout
    finally:
        lab.run("gpu", "systemctl start fastapi")


def test_restore_db_brings_back_the_backup_and_keeps_the_present(ready_lab, tmp_path):
    lab = ready_lab
    notes = notes_url(lab)
    requests.post(notes, json={"text": "kept in the backup"}, verify=ca(lab),
                  timeout=10).raise_for_status()  # fmt: skip
    raw = tmp_path / "raw-output.txt"
    with leaks.Watch(lab, tmp_path) as watch:  # a backup and a restore, watched for leaks
        backup = fab(lab, tmp_path, "-H", "cpu", "backup-db", raw=raw)
        assert backup.returncode == 0, backup.stderr
        first = lab.run("cpu", "ls -1t /app/backups/backup_*.sql.gz | head -1").stdout.strip()
        requests.post(notes, json={"text": "written after the backup"}, verify=ca(lab),
                      timeout=10).raise_for_status()  # fmt: skip
        res = fab(lab, tmp_path, "-H", "cpu", "restore-db", f"--backup={first}", "--yes", raw=raw)
    assert res.returncode == 0, res.stderr
    found = leaks.leaks(
        leaks.secrets_of(lab), watched_channels(lab, tmp_path, watch, raw, backup, res)
    )
    assert not found, found
    assert_history_files_private(watch)
    texts = [n["text"] for n in requests.get(notes, verify=ca(lab), timeout=10).json()]
    assert "kept in the backup" in texts and "written after the backup" not in texts
    # the data the restore replaced was dumped first, so the restore can be undone
    safety = res.stdout.split("복원 전 데이터: ")[1].split()[0]
    assert safety != first and "written after the backup" in lab.run("cpu", f"zcat {safety}").stdout
    assert_no_secrets(lab, res.stdout, res.stderr)

    res = fab(
        lab, tmp_path, "-H", "cpu", "restore-db", "--backup=/app/backups/nope.sql.gz", "--yes"
    )
    assert res.returncode == 1 and "BD1 복원할 백업 확인 실패" in res.stderr
    texts = [n["text"] for n in requests.get(notes, verify=ca(lab), timeout=10).json()]
    assert "kept in the backup" in texts  # nothing was touched


def test_the_leak_detectors_fire(ready_lab, tmp_path):
    """The leak checks above can fail: a deliberately broken tool (tests/leak_probe.py's
    DOJANGKOK_TEST_LEAK) puts MYSQL_ROOT_PASSWORD in a command line under sudo, prints it
    (the masker hides it from the printed output) and writes it into the history records;
    each channel must see it."""
    lab = ready_lab
    raw = tmp_path / "raw-output.txt"
    with leaks.Watch(lab, tmp_path, hosts=("cpu",)) as watch:
        res = fab(lab, tmp_path, "-H", "cpu", "backup-db", raw=raw, leak=True)
    assert res.returncode == 0, res.stderr
    secret = {"MYSQL_ROOT_PASSWORD": lab.env()["MYSQL_ROOT_PASSWORD"]}
    channels = watched_channels(lab, tmp_path, watch, raw, res)
    seen = {name for name, text in channels.items() if leaks.leaks(secret, {name: text})}
    assert seen >= {
        "raw output (before masking)",
        "process list of cpu",
        "journal of cpu",
        "local history (history.jsonl)",
        f"history of cpu ({leaks.HISTORY})",
    }, sorted(seen)
    assert "printed output" not in seen  # masked: only the raw channel sees the print
