"""What a release rollback promises, checked: smoke tests and the served version.

A release deploy keeps, in the release it switched to, the version the component served
once it was live (``.served-version``: ``<component>_version_url`` read after the switch),
and, when the release serving before it has none yet (a conversion's first release, one
deployed by an older tool), that one's too. A rollback then runs the component's smoke
requests and compares what is served with what its target served when that was recorded
(else the manual strategy's record of the target's revision: tasks/strategies/drift.py):
``ok`` only when both hold. All pure builders of host commands; the steps run in the host's
critical section (tasks/onhost/hostrun.py), so a step is left out, not skipped, when its
setting is empty.
"""

from __future__ import annotations

from collections.abc import Callable

from tasks import shell
from tasks.engine.steps import Step
from tasks.engine.view import RunView
from tasks.hostfacts import served_version
from tasks.hosts import site
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies import drift
from tasks.strategies.release import layout as release

#: in a release: the version it served once live (one line)
SERVED = ".served-version"

#: prints the version a release served when it was recorded: its .served-version, else the
#: manual strategy's record of its revision (.release.json's, else the name's short one)
_RECORDED = (
    "import json, os, sys\n"
    "rel, record = sys.argv[-2:]\n"
    "try:\n"
    "    print(open(os.path.join(rel, '.served-version')).read().strip()); sys.exit()\n"
    "except OSError:\n"
    "    pass\n"
    "def load(path):\n"
    "    try:\n"
    "        d = json.load(open(path))\n"
    "    except (OSError, ValueError):\n"
    "        return {}\n"
    "    return d if isinstance(d, dict) else {}\n"
    "rev = str(load(os.path.join(rel, '.release.json')).get('revision') or '')\n"
    "short = os.path.basename(rel).split('-')[1] if '-' in os.path.basename(rel) else ''\n"
    "revs = load(record).get('revisions') or {}\n"
    "hits = [v for k, v in revs.items() if isinstance(v, dict) and k and "
    "(k == rev or (not rev and short and k.startswith(short)))]\n"
    "print(str(hits[-1].get('version') or '') if hits else '')\n"
)


# Every builder takes the component by name: a step is rendered with views whose component
# is a placeholder too (the preflight's, tasks/engine/session.py)
def url_of(v: RunView, comp: str = "") -> str:
    return drift.version_source(v.s, comp or v.component)[0]


def read_served(v: RunView, comp: str = "") -> str:
    """The version the component serves now (fails when it cannot be read)."""
    url, match = drift.version_source(v.s, comp or v.component)
    return served_version(url, match, site.names(v.s))


def recorded(v: RunView, rel: str, comp: str = "") -> str:
    """Prints the version release ``rel`` served when it was recorded ('' when unknown)."""
    comp = comp or v.component
    path = release.path(v, comp, release=rel)
    return f"python3 -c {q(_RECORDED)} -- {q(path)} {q(drift.record_path(v.s, comp))}"


def _record(v: RunView, where: str, comp: str) -> str:
    """The served version into ``where`` (a shell word), as the deploy login."""
    return (
        f"got=$({read_served(v, comp)}) || {{ echo {q(f'제공 버전을 읽지 못했습니다 ({url_of(v, comp)}): 기록하지 않음')} >&2; exit 1; }}; "
        f'printf \'%s\\n\' "$got" > {where} && echo "제공 버전 $got: 릴리스에 기록 ({SERVED})"'
    )


def record_command(v: RunView, comp: str = "", rel: str | None = None) -> str:
    """The served version into the release (this run's, or ``rel``)."""
    comp = comp or v.component
    return _record(v, q(f"{release.path(v, comp, release=rel)}/{SERVED}"), comp)


def record_current_command(v: RunView, comp: str = "") -> str:
    """The serving release's version, when it has none recorded yet (a conversion's first
    release, one an older tool deployed): what a rollback to it will compare."""
    comp = comp or v.component
    f = q(f"{release.current(v, comp)}/{SERVED}")
    return (
        f"if [ -e {f} ]; then echo {q('서비스 중인 릴리스의 제공 버전은 이미 기록되어 있음')}; "
        f"else {_record(v, f, comp)}; fi"
    )


def check_command(v: RunView, target: str, comp: str = "") -> str:
    """The version served now is the one ``target`` served when it was recorded."""
    comp = comp or v.component
    return (
        f"want=$({recorded(v, target, comp)}); "
        f"got=$({read_served(v, comp)}) || {{ echo {q(f'제공 버전을 읽지 못했습니다 ({url_of(v, comp)})')} >&2; exit 1; }}; "
        f'if [ -z "$want" ]; then echo "제공 버전 $got ({target}의 기록된 버전이 없어 비교하지 않음)"; '
        f'elif [ "$got" = "$want" ]; then echo "제공 버전 $got: {target}이(가) 기록될 때와 같음"; '
        f'else echo "제공 버전 $got, 그러나 {target}은(는) 기록될 때 $want을(를) 제공했습니다: '
        f'롤백한 버전이 아닙니다" >&2; exit 1; fi'
    )


# --- steps --------------------------------------------------------------------------------
def deploy_steps(view: RunView) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    """(before the switch, after it): the serving release's version when unrecorded, and
    the new release's once it serves. None without a version url."""
    comp = view.component
    if not url_of(view, comp):
        return (), ()
    before = Step(
        "V0", "서비스 중인 릴리스의 제공 버전 기록 (없을 때만)", "1초", "-", Policy.WARN,
        command=lambda v: record_current_command(v, comp),
        added="롤백이 비교할 버전: 이 릴리스로 돌아오는 롤백은 지금 제공하는 버전이어야 한다",
    )  # fmt: skip
    after = Step(
        "V1", "새 릴리스의 제공 버전 기록", "1초", "-", Policy.WARN,
        command=lambda v: record_command(v, comp),
        added="전환 뒤 제공하는 버전을 릴리스에 기록한다 (이 릴리스로의 롤백이 비교한다)",
    )  # fmt: skip
    return (before,), (after,)


def rollback_steps(view: RunView, target: str, number: Callable[[int], str],
                   specs: Callable | None = None, port: Callable | None = None,
                   instead_of: Callable | None = None) -> tuple[Step, ...]:  # fmt: skip
    """After a rollback's switch: the smoke requests (asked of ``port``, the instance that
    now serves) and the version check; each stops the rollback (and says what serves)."""
    steps, comp = [], view.component
    if specs is not None and specs(view.s):
        steps.append(Step(
            number(len(steps)), "기능 테스트 (롤백 후)", "2분", "실패: 지금 서비스 중인 것을 확인",
            Policy.ABORT,
            command=lambda v: shell.smoke(specs(v.s), port(v.s) if port else None,
                                          instead_of(v.s) if instead_of else None,
                                          site.names(v.s)),
            added="롤백도 배포와 같은 기능 테스트를 거친다",
        ))  # fmt: skip
    if url_of(view, comp):
        steps.append(Step(
            number(len(steps)), "제공 버전 확인 (롤백 대상이 기록될 때와 같은가)", "1초",
            "다르면: 지금 서비스 중인 것을 확인", Policy.ABORT,
            command=lambda v: check_command(v, target, comp),
            added="롤백 대상 릴리스가 서비스될 때 기록한 버전과 지금 제공하는 버전을 비교: 같을 때만 ok",
        ))  # fmt: skip
    return tuple(steps)
