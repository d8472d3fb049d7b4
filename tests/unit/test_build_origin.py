"""A local build fetches from the inventory's ``<component>_repo`` alone, and the host's
checkout must name exactly that origin (tasks/localbuild/origin.py); the frontend's build reads
only the keys of the host's .env that the revision declares.

The host is scripted (tests/unit/fakes.py): it only answers the facts command, so
"nothing changed" is "it was asked nothing else, and nothing was fetched here". The lab test
(tests/test_build_lab.py) changes a real checkout's origin.
"""

from __future__ import annotations

import pytest

from tasks.apps.backend import BACKEND
from tasks.errors import ConfigError
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.localbuild import checkout, origin
from tasks.localbuild.flow import prepare
from tasks.localbuild.model import Build, HostFacts
from tasks.localbuild.steps import env_keys, filtered_env
from tasks.strategies import deploy

from .conftest import SECRETS, make_host, make_session, make_view
from .fakes import FakeRemote

REPO = "ssh://git@git.example.com:2222/org/backend.git"


@pytest.mark.parametrize(
    ("got", "differ"),
    [
        (REPO, []),
        ("https://git@git.example.com:2222/org/backend.git", ["scheme"]),
        ("ssh://deploy@git.example.com:2222/org/backend.git", ["user"]),
        ("ssh://git@evil.example.com:2222/org/backend.git", ["host"]),
        ("ssh://git@GIT.example.com:2222/org/backend.git", ["host"]),
        ("ssh://git@git.example.com:22/org/backend.git", ["port"]),
        ("ssh://git@git.example.com/org/backend.git", ["port"]),
        ("ssh://git@git.example.com:2222/org/backend", ["path"]),  # no .git: another URL
        ("ssh://git@git.example.com:2222/org/backend.git/", ["path"]),
        ("ssh://git@git.example.com:2222/evil/backend.git", ["path"]),
        ("git@git.example.com:org/backend.git", ["port", "path"]),
        ("/srv/git/backend.git", ["scheme", "user", "host", "port", "path"]),
    ],
)
def test_origins_compare_exactly(got, differ):
    assert origin.differences(REPO, got) == differ


def test_the_same_parts_written_another_way_are_another_origin():
    assert origin.differences("git@h:/org/app.git", "ssh://git@h/org/app.git") == ["spelling"]
    assert origin.parts("git@h:org/app.git") == origin.Parts("ssh", "git", "h", "", "org/app.git")
    assert origin.parts("[::1]:r.git").host == "[::1]"
    assert origin.parts("./rel/path:x").scheme == "file"  # a slash before the colon: a path


def test_a_local_build_without_a_repo_setting_is_refused_before_any_host_is_touched():
    """deploy.preflight runs before any connection (dry runs too); a host build needs none,
    nor a rollback (it fetches nothing). The plan still renders, for the runbook."""
    secrets = Secrets(dict(SECRETS))
    host = make_host(Settings())
    for opts in (deploy.Options(build_on="local", yes=True),
                 deploy.Options(build_on="local", dry_run=True)):  # fmt: skip
        with pytest.raises(ConfigError) as err:
            deploy.preflight(BACKEND, [host], secrets, opts)
        assert (
            "backend 로컬 빌드(build_on=local)에는 backend_repo이 필요합니다" in err.value.problem
        )
        assert "인벤토리에 backend_repo을 저장소 URL로 적거나" in err.value.fix
    deploy.preflight(BACKEND, [host], secrets, deploy.Options(build_on="host", yes=True))
    deploy.preflight(BACKEND, [host], secrets, deploy.Options(build_on="local", yes=True),
                     task="rollback")  # fmt: skip
    deploy.preflight(BACKEND, [make_host(Settings(backend_repo=REPO))], secrets,
                     deploy.Options(build_on="local", yes=True))  # fmt: skip
    (l1,) = [p for p in deploy.plans(BACKEND, host, build_on="local") if p.section == ""][:1]
    assert "'<backend_repo>'" in l1.steps[0].render(make_view(build_on="local"))


def session(tmp_path, host_origin: str, repo: str = REPO):
    facts = "\n".join([
        "@@fact os Debian GNU/Linux 12 (bookworm)", "@@fact machine x86_64", "@@fact rsync yes",
        f"@@fact origin {host_origin}", '@@fact java openjdk version "17.0.12"',
    ])  # fmt: skip
    remote = FakeRemote([("@@fact", 0, facts)])
    settings = Settings(build_work_dir=str(tmp_path / "builds"), backend_repo=repo)
    s = make_session(remote, "backend", build_on="local", settings=settings)
    return s, remote


@pytest.mark.parametrize("host_origin", [
    "ssh://git@git.example.com:22/org/backend.git",  # the same repository, another port
    "ssh://git@git.example.com:2222/org/backend",
    "https://attacker.example/backend.git",
])  # fmt: skip
def test_a_host_whose_checkout_names_another_origin_is_refused_naming_both(tmp_path, host_origin):
    s, remote = session(tmp_path, host_origin)
    with pytest.raises(ConfigError) as err:
        prepare(s, BACKEND)
    problem = err.value.problem
    assert f"origin은 {host_origin}인데 backend_repo은 {REPO}입니다" in problem
    assert "아무것도 바꾸지 않았습니다" in problem
    assert f"remote set-url origin {REPO}" in err.value.fix
    assert len(remote.calls) == 1  # only the facts were read
    assert not (tmp_path / "builds").exists()  # nothing fetched, nothing built here


def test_without_the_setting_the_host_is_not_even_asked(tmp_path):
    s, remote = session(tmp_path, REPO, repo="")
    with pytest.raises(ConfigError, match="backend_repo이 필요합니다"):
        prepare(s, BACKEND)
    assert remote.calls == []


def test_a_host_checkout_without_the_remote_is_refused(tmp_path):
    s, remote = session(tmp_path, "")
    with pytest.raises(ConfigError, match="origin 리모트가 없습니다"):
        prepare(s, BACKEND)
    assert len(remote.calls) == 1


def test_the_fetch_takes_the_inventory_s_url_whatever_the_host_says():
    v = make_view("backend", settings=Settings(backend_repo=REPO), build_on="local")
    v = v.but(build=Build("local", facts=HostFacts(alias="cpu", origin="https://attacker/x")))
    assert checkout.fetch(v).endswith(f"--end-of-options {REPO} '+refs/heads/*:refs/heads/*'")
    assert "attacker" not in checkout.show(v)


def test_the_branch_head_the_host_reports_must_be_a_commit_id():
    v = make_view("backend", settings=Settings(backend_repo=REPO), build_on="local",
                  to_rev="--output=/tmp/x").but(build=Build("local"))  # fmt: skip
    with pytest.raises(ConfigError, match="커밋 ID가 아닙니다"):
        checkout.rev_asked(v)
    assert checkout.rev_asked(v.but(to_rev="b" * 40)) == "b" * 40
    assert checkout.rev_asked(v.but(build=Build("local", requested="abc1234"))) == "abc1234"


# --- the frontend's .env: only the keys the revision declares ------------------------------
HOST_ENV = """# written by setup
REACT_APP_API_URL=/api
NODE_OPTIONS=--import=data:text/javascript,process.exit(9)
export REACT_APP_NAME="도장콕"
BROWSER=/tmp/run-me
REACT_APP_MULTI="first
NODE_OPTIONS=--require /tmp/x"
PATH=/tmp/evil:/usr/bin
"""


def test_the_host_s_env_gives_the_build_only_the_declared_keys(tmp_path):
    example = tmp_path / ".env.example"
    example.write_text("REACT_APP_API_URL=\n# a comment\nexport REACT_APP_NAME=\n")
    text, dropped = filtered_env(HOST_ENV, env_keys(example))
    assert text == 'REACT_APP_API_URL=/api\nexport REACT_APP_NAME="도장콕"\n'
    assert dropped == ["NODE_OPTIONS", "BROWSER", "REACT_APP_MULTI", "PATH"]


def test_without_an_env_example_only_public_build_keys_are_taken(tmp_path):
    assert env_keys(tmp_path / ".env.example") is None
    text, dropped = filtered_env(HOST_ENV + "VITE_X=1\nNEXT_PUBLIC_Y=2\n", None)
    assert "NODE_OPTIONS" not in text and "PATH" not in text and "BROWSER" not in text
    assert text.splitlines() == ['REACT_APP_API_URL=/api', 'export REACT_APP_NAME="도장콕"',
                                 'REACT_APP_MULTI="first', "VITE_X=1", "NEXT_PUBLIC_Y=2"]  # fmt: skip
    assert dropped == ["NODE_OPTIONS", "BROWSER", "PATH"]
