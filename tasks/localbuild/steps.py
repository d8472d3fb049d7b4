"""The steps of the second method (build here, send the files), and their work.

Section ``L`` runs before the component's plan and before anything on the host changes:
L1 a clean checkout of the exact revision from the origin, (frontend) L1a the host's .env,
L2 the build, L3 the runtime checks against the host. With ``build_on=host`` only L3 runs (the
checks that apply to a host build). A refusal is a ConfigError naming both sides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

from tasks.apps.base import strategy_for
from tasks.engine.steps import Kind, Plan, Step
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.localbuild import artifacts, checkout, kind, runtime
from tasks.localbuild.localrun import query, stream
from tasks.localbuild.ship import sftp_of
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies.release import layout as release

KIND = "로컬 빌드 (매뉴얼 배포 방식 2: 외부 환경에서 빌드 후 전송)"


def _facts(v: RunView):
    return v.build.facts if v.build is not None else None


# --- L1: checkout --------------------------------------------------------------------------
def venv_key(v: RunView) -> str:
    """release_ai's shared-venv key, computed here: sha256(requirements)[:16]-py<x.y>."""
    req = checkout.real_path(checkout.work(v)) / kind.output(v).path
    digest = hashlib.sha256(req.read_bytes()).hexdigest()[:16] if req.is_file() else ""
    return f"{digest}-py{_facts(v).python.get('version', '')}"


def do_checkout(s) -> str:
    sha = checkout.revision(s.view)
    s.set(to_rev=sha, build=s.view.build.but(revision=sha))
    v = s.view
    done = query(checkout.export(v), timeout=600)
    if not done.ok:
        raise RuntimeError(f"git archive에 실패했습니다: {done.tail(5)}")
    if (
        kind.kind(v) == kind.WHEELHOUSE
        and strategy_for(v.strategy).keeps_releases
        and _facts(v)
        and _facts(v).python
    ):
        key = venv_key(v)
        there = s.sh(f"test -e {q(release.base(v) + '/venvs/' + key)}/.complete").ok
        facts = dataclasses.replace(_facts(v), venv_key=key, venv_complete=there)
        s.set(build=v.build.but(facts=facts))
    return f"{sha[:12]} ({checkout.origin(v)}) → {checkout.work(v)}"


def checkout_step() -> Step:
    return Step(
        "L1", "로컬 체크아웃 (origin의 배포할 리비전, 깨끗한 작업 디렉터리)", "30초",
        "origin에 push되지 않은 리비전은 거부: push 후 다시", Policy.ABORT, kind=Kind.LOCAL,
        command=checkout.show, action=do_checkout,
        added="작업 트리가 아니라 호스트가 pull하는 origin에서 받은 리비전만 빌드한다 "
        "(매뉴얼 2장 한계 1-4: 배포 담당자의 실수, 잘못된 버전)",
    )  # fmt: skip


# --- L1a: the frontend's .env (baked into a CRA build) ----------------------------------
#: keys a client bundle takes from .env by its framework's rule (CRA, Next.js, Vite): what a
#: revision without a .env.example gets from the host's .env
PUBLIC_PREFIXES = ("REACT_APP_", "NEXT_PUBLIC_", "VITE_")
#: the most of the host's .env that is read (a frontend's .env is a few lines)
ENV_LIMIT = 64 * 1024
_ENV_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=")


def env_candidates(v: RunView) -> list[str]:
    own = kind.app(v).env(v.s).path
    return [f"{release.shared(v)}/.env", own] if strategy_for(v.strategy).keeps_releases else [own]


def env_target(v: RunView) -> Path:
    return checkout.real_path(checkout.work(v)) / ".env"


def env_keys(example: Path) -> set[str] | None:
    """The keys the revision's ``.env.example`` declares (None: it has none)."""
    if not example.is_file():
        return None
    return {m.group(1) for line in example.read_text(errors="replace").splitlines()
            if (m := _ENV_KEY.match(line))}  # fmt: skip


def filtered_env(text: str, allowed: set[str] | None) -> tuple[str, list[str]]:
    """The host's .env as the build reads it: only lines that set an allowed key (those of
    the revision's .env.example; without one, the public prefixes). The build runs here,
    and a build tool loads .env into its environment: a key such as NODE_OPTIONS from a
    host would run code on this machine. Returns the text and the keys left out."""
    kept, dropped = [], []
    for line in text.splitlines():
        m = _ENV_KEY.match(line)
        if not m:
            continue  # a comment, a blank line, a quoted value's next line
        key = m.group(1)
        if key in allowed if allowed is not None else key.startswith(PUBLIC_PREFIXES):
            kept.append(line)
        elif key not in dropped:
            dropped.append(key)
    return "".join(f"{line}\n" for line in kept), dropped


def do_env(s) -> str:

    v = s.view
    sftp, target = sftp_of(s), env_target(v)
    for path in env_candidates(v):
        try:
            with sftp.open(path, "rb") as fh:
                raw = fh.read(ENV_LIMIT + 1)
        except FileNotFoundError:
            continue
        if len(raw) > ENV_LIMIT:
            raise ConfigError(
                f"{v.host.alias}의 {path}이(가) {ENV_LIMIT} bytes보다 큽니다: 프론트엔드의 .env가 "
                "아닙니다",
                f"{v.host.alias}에서 그 파일을 확인하십시오",
            )
        allowed = env_keys(target.with_name(".env.example"))
        text, dropped = filtered_env(raw.decode("utf-8", "replace"), allowed)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # 0600 before a byte
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        rule = ".env.example의 키만" if allowed is not None else "/".join(PUBLIC_PREFIXES) + " 키만"
        left = f"; 넣지 않은 키: {', '.join(dropped)}" if dropped else ""
        return f"{path} ({rule}, 빌드 후 삭제){left}"
    return "호스트에 .env 없음: 없이 빌드"


def env_step() -> Step:
    return Step(
        "L1a", "호스트의 .env 가져오기 (빌드에 들어가는 REACT_APP_*)", "1초", "-", Policy.ABORT,
        kind=Kind.LOCAL, action=do_env,
        command=lambda v: f"SFTP ↓ {v.host.alias}:{' 또는 '.join(env_candidates(v))} → "
        f"{checkout.shell_path(checkout.work(v))}/.env (0600, 리비전의 .env.example에 있는 키만, "
        "빌드 후 삭제)",
    )  # fmt: skip


# --- L2: the build -------------------------------------------------------------------------
def reused_venv(v: RunView) -> str | None:
    f = _facts(v)
    if kind.kind(v) == kind.WHEELHOUSE and f is not None and f.venv_complete:
        return f"{v.host.alias}에 같은 requirements의 venv({f.venv_key})가 있다: 보낼 휠 없음"
    return None


def do_build(s) -> str:
    v = s.view
    try:
        done = stream(s, artifacts.command(v), "(L2) 로컬 빌드", "3분+")
    finally:
        env_target(v).unlink(missing_ok=True)
    if not done.ok:
        raise RuntimeError(done.tail())
    a = artifacts.collect(v)
    s.set(build=v.build.but(artifact=a))
    return f"{len(a.files)} file(s), {a.size} bytes, sha256 {a.sha256[:12]}…"


def build_step() -> Step:
    return Step(
        "L2", "로컬 빌드", "3분+", "빌드 에러 확인 후 수정 (서버는 그대로)", Policy.ABORT,
        kind=Kind.LOCAL, command=artifacts.command, action=do_build, skip_if=reused_venv,
        added="서버 자원을 쓰지 않는다 (매뉴얼 2장 한계 1-2: 빌드 과정에서 서버 리소스를 사용)",
    )  # fmt: skip


# --- L3: the runtime checks ----------------------------------------------------------------
def checks_text(v: RunView) -> str:
    f, s = _facts(v), v.s
    on = f"{v.host.alias}" + (f" ({f.machine}, {f.os})" if f else "")
    if v.build_on == "host":
        return {
            kind.JAR: f"build.gradle의 Java 버전 ≤ {on}의 javac와 {s.backend_java} -version",
            kind.TREE: f"{on}의 node와 package.json의 engines.node",
            kind.WHEELHOUSE: f"{on}의 pip가 새 requirements를 설치할 수 있는가 (pip install --dry-run)",
        }.get(kind.kind(v), "")
    return {
        kind.JAR: f"jar의 Main-Class/Start-Class의 class 파일 버전 ≤ {on}의 "
        f"{s.backend_java} -version; jar 안의 네이티브 코드 = uname -m",
        kind.TREE: f"빌드 안의 네이티브 코드(ELF) = {on}의 uname -m",
        kind.WHEELHOUSE: f"휠마다 태그가 {on}의 Python(버전, ABI, 아키텍처, glibc)에 맞는가 (packaging.tags)",
    }.get(kind.kind(v), "")


def do_check(s) -> str:
    v = s.view
    a = v.build.artifact
    lines = artifacts.check(v, a)
    s.set(build=v.build.but(artifact=dataclasses.replace(a, checks=lines)))
    return "; ".join(lines)


def check_step() -> Step:
    return Step(
        "L3", "런타임 확인 (호스트와 비교)", "1초", "거부: 호스트를 바꾸기 전", Policy.ABORT,
        kind=Kind.LOCAL, command=checks_text, action=do_check, skip_if=reused_venv,
        added="매뉴얼 2장 한계 1-3 (로컬 개발환경과 배포 환경 간의 런타임 차이를 사전에 감지불가)을 배포 전에 감지한다",
    )  # fmt: skip


def host_python(v: RunView) -> str:
    venv = v.s.ai_venv
    if not strategy_for(v.strategy).keeps_releases:
        return q(f"{v.s.ai_dir}/{venv}/bin/python")
    return (
        f"$(for p in {q(release.current(v) + '/' + venv + '/bin/python')} "
        f"{q(v.s.ai_dir + '/' + venv + '/bin/python')} python3; do "
        'command -v "$p" >/dev/null && { echo "$p"; break; }; done)'
    )


def pip_dry_run(v: RunView) -> str:
    """Can the AI's Python on the host install the revision's requirements? (reads only)"""
    req = q(f"{v.to_rev}:{v.s.ai_requirements}")
    return (
        f't=$(mktemp) && git -C {q(v.s.ai_dir)} show {req} > "$t" && py={host_python(v)} && '
        '"$py" -m pip install --dry-run --quiet --disable-pip-version-check -r "$t"; rc=$?; '
        'rm -f "$t"; [ $rc -eq 0 ] || { echo "pip config: $("$py" -m pip config list 2>/dev/null '
        "| tr '\\n' ' ')\" >&2; exit $rc; }"
    )


def do_host_check(s) -> str:
    v, f = s.view, _facts(s.view)
    if f is None or not f.known:
        return f"{v.host.alias}의 실행 환경을 알 수 없어 확인하지 않았습니다"
    built, checkout_dir = kind.kind(v), q(kind.app(v).checkout(v.s))
    if built == kind.JAR:
        text = s.query(
            f"git -C {checkout_dir} show {q(v.to_rev + ':build.gradle')} 2>/dev/null || "
            f"git -C {checkout_dir} show {q(v.to_rev + ':build.gradle.kts')} 2>/dev/null || true"
        )
        return runtime.check_gradle(text, f, v.s.backend_java)
    if built == kind.TREE:
        text = s.query(
            f"git -C {checkout_dir} show {q(v.to_rev + ':package.json')} 2>/dev/null || true"
        )
        return runtime.check_node(text, f)
    res = s.sh(pip_dry_run(v))
    if not res.ok:
        errors = [line for line in res.tail(20).splitlines() if "ERROR" in line or "config" in line]
        raise ConfigError(
            f"{v.host.alias}에서 {v.to_rev[:12]}의 AI requirements를 설치할 수 없습니다: "
            + (" / ".join(errors[-3:]) or res.tail(3)),
            "호스트의 pip가 받을 패키지 인덱스가 없습니다. --build-on=local을 쓰거나(여기서 "
            f"{v.host.alias}의 Python에 맞춰 만든 wheelhouse를 --no-index로 설치합니다) "
            f"{v.host.alias}가 패키지 인덱스에 접속할 수 있게 하십시오",
        )
    return f"{v.host.alias}의 pip로 {v.to_rev[:12]}의 {v.s.ai_requirements}를 설치할 수 있습니다"


def host_check_step() -> Step:
    return Step(
        "L3", "런타임 확인 (호스트 빌드)", "5초", "거부: 호스트를 바꾸기 전", Policy.ABORT,
        kind=Kind.LOCAL, command=checks_text, action=do_host_check,
        added="매뉴얼 2장 한계 1-3: 빌드가 필요로 하는 런타임이 호스트에 있는지 배포 전에 확인한다",
    )  # fmt: skip


def local_plan(view: RunView) -> Plan:
    # a build that bakes the host's .env in (a static frontend's REACT_APP_*) reads it first
    steps = (checkout_step(), *((env_step(),) if kind.kind(view) == kind.TREE else ()),
             build_step(), check_step())  # fmt: skip
    return Plan(view.component, "", KIND, f"이 컴퓨터 `{view.s.build_work_dir}`", "빌드 시간",
                "0분 (서버는 그대로)", steps)  # fmt: skip


def host_check_plan(view: RunView) -> Plan:
    return Plan(view.component, "", "빌드 전 확인 (매뉴얼 배포 방식 1: 서버에서 빌드)",
                view.host.alias, "몇 초", "0분", (host_check_step(),))  # fmt: skip
