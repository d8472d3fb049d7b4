"""Real hosts that are not only the tool's: a deploy made by hand between two tool deploys,
rollbacks that check what they serve, and the 배포 후 error-log check on a real ERROR line.

Each test starts from the hosts as `fab setup` left them (the cached setup layer).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import served
from tests.test_setup_lab import fab, inventory, on

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent
APP_JAVA = "src/main/java/kr/dojangkok/DojangkokApplication.java"

# The manual's deploy_backend.sh (design-step1.md §B), steps 3–7 as an operator runs them by
# hand on the host: pull, stop, build, start. (Its backup and `diff .env .env.example` are
# left out: the first puts the root password on a command line, the second prints values.)
# The deploy login's root is the tool's helper (setup): `sudo systemctl` goes through it.
AS_ROOT = "sudo -n /usr/local/sbin/dojangkok-root"
BY_HAND = (
    "set -e; cd /app/backend; git fetch origin; git pull origin main; "
    f"{AS_ROOT} systemctl stop dojangkok; ./gradlew clean build -x test; "
    f"{AS_ROOT} systemctl start dojangkok; "
    "up=; for i in $(seq 60); do if curl -fsS localhost:8080/health | grep -q UP; then up=1; "
    'break; fi; sleep 1; done; [ -n "$up" ]'
)


def as_deploy(lab, host: str, command: str) -> str:
    """``command``'s output as the deploy login (git refuses a checkout of another owner)."""
    res = lab.run(host, command, user="deploy", timeout=120)
    assert res.returncode == 0, f"{host}$ {command}\n{res.stdout}\n{res.stderr}"
    return res.stdout.strip()


def version_of(lab) -> str:
    return served(lab, timeout=60)["backend"]


def test_a_deploy_by_hand_between_two_tool_deploys_then_rollbacks(served_lab, tmp_path):
    lab = served_lab
    inv = inventory(lab, tmp_path)
    lab.push_app("backend", {"VERSION": "1.1.0\n"}, "v1.1.0")
    assert fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv).returncode == 0
    assert version_of(lab) == "1.1.0"
    tool_rev = as_deploy(lab, "cpu", "git -C /app/backend rev-parse HEAD")

    # someone deploys 1.2.0 by hand, the manual's way
    lab.push_app("backend", {"VERSION": "1.2.0\n"}, "v1.2.0")
    res = lab.run("cpu", BY_HAND, user="deploy", timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert version_of(lab) == "1.2.0"
    hand_rev = as_deploy(lab, "cpu", "git -C /app/backend rev-parse HEAD")

    # the next tool deploy says plainly that the host is not as it left it
    lab.push_app("backend", {"VERSION": "1.3.0\n"}, "v1.3.0")
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
    assert res.returncode == 0, res.stderr
    assert "도구의 마지막 기록과 다릅니다" in res.stdout
    assert "제공 중인 버전 1.2.0 ≠ 기록 1.1.0" in res.stdout
    assert f"코드(checkout)는 {hand_rev[:12]}인데 기록은 {tool_rev[:12]}" in res.stdout
    assert version_of(lab) == "1.3.0"

    # a rollback goes back to what served before: the hand-deployed 1.2.0, its own jar
    res = fab(lab, tmp_path, "-H", "cpu", "rollback-backend", "--yes", inv=inv)
    assert res.returncode == 0, res.stderr
    assert "의 jar를 복원했습니다" in res.stdout
    assert re.search(r"제공 버전 1\.2\.0: \w+의 기록과 같습니다", res.stdout)
    assert version_of(lab) == "1.2.0"
    assert as_deploy(lab, "cpu", "git -C /app/backend rev-parse HEAD") == hand_rev

    # `ok` only when true: a rollback whose result does not serve the recorded version fails
    record = "/var/lib/dojangkok-deploy/releases/backend.json"
    data = json.loads(on(lab, "cpu", f"cat {record}"))
    assert data["revisions"][hand_rev]["version"] == "1.2.0"
    assert data["revisions"][tool_rev]["version"] == "1.1.0"
    data["revisions"][tool_rev]["version"] = "9.9.9"  # what the record claims, now wrong
    lab.run("cpu", f"cat > {record}", input=json.dumps(data))
    res = fab(lab, tmp_path, "-H", "cpu", "rollback-backend", f"--to={tool_rev}", "--yes",
              inv=inv)  # fmt: skip
    assert res.returncode == 1
    assert (
        "보관된 jar가 없어 다시 빌드합니다" in res.stdout
    )  # 1.1.0's jar was replaced by the hand build: rebuilt
    assert "롤백하려던 버전이 아닙니다" in res.stdout + res.stderr
    assert "R6 제공 버전 확인 실패" in res.stderr
    assert "결과: 성공" not in res.stdout
    assert version_of(lab) == "1.1.0"


def test_the_error_log_check_counts_a_real_error_line(served_lab, tmp_path):
    """배포 후 "에러 로그 확인" reads the journal as the deploy login, which setup put in
    systemd-journal (no root): a real ERROR line the service logged is counted."""
    lab = served_lab
    src = (ROOT / "tests" / "apps" / "backend" / APP_JAVA).read_text()
    marker = 'Log.info("Web server started on port "'
    assert marker in src
    logged = src.replace(marker, 'Log.error("lab: a real ERROR line from the service"); ' + marker)
    lab.push_app("backend", {"VERSION": "1.0.1\n", APP_JAVA: logged}, "logs an ERROR")
    assert "systemd-journal" in lab.run("cpu", "id -nG", user="deploy").stdout.split()
    res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes")
    assert res.returncode == 0, res.stderr
    (line,) = [x for x in res.stdout.splitlines() if "에러 로그 확인" in x]
    assert re.search(r"ERROR [1-9]\d*건", line), line
    assert "a real ERROR line from the service" in line
