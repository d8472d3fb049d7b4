"""The second method's plans, commands and bookkeeping (tasks/localbuild/): no host, no lab.

The clean checkout is tried on real local git repositories (an origin, a clone with a commit
nobody pushed), since refusing that commit is its whole point.
"""

import dataclasses
import subprocess
from pathlib import Path

import pytest

from tasks.apps.ai import manual as ai
from tasks.apps.ai import release as release_ai
from tasks.apps.backend import manual as backend
from tasks.apps.backend import release as release_backend
from tasks.apps.frontend import manual as frontend
from tasks.apps.frontend import release as release_frontend
from tasks.engine.steps import Kind
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.localbuild import adapt, build_on_for, checkout, ship
from tasks.localbuild.model import Artifact, Build, FileEntry, HostFacts, manifest

from .conftest import make_view


def numbers(plan):
    return [s.number for s in plan.steps]


def local(component="backend", strategy="manual", **kw):
    return make_view(component, strategy=strategy, build_on="local", **kw)


def test_build_on_is_per_component_and_the_flag_wins():
    s = Settings()
    assert build_on_for(s, "backend") == "host"  # the manual's method 1 by default
    s = s.replace(build_on="local", ai_build_on="host")
    assert (build_on_for(s, "backend"), build_on_for(s, "ai")) == ("local", "host")
    assert build_on_for(s, "ai", "local") == "local"
    with pytest.raises(ConfigError, match="build_on 'laptop': 알 수 없는 빌드 위치입니다"):
        build_on_for(s.replace(build_on="laptop"), "frontend")


def test_a_host_build_leaves_every_plan_as_it_was():
    v = make_view("backend")
    plan = backend.plan(v)
    assert adapt(plan, v, "manual") is plan
    assert numbers(backend.plan(v)) == ["0", "1", "2", "3", "4", "5", "6", "6a", "6b", "7", "8",
                                        "9", "10", "11", "12"]  # fmt: skip


def test_manual_backend_sends_and_checks_the_jar_before_the_service_stops():
    v = local("backend")
    plan = backend.plan(v)
    assert numbers(plan) == ["0", "1", "2", "3", "4", "5", "6", "6a", "6b", "6s", "6v", "7", "8",
                             "9", "10", "11", "12"]  # fmt: skip
    text = "\n".join(s.render(v) for s in plan.steps)
    assert "gradlew" not in text  # no build on the host
    assert plan.step("6s").kind is Kind.LOCAL and "SFTP" in plan.step("6s").render(v)
    assert "sha256sum --strict --quiet -c" in plan.step("6v").render(v)
    assert "git merge --ff-only " + v.to_rev in plan.step("5").render(v)
    assert (
        "install -D -m 644" in plan.step("8").render(v) and plan.step("8").policy.name == "ROLLBACK"
    )


def test_manual_frontend_rsyncs_into_the_checkout_s_build_dir_then_step_4_as_before():
    v = local("frontend")
    plan = frontend.plan(v)
    assert numbers(plan) == ["0", "1", "2", "3", "3a", "4", "5", "6"]
    rsync = plan.step("2").render(v)
    assert (
        rsync.startswith("rsync -rlc --protect-args --delete") and ":/app/frontend/build/" in rsync
    )
    assert "--link-dest" not in rsync  # the destination holds the previous build itself
    assert "npm" not in "\n".join(s.render(v) for s in plan.steps)
    assert plan.step("4").render(v) == frontend.plan(make_view("frontend")).step("4").render(v)


def test_manual_ai_installs_from_the_sent_wheels_with_no_index_and_so_does_its_rollback():
    v = local("ai")
    plan = ai.plan(v)
    assert numbers(plan) == ["1", "0", "2", "2a", "3", "3s", "3v", "4", "5", "6", "7"]
    install = plan.step("4").render(v)
    assert "pip install --no-index --find-links /var/lib/dojangkok-deploy/incoming/" in install
    assert plan.step("4").then.name == "ROLLBACK"  # the manual's response stays
    again = ai.rollback_plan(v).step("R2").render(v)
    assert "--no-index --find-links /var/lib/dojangkok-deploy/wheelhouse" in again


def test_release_plans_send_into_the_new_release():
    b = release_backend.build_plan(local("backend", "release"), 8081)
    assert numbers(b)[-3:] == ["8", "8v", "8a"]
    assert "gradlew" not in "\n".join(s.render(local("backend", "release")) for s in b.steps)
    v = local("frontend", "release")
    f = release_frontend.build_plan(v)
    assert "--link-dest=/app/releases/frontend/current/build" in f.step("2").render(v)
    assert numbers(f) == ["0", "1", "1a", "2", "3", "3a", "3b"]
    v = local("ai", "release")
    a = release_ai.build_plan(v)
    assert numbers(a) == ["1", "0", "2", "2a", "3", "3s", "3v", "4", "4a"]
    assert "--no-index" in a.step("4").render(v) and ".complete" in a.step("4").render(v)


def art(kind="tree", n=2) -> Artifact:
    files = tuple(FileEntry(f"static/f{i}.js", f"{i:064x}", 10 * (i + 1)) for i in range(n))
    return Artifact(
        kind, "/tmp/x", files, {"host": "laptop", "os": "Debian", "tools": {}}, "ab" * 32
    )


def test_the_host_checks_every_file_and_nothing_else():
    a = art()
    v = local("frontend", "release").but(build=Build("local", "b" * 40, artifact=a))
    cmd = ship.verify(v)
    assert f"sha256sum --strict --quiet -c {ship.manifest_path(v)}" in cmd
    assert '[ "$n" -eq 2 ]' in cmd and "아무것도 전환하지 않았습니다" in cmd
    assert manifest(a) == f"{0:064x}  static/f0.js\n{1:064x}  static/f1.js\n"
    v = local("ai", "release").but(build=Build("local", "b" * 40, artifact=art("wheelhouse")))
    cmd = ship.verify(v)
    assert "ln -f -- /var/lib/dojangkok-deploy/wheelhouse/" in cmd
    assert "ab" * 32 in cmd and "requirements.txt" in cmd  # the file the wheels were made from


def test_rsync_goes_over_the_tool_s_key_and_known_hosts():
    s = Settings(known_hosts_file="/etc/dk/known_hosts")
    v = local("frontend", "release", settings=s)
    v = v.but(host=dataclasses.replace(v.host, key_file="/k/id", address="2001:db8::5", port=2222))
    cmd = ship.rsync(v)
    for part in ("-p 2222", "-i /k/id", "IdentitiesOnly=yes", "StrictHostKeyChecking=yes",
                 "UserKnownHostsFile=/etc/dk/known_hosts", "deploy@[2001:db8::5]:/app/releases/",
                 "ForwardAgent=no"):  # fmt: skip
        assert part in cmd
    # the inventory's SSH config file, as the tool's own connection reads it; no port given:
    # the SSH config's Port (or 22), as there
    v = v.but(host=dataclasses.replace(v.host, port=22, port_given=False,
                                       settings=s.replace(ssh_config_file="/ops/ssh_config")))  # fmt: skip
    cmd = ship.rsync(v)
    assert "-F /ops/ssh_config" in cmd and "-p " not in cmd


def test_the_record_says_what_was_built_where():
    facts = HostFacts(alias="cpu", os="Ubuntu 24.04 LTS", machine="aarch64", java="openjdk 17")
    rec = Build("local", "b" * 40, "git://o/backend.git", facts=facts, artifact=art("jar", 1),
                sent_bytes=10).record()  # fmt: skip
    assert rec["built_on"] == "local" and rec["revision"] == "b" * 40
    assert rec["artifact"] == {"kind": "jar", "sha256": f"{0:064x}", "size": 10, "files": 1,
                               "requirements_sha256": "ab" * 32}  # fmt: skip
    assert rec["built_by"]["host"] == "laptop" and rec["target"]["machine"] == "aarch64"
    assert rec["sent_bytes"] == 10
    by_host = Build("host", "c" * 40, facts=facts).record()["built_by"]
    assert by_host["host"] == "cpu" and by_host["tools"] == {"java": "openjdk 17"}


def test_the_release_s_info_file_holds_the_build_record():
    import json
    import shlex

    from tasks.strategies.release import layout as release

    v = local("backend", "release").but(build=Build("local", "b" * 40, artifact=art("jar", 1)))
    cmd = release.info(v, "app.jar")
    written = shlex.split(cmd.split(" > ")[0])[-1]  # printf '%s\\n' <the JSON> > .release.json
    data = json.loads(written)
    assert (
        data["build"]["artifact"]["sha256"] == f"{0:064x}"
        and data["build"]["artifact"]["size"] == 10
    )
    assert data["build"]["revision"] == "b" * 40 and data["build"]["built_by"]["host"] == "laptop"


# --- the clean checkout ---------------------------------------------------------------------
def git(*args, cwd=None) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}  # fmt: skip
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip


@pytest.fixture
def origin(tmp_path: Path):
    work = tmp_path / "dev"
    work.mkdir()
    git("init", "-q", cwd=work)
    (work / "VERSION").write_text("1\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", "v1", cwd=work)
    git("clone", "-q", "--bare", str(work), str(tmp_path / "origin.git"))
    git("remote", "add", "origin", str(tmp_path / "origin.git"), cwd=work)
    return work


def view_for(tmp_path, origin_dir, rev="", requested=""):
    s = Settings(build_work_dir=str(tmp_path / "builds"), backend_repo=str(tmp_path / "origin.git"))
    v = local("backend", settings=s, to_rev=rev or git("rev-parse", "HEAD", cwd=origin_dir))
    return v.but(build=Build("local", requested=requested))


def test_a_pushed_revision_is_exported_into_a_clean_work_dir(tmp_path, origin):
    first = git("rev-parse", "HEAD", cwd=origin)
    (origin / "VERSION").write_text("2\n")
    git("commit", "-qam", "v2", cwd=origin)
    git("push", "-q", "origin", "HEAD", cwd=origin)  # the branch is past the revision deployed
    (origin / "DIRTY").write_text("an edit nobody committed\n")
    v = view_for(tmp_path, origin, rev=first)
    assert checkout.revision(v) == first
    out = checkout.real_path(checkout.work(v))
    out.mkdir(parents=True)
    (out / "STALE").write_text("left by an earlier build\n")
    done = subprocess.run(["bash", "-c", checkout.export(v)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / "VERSION").read_text() == "1\n"  # that revision, not the branch's head
    assert not (out / "DIRTY").exists() and not (out / "STALE").exists()
    assert not (out / ".git").exists()


def test_an_unpushed_revision_is_refused(tmp_path, origin):
    (origin / "VERSION").write_text("2\n")
    git("commit", "-qam", "v2, not pushed", cwd=origin)
    sha = git("rev-parse", "HEAD", cwd=origin)
    with pytest.raises(
        ConfigError, match=f"리비전 {sha[:7]}.*에 없습니다: push하지 않았거나 잘못 적었습니다"
    ):
        checkout.revision(view_for(tmp_path, origin, requested=sha[:7]))


def test_a_revision_on_another_branch_is_refused(tmp_path, origin):
    git("checkout", "-qb", "feature", cwd=origin)
    (origin / "VERSION").write_text("3\n")
    git("commit", "-qam", "feature", cwd=origin)
    git("push", "-q", "origin", "feature", cwd=origin)
    sha = git("rev-parse", "HEAD", cwd=origin)
    with pytest.raises(ConfigError, match="있지만 main 브랜치에는 없습니다"):
        checkout.revision(view_for(tmp_path, origin, requested=sha))


def test_no_origin_in_the_inventory_is_a_clear_refusal(tmp_path):
    v = local("backend", settings=Settings(build_work_dir=str(tmp_path))).but(build=Build("local"))
    with pytest.raises(ConfigError, match="backend_repo이 필요합니다") as err:
        checkout.revision(v)
    assert "인벤토리에 backend_repo을 저장소 URL로 적거나" in err.value.fix


def test_the_runbook_has_the_second_method_in_the_manual_s_words():
    from tasks import runbook

    text = runbook.render_reference()
    section = text.split("## L. 배포 방식 2")[1].split("\n## ")[0]
    for words in ("외부 환경에서 빌드 파일 구성 후 대상 서버에 FTP or SCP로 전송하여 배포",
                  "대상 서버 내에서 최신버전 코드 merge 및 빌드 후 배포",
                  "빌드 과정에서 서버 리소스를 사용",
                  "로컬 개발환경과 배포 환경 간의 런타임 차이를 사전에 감지불가",
                  "배포 담당자의 실수 발생 가능성 (ex. 잘못된 명령어, 잘못된 버전 등)",
                  "--build-on=local", "pip install --no-index", "sha256sum --strict --quiet -c"):  # fmt: skip
        assert words in section, words
    for heading in ("### L-A. 프론트엔드", "### L-B. 백엔드", "### L-C. AI 서버"):
        assert heading in section
