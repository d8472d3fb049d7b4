"""The local builds, in the clean work dir, and the artifact each one makes.

- backend: the component's build command (``./gradlew clean build -x test``); the artifact is
  ``backend_artifact``, sent as ``app.jar``;
- frontend: ``npm ci`` and ``npm run build`` (with the host's ``.env``: a CRA build bakes its
  ``REACT_APP_*`` values in); the artifact is the ``frontend_build_dir`` tree;
- AI: a wheelhouse for the host's Python: ``pip download`` with the host's
  ``--python-version``, ``--abi``, ``--platform`` and ``--only-binary=:all:``, never this
  machine's. A release host still on the manual strategy also gets the wheels of the revision
  it serves (its first release is built from them).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tasks.engine.view import RunView
from tasks.localbuild import kind, runtime
from tasks.localbuild.checkout import mirror, real_path, shell_path, work
from tasks.localbuild.facts import local_tools
from tasks.localbuild.model import Artifact, FileEntry
from tasks.shell import q

SHIP = ".ship"  # backend: the jar under the name it is sent as
JAR = "app.jar"
WHEELHOUSE = "wheelhouse"
EXTRA_REQ = ".requirements-"  # + <sha7>.txt: another revision's requirements (conversion)


def download_options(v: RunView) -> str:
    facts = v.build.facts if v.build is not None else None
    if facts is None or not facts.python:
        return ("--only-binary=:all: --python-version <호스트 Python> --implementation <cp> "
                "--abi <호스트 ABI> --platform <호스트 플랫폼 ...>")  # fmt: skip
    return " ".join(q(a) for a in runtime.download_args(facts.python))


def extra_revisions(v: RunView) -> tuple[str, ...]:
    return v.build.extra if v.build is not None else ()


def export_extra(v: RunView) -> str:
    """AI: the requirements of other revisions the host will install (its first release)."""
    m, w = shell_path(mirror(v)), shell_path(work(v))
    parts = [
        f"{{ git -C {m} show {q(rev + ':' + kind.output(v).path)} > {w}/{q(EXTRA_REQ + rev[:7] + '.txt')} "
        f"2>/dev/null || rm -f -- {w}/{q(EXTRA_REQ + rev[:7] + '.txt')}; }}"
        for rev in extra_revisions(v)
    ]
    return " && ".join(parts)


def command(v: RunView) -> str:
    """The build, in the work dir, exactly as it runs."""
    w, out = shell_path(work(v)), kind.output(v)
    if out.kind == kind.JAR:
        return f"cd {w} && {out.command} && mkdir -p {SHIP} && cp -f -- {q(out.path)} {SHIP}/{JAR}"
    if out.kind == kind.TREE:
        return f"cd {w} && {out.command}"
    pip = (
        "python3 -m pip download --quiet --disable-pip-version-check "
        f"-d {WHEELHOUSE} {download_options(v)} -r"
    )
    extra = export_extra(v)
    return (
        f"cd {w} && rm -rf -- {WHEELHOUSE} && "
        + (f"{extra} && " if extra else "")
        + f"{pip} {q(out.path)} && "
        f'for f in {EXTRA_REQ}*.txt; do [ -e "$f" ] || continue; {pip} "$f" || exit 1; done'
    )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def entries(root: Path, paths: list[Path]) -> tuple[FileEntry, ...]:
    return tuple(
        FileEntry(p.relative_to(root).as_posix(), sha256_file(p), p.stat().st_size)
        for p in sorted(paths)
    )


def root_of(v: RunView) -> Path:
    w, out = real_path(work(v)), kind.output(v)
    if out.kind == kind.JAR:
        return w / SHIP
    if out.kind == kind.TREE:
        return w / out.path
    return w / WHEELHOUSE


def collect(v: RunView) -> Artifact:
    """The artifact the build left in the work dir, hashed file by file."""
    root = root_of(v)
    if not root.is_dir():
        raise RuntimeError(f"빌드 결과가 없습니다: {root}")
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    out = kind.output(v)
    if out.kind == kind.TREE and not (root / out.entry).is_file():
        raise RuntimeError(f"빌드 결과에 {out.entry}이(가) 없습니다: {root}")
    req = ""
    if out.kind == kind.WHEELHOUSE:
        req = sha256_file(real_path(work(v)) / out.path)
    return Artifact(out.kind, str(root), entries(root, files), local_tools(out.kind), req)


def check(v: RunView, artifact: Artifact) -> tuple[str, ...]:
    """The runtime checks of a local build against the host; raises ConfigError."""
    facts, root = v.build.facts, Path(artifact.root)
    if artifact.kind == kind.JAR:
        jar = root / JAR
        main, major = runtime.jar_main(jar)
        return (
            runtime.check_java(main, major, facts, v.s.backend_java),
            runtime.check_natives(runtime.jar_natives(jar), facts, "jar"),
        )
    if artifact.kind == kind.TREE:
        return (runtime.check_natives(runtime.tree_natives(root), facts, "빌드 결과"),)
    names = [f.path for f in artifact.files]
    return (runtime.check_wheels(names, facts.python, facts.alias),)
