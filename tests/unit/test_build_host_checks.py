"""Section L with ``build_on=host`` on a scripted host: the checks that apply to a host build
refuse before the component's plan runs (nothing on the host changes).

The host answers the facts command and the reads the checks make (tests/unit/fakes.py); the
lab tests (tests/test_build_lab.py) do the same on real hosts.
"""

from pathlib import Path

import pytest

from tasks.apps.ai import AI
from tasks.apps.backend import BACKEND
from tasks.errors import ConfigError
from tasks.localbuild.flow import prepare

from .conftest import make_session
from .fakes import FakeRemote

GRADLE = (Path(__file__).resolve().parents[1] / "apps" / "backend" / "build.gradle").read_text()
PY311 = (
    '@@fact python {"version": "3.11", "implementation": "cpython", '
    '"soabi": "cpython-311-x86_64-linux-gnu", "machine": "x86_64", "glibc": "2.36"}'
)


def facts(*lines: str) -> str:
    return "\n".join(["@@fact os Debian GNU/Linux 12", "@@fact machine x86_64", *lines])


def test_a_host_build_for_a_java_the_host_lacks_is_refused_before_the_plan():
    remote = FakeRemote([
        ("@@fact", 0, facts('@@fact java openjdk version "11.0.22"', "@@fact javac javac 11.0.22")),
        (r"show .*build\.gradle", 0, GRADLE),
    ])  # fmt: skip
    s = make_session(remote, "backend", build_on="host")
    with pytest.raises(ConfigError) as err:
        prepare(s, BACKEND)
    assert "build.gradle은 Java 17을(를) 요구하는데" in str(err.value) and "Java 11" in str(
        err.value
    )
    assert [(st.number, st.status) for st in s.report.steps] == [("L3", "failed")]
    assert len(remote.calls) == 2  # the facts and build.gradle: reads only


def test_a_host_build_of_the_ai_server_without_a_package_index_is_refused_naming_the_cause():
    pip = ("ERROR: Could not find a version that satisfies the requirement six==1.17.0\n"
           "pip config: global.no-index='true'")  # fmt: skip
    remote = FakeRemote([("@@fact", 0, facts(PY311)), ("pip install --dry-run", 1, pip)])
    s = make_session(remote, "ai", build_on="host")
    with pytest.raises(ConfigError) as err:
        prepare(s, AI)
    text = str(err.value)  # the problem and its fix
    assert (
        "gpu에서 bbbbbbbbbbbb의 AI requirements를 설치할 수 없습니다" in text
        and "six==1.17.0" in text
    )
    assert "no-index" in text and "--build-on=local" in text
    assert [(st.number, st.status) for st in s.report.steps] == [("L3", "failed")]


def test_a_host_build_the_host_can_do_goes_on():
    remote = FakeRemote([("@@fact", 0, facts(PY311)), ("pip install --dry-run", 0, "")])
    s = make_session(remote, "ai", build_on="host")
    prepare(s, AI)
    assert [(st.number, st.status) for st in s.report.steps] == [("L3", "ok")]
