"""The manual's second method on the lab: build here, check, send, verify, install.

One lab for the module: the hosts are reset and set up the manual way (`fab setup`, strategy
manual), then the tests run in order, each from the state the previous one left: first the
manual strategy (a host not yet converted), then the release strategy. Every test runs `fab`
as an operator would and checks the hosts itself: what is served, what is on disk, what
pip and systemd say. Faults are put in with tests/build_faults.py (a wrapper around `fab`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.lab import attacks
from tests.lab.site import site
from tests.test_deploy_lab import wait_ready
from tests.test_release_lab import ROOT, Ctx

pytestmark = pytest.mark.lab

FAULTS = Path(__file__).resolve().parent / "build_faults.py"
BASE = "/app/releases"
JAVA11 = "/usr/local/bin/java-11-stub"
NO_INDEX = "printf '[global]\\nno-index = true\\n' > /etc/pip.conf"


class Build(Ctx):
    def faulty(self, fault: str, *args: str, inv: Path | None = None):
        res = subprocess.run([sys.executable, str(FAULTS), fault, *args], cwd=ROOT,
                             env=self.env(inv), capture_output=True, text=True, timeout=900)  # fmt: skip
        print(f"$ fab {' '.join(args)}  (fault: {fault})\n", res.stdout[-6000:], res.stderr[-3000:])
        return res

    def last(self, kind: str = "deploy") -> dict:
        return [r for r in self.records() if r["kind"] == kind][-1]

    def sha256_on(self, host: str, path: str) -> str:
        return self.on(host, f"sha256sum {path}").split()[0]

    def unchanged(self, host: str, command: str):
        """The output of ``command`` on the host, to compare after a refused deploy."""
        return self.on(host, command)


@pytest.fixture(scope="module")
def ctx(lab, tmp_path_factory):
    lab.reset(setup=True)  # `fab setup` with strategy=manual, cached (tests/lab/served.py)
    wait_ready(lab)
    work = tmp_path_factory.mktemp("build-lab")
    c = Build(lab, work, Path(site(lab).ca))
    manual = c.inventory(strategy="manual")
    manual.write_text(manual.read_text() + "\n[gpu:vars]\nstrategy=manual\n")
    c.manual = manual
    return c


def test_manual_backend_built_here_with_only_a_copy_while_it_is_down(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.1.0\n"}, "v1.1.0")
    res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--build-on=local", inv=ctx.manual)
    assert res.returncode == 0, res.stderr
    assert ctx.version("backend") == "1.1.0"
    assert "(B6v) 체크섬 확인" in res.stdout and "gradlew" not in res.stdout.split("(B0)")[1]
    rec = ctx.last()
    art = rec["build"]["artifact"]
    assert rec["build"]["built_on"] == "local" and rec["to"] == rec["build"]["revision"]
    assert art["sha256"] == ctx.sha256_on("cpu", "/app/backend/build/libs/dojangkok.jar")
    assert rec["build"]["target"]["machine"] and "javac" in rec["build"]["built_by"]["tools"]
    assert rec["downtime_seconds"] < 30


def test_a_jar_for_a_newer_java_than_the_host_s_is_refused_before_anything_changes(ctx):
    stub = "#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n"
    assert ctx.lab.run("cpu", f"cat > {JAVA11} && chmod 755 {JAVA11}", input=stub).returncode == 0
    ctx.lab.push_app("backend", {"VERSION": "1.2.0\n"}, "v1.2.0")
    inv = ctx.inventory(strategy="manual", backend_java=JAVA11)
    before = ctx.unchanged("cpu", "stat -c %Y /app/backend/build/libs/dojangkok.jar; "
                                  "git -c safe.directory=/app/backend -C /app/backend rev-parse HEAD; systemctl show -p MainPID dojangkok")  # fmt: skip
    res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--build-on=local", inv=inv)
    assert res.returncode == 1
    assert "class file 61 (Java 17)" in res.stderr and "cpu의 Java는 11입니다" in res.stderr
    res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--build-on=host", inv=inv)
    assert res.returncode == 1
    assert "build.gradle은 Java 17을(를) 요구하는데" in res.stderr and "Java 11" in res.stderr
    assert ctx.unchanged("cpu", "stat -c %Y /app/backend/build/libs/dojangkok.jar; "
                                "git -c safe.directory=/app/backend -C /app/backend rev-parse HEAD; systemctl show -p MainPID dojangkok") == before  # fmt: skip
    assert ctx.version("backend") == "1.1.0"


def test_a_revision_nobody_pushed_is_refused(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "backend"
        subprocess.run(["git", "clone", "-q", str(ctx.lab.git_dir / "backend.git"), str(clone)],
                       check=True)  # fmt: skip
        (clone / "VERSION").write_text("9.9.9-local\n")
        subprocess.run(["git", "-c", "user.name=op", "-c", "user.email=op@x", "commit", "-qam",
                        "not pushed"], cwd=clone, check=True)  # fmt: skip
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
    res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--build-on=local", f"--revision={sha}",
                  inv=ctx.manual)  # fmt: skip
    assert res.returncode == 1
    assert f"리비전 {sha}" in res.stderr and "push하지 않았거나 잘못 적었습니다" in res.stderr
    assert ctx.version("backend") == "1.1.0"


def test_a_checkout_naming_another_origin_is_refused_naming_both(ctx):
    """The local build fetches from backend_repo alone; a host whose checkout names another
    origin (the deploy login can set it) is refused, naming both, before anything changes,
    here or there. The same repository with the git daemon's port written out, or without
    .git (the daemon serves it under both), passes the host-side check (it compares loosely)
    and the host's own fetch, not this one; another repository is refused too. (An origin
    the host cannot fetch from stops earlier, at the host's fetch.)"""
    ip, mirror = ctx.lab.operator_ip, Path.home() / ".cache/dojangkok-deploy/git/backend.git"
    repo = f"git://{ip}/backend.git"  # the inventory's (tests/lab/keys.py)
    state = ("stat -c %Y /app/backend/build/libs/dojangkok.jar; git -c safe.directory=/app/backend -C /app/backend rev-parse HEAD; "
             "systemctl show -p MainPID dojangkok; ls -A /var/lib/dojangkok-deploy; "
             "ls -A /var/lib/dojangkok-deploy/incoming 2>/dev/null")  # fmt: skip
    before, fetched = ctx.unchanged("cpu", state), (mirror / "FETCH_HEAD").stat().st_mtime
    ran = len(ctx.records())
    runs = {}
    try:
        for other in (f"git://{ip}:9418/backend.git", f"git://{ip}/backend",
                      f"git://{ip}/frontend.git"):  # fmt: skip
            set_url = f"git -C /app/backend remote set-url origin {other}"
            assert ctx.lab.run("cpu", set_url, user="deploy").returncode == 0
            runs[other] = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--build-on=local",
                                  inv=ctx.manual)  # fmt: skip
    finally:
        ctx.lab.run("cpu", f"git -C /app/backend remote set-url origin {repo}", user="deploy")
    unchanged = ctx.unchanged("cpu", state) == before
    nothing_fetched = (mirror / "FETCH_HEAD").stat().st_mtime == fetched
    results = [r["result"] for r in ctx.records()[ran:]]
    for other, res in runs.items():
        said = [ln for ln in res.stderr.splitlines() if ln.startswith("ERROR:")]
        attacks.record(
            ctx.lab, 8, f"origin {other}",
            did=f"`git -C /app/backend remote set-url origin {other}` (the inventory's "
                f"backend_repo: {repo}), then an operator's `fab deploy-backend --build-on=local`",
            tool=attacks.outcome(res.returncode, res.stdout + res.stderr)
            + ("; no local build step ran" if "(L1)" not in res.stdout else "; the local build ran"),
            saw=said[0][:300] if said else "",
            after=["the host's jar, checkout revision, service and state directory unchanged"
                   if unchanged else "the host changed",
                   "nothing fetched on the operator's machine" if nothing_fetched
                   else "the operator's machine fetched", f"records: {', '.join(results)}"],
            problems=([] if res.returncode == 1 else [f"exit {res.returncode}"])
            + ([] if "(L1)" not in res.stdout else ["the local build ran"])
            + ([] if unchanged else ["the host changed"])
            + ([] if nothing_fetched else ["fetched from the host's origin"]),
        )  # fmt: skip
    for other, res in runs.items():
        assert res.returncode == 1
        if "frontend" not in other:
            assert f"origin은 {other}인데 backend_repo은 {repo}입니다" in res.stderr
            assert "아무것도 바꾸지 않았습니다" in res.stderr and "remote set-url" in res.stderr
        else:  # the host-side check: not this component's repository at all
            assert f"{repo}(backend_repo)에서 받은 체크아웃" in res.stderr
        assert "(L1)" not in res.stdout  # no step of the local build ran
    assert unchanged
    assert nothing_fetched
    assert ctx.version("backend") == "1.1.0"
    assert results == ["refused"] * 3
    # the host's history, appended to by these runs: the deploy login's alone
    assert ctx.on("cpu", "stat -c '%a %U' /var/lib/dojangkok-deploy/history.jsonl") == "600 deploy"


def test_release_backend_built_here_with_its_checksum_in_the_release(ctx):
    res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--build-on=local")  # converts the host
    assert res.returncode == 0, res.stderr
    assert ctx.version("backend") == "1.2.0"
    info = json.loads(ctx.on("cpu", f"cat {BASE}/backend/current/.release.json"))
    assert info["built_on"] == "local"
    assert info["build"]["artifact"]["sha256"] == ctx.sha256_on(
        "cpu", f"{BASE}/backend/current/app.jar"
    )
    assert (
        ctx.lab.run("cpu", f"test -e {BASE}/backend/current/build").returncode != 0
    )  # no build there
    assert ctx.last()["build"]["sent_bytes"] == info["build"]["artifact"]["size"]


def test_a_corrupted_upload_is_refused_before_anything_switches(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.3.0\n"}, "v1.3.0")
    upstream = ctx.on("cpu", "cat /etc/dojangkok-deploy/switch/backend.nft")  # the live port
    res = ctx.faulty("corrupt-upload", "-H", "cpu", "deploy-backend", "--yes", "--build-on=local")
    assert res.returncode == 1
    assert "B8v 체크섬 확인" in res.stderr and "호스트의 파일이 빌드와 다릅니다" in res.stdout
    assert ctx.on("cpu", "cat /etc/dojangkok-deploy/switch/backend.nft") == upstream
    assert ctx.version("backend") == "1.2.0"
    assert ctx.releases("backend")[-1]["status"] == "실패"


def test_release_frontend_sends_only_what_changed(ctx):
    # a vendor bundle (~1.3 MB, as the bench's): the sample's own build is a few kB, where
    # rsync's fixed cost alone would be more than 5 % of it
    vendor = "".join(f"const v{i} = {i * 7919 % 100003};\n" for i in range(60000))
    ctx.lab.push_app("frontend", {"VERSION": "1.1.0\n", "public/vendor.js": vendor}, "v1.1.0")
    res = ctx.fab("-H", "cpu", "deploy-frontend", "--yes", "--build-on=local")
    assert res.returncode == 0, res.stderr
    assert ctx.version("frontend") == "1.1.0"
    first = ctx.last()["build"]
    ctx.lab.push_app("frontend", {"NOTES.md": "nothing the build reads\n"}, "docs only")
    res = ctx.fab("-H", "cpu", "deploy-frontend", "--yes", "--build-on=local")
    assert res.returncode == 0, res.stderr
    again = ctx.last()["build"]
    assert again["artifact"]["sha256"] == first["artifact"]["sha256"]  # the same build
    assert again["sent_bytes"] <= first["artifact"]["size"] * 0.05, (again, first)  # the target
    rels = ctx.releases("frontend")
    old, new = (f"{BASE}/frontend/releases/{r['release']}/build/index.html" for r in rels[-2:])
    assert ctx.on("cpu", f"stat -c %i {old}") == ctx.on("cpu", f"stat -c %i {new}")  # linked


def test_an_ai_host_without_a_package_index(ctx):
    ctx.on("gpu", NO_INDEX)
    ctx.lab.push_app("ai", {"VERSION": "1.1.0\n",
                            "requirements.txt": "fastapi==0.165.0\nuvicorn==0.54.0\nsix==1.17.0\n"},
                     "v1.1.0 needs six")  # fmt: skip
    pid = ctx.on("gpu", "systemctl show -p MainPID --value fastapi")
    res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", "--build-on=host", inv=ctx.manual)
    assert res.returncode == 1
    assert (
        "AI requirements를 설치할 수 없습니다" in res.stderr
        and "gpu에서" in res.stderr
        and "six" in res.stderr
    )
    assert "--build-on=local" in res.stderr
    assert ctx.on("gpu", "systemctl show -p MainPID --value fastapi") == pid  # never stopped
    assert ctx.version("ai") == "1.0.0"
    res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", "--build-on=local", inv=ctx.manual)
    assert res.returncode == 0, res.stderr
    assert ctx.version("ai") == "1.1.0"
    ctx.on("gpu", "/app/ai-server/venv/bin/python -c 'import six'")
    ctx.lab.push_app("ai", {"VERSION": "1.2.0\n"}, "v1.2.0")
    res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", "--build-on=local")  # converts the host
    assert res.returncode == 0, res.stderr
    assert ctx.version("ai") == "1.2.0"
    ctx.on("gpu", f"{BASE}/ai/current/venv/bin/python -c 'import six, fastapi'")
    assert ctx.on("gpu", "cat /etc/pip.conf").startswith("[global]\nno-index = true")


def test_a_wheelhouse_for_another_python_is_refused(ctx):
    ctx.lab.push_app("ai", {"VERSION": "1.3.0\n",
                            "requirements.txt": "fastapi==0.165.0\nuvicorn==0.54.0\n"}, "v1.3.0")  # fmt: skip
    res = ctx.faulty("python-3.12", "-H", "gpu", "deploy-ai", "--yes", "--build-on=local")
    assert res.returncode == 1
    assert "cp312-cp312" in res.stderr and "gpu의 Python 3.11 (cp311" in res.stderr
    assert ctx.version("ai") == "1.2.0"
    assert "(C3s)" not in res.stdout  # refused before anything was sent
