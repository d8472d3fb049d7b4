"""Section L on a scripted host: the sample backend really built here (javac), then checked.

The host only answers the facts command (tests/unit/fakes.py); the origin is a local bare
repository. The lab tests (tests/test_build_lab.py) do the whole deploy on real hosts.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.apps.backend import BACKEND
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.localbuild.artifacts import sha256_file
from tasks.localbuild.checkout import real_path, work
from tasks.localbuild.flow import prepare

from .conftest import make_session
from .fakes import FakeRemote

APP = Path(__file__).resolve().parents[1] / "apps" / "backend"
pytestmark = pytest.mark.skipif(not shutil.which("javac"), reason="needs a JDK (javac)")


def git(*args, cwd=None) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("origin")
    src = root / "src"
    shutil.copytree(APP, src, ignore=shutil.ignore_patterns("build", "BREAK"))
    git("init", "-q", "-b", "main", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-qm", "v1", cwd=src)
    git("clone", "-q", "--bare", str(src), str(root / "backend.git"))
    (src / "UNCOMMITTED.java").write_text("an edit in a working tree\n")
    return root / "backend.git"


def session(tmp_path, origin, java: str, lines: list):
    facts = "\n".join([
        "@@fact os Ubuntu 24.04.1 LTS", "@@fact machine aarch64", "@@fact rsync yes",
        f"@@fact origin {origin}", f"@@fact java {java}", "@@fact javac ",
    ])  # fmt: skip
    remote = FakeRemote([("@@fact", 0, facts)])
    s = make_session(remote, "backend", lines=lines, build_on="local",
                     settings=Settings(build_work_dir=str(tmp_path / "builds"),
                                       backend_repo=str(origin)),
                     to_rev=git("rev-parse", "main", cwd=origin))  # fmt: skip
    return s, remote


def test_the_sample_backend_is_built_here_and_fits_the_host(tmp_path, origin):
    lines: list[str] = []
    s, remote = session(tmp_path, origin, 'openjdk version "17.0.12" 2024-07-16', lines)
    prepare(s, BACKEND)
    b = s.view.build
    jar = real_path(work(s.view)) / ".ship" / "app.jar"
    assert b.artifact.sha256 == sha256_file(jar) and b.artifact.size == jar.stat().st_size
    assert not (real_path(work(s.view)) / "UNCOMMITTED.java").exists()  # the origin's tree
    assert "Java 17) ≤ cpu Java 17" in b.artifact.checks[0]
    assert b.record()["target"]["machine"] == "aarch64"
    assert [st.status for st in s.report.steps] == ["ok", "ok", "ok"]
    assert len(remote.calls) == 1  # the host was only asked for its facts


def test_a_host_on_java_11_is_refused_before_it_is_touched(tmp_path, origin):
    lines: list[str] = []
    s, remote = session(tmp_path, origin, 'openjdk version "11.0.24" 2024-07-16', lines)
    with pytest.raises(ConfigError) as err:
        prepare(s, BACKEND)
    assert "class file 61 (Java 17)" in str(err.value) and "cpu의 Java는 11입니다" in str(err.value)
    assert [(st.number, st.status) for st in s.report.steps][-1] == ("L3", "failed")
    assert len(remote.calls) == 1
