"""What a deploy's build found and made: frozen data the pure command builders read.

:class:`Build` rides in the run's view (``RunView.build``): the host's facts (read before
anything changes), the revision, the origin it came from, and for a local build the
:class:`Artifact` (its files with their SHA-256, what it was built with). The deploy record
and the release's .release.json keep :meth:`Build.record`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

#: shown in a dry run and the runbook where a value is only known at run time
SHA = "<sha256>"


@dataclass(frozen=True)
class HostFacts:
    """What the host runs (tasks/localbuild/facts.py reads it in one command)."""

    alias: str = ""
    os: str = ""  # PRETTY_NAME of /etc/os-release
    machine: str = ""  # uname -m
    java: str = ""  # the first line of `<backend_java> -version`
    javac: str = ""  # `javac -version` (empty: no JDK)
    node: str = ""  # `node --version` (empty: none)
    rsync: bool = False
    origin: str = ""  # the checkout's git_remote URL
    #: the Python that runs (or makes) the AI venv: version "3.11", implementation "cp",
    #: abi "cp311", machine, glibc "2.36" (empty: not glibc), executable
    python: dict = field(default_factory=dict)
    #: release strategy, AI: the key of the shared venv the new requirements would use, and
    #: whether it is complete on the host already (then there is nothing to install)
    venv_key: str = ""
    venv_complete: bool = False

    @property
    def known(self) -> bool:
        """The host answered the facts command (``uname -m`` always says something)."""
        return bool(self.machine)

    def brief(self) -> dict:
        py = self.python
        return {
            "host": self.alias,
            "os": self.os,
            "machine": self.machine,
            **({"java": self.java} if self.java else {}),
            **({"python": f"{py.get('version')} {py.get('abi')}"} if py else {}),
        }


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the artifact's root
    sha256: str
    size: int


@dataclass(frozen=True)
class Artifact:
    """The files a local build made, and where they came from."""

    kind: str  # jar | tree | wheelhouse
    root: str  # local directory the paths are relative to
    files: tuple[FileEntry, ...] = ()
    #: where it was built: machine, OS, tool versions
    built_by: dict = field(default_factory=dict)
    #: AI: sha256 of the requirements file the wheelhouse was made from
    requirements_sha256: str = ""
    #: what the checks said (one line each), kept in the record
    checks: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def sha256(self) -> str:
        """The file's own SHA-256 for one file; else that of the manifest (a tree's hash)."""
        if len(self.files) == 1:
            return self.files[0].sha256
        return hashlib.sha256(manifest(self).encode()).hexdigest()


def manifest(artifact: Artifact | None) -> str:
    """``sha256sum -c`` input: one ``<sha256>  <path>`` line per file."""
    if artifact is None:
        return f"{SHA}  <파일>\n"
    return "".join(f"{f.sha256}  {f.path}\n" for f in artifact.files)


@dataclass(frozen=True)
class Build:
    on: str  # host | local
    revision: str = ""
    origin: str = ""
    #: the revision the operator named (--revision), as given; empty: the branch's head
    requested: str = ""
    facts: HostFacts | None = None
    artifact: Artifact | None = None
    #: bytes the last transfer sent to the host (rsync's or SFTP's count)
    sent_bytes: int | None = None
    #: AI, a host still on the manual strategy: the revision it serves, whose requirements
    #: its first release installs (the wheelhouse holds them too)
    extra: tuple[str, ...] = ()

    def but(self, **changes) -> Build:
        return dataclasses.replace(self, **changes)

    def record(self) -> dict:
        """For the deploy record and .release.json: what was built where, its checksum."""
        out: dict = {"built_on": self.on, "revision": self.revision}
        if self.origin:
            out["origin"] = self.origin
        if self.facts is not None:
            out["target"] = self.facts.brief()
        a = self.artifact
        if a is not None:
            out["artifact"] = {
                "kind": a.kind,
                "sha256": a.sha256,
                "size": a.size,
                "files": len(a.files),
                **({"requirements_sha256": a.requirements_sha256} if a.requirements_sha256 else {}),
            }
            out["built_by"] = a.built_by
            out["checks"] = list(a.checks)
        elif self.on == "host" and self.facts is not None:
            f = self.facts
            tools = {"javac": f.javac, "java": f.java, "node": f.node,
                     "python": f.python.get("version", "")}  # fmt: skip
            out["built_by"] = {"host": f.alias, "os": f.os, "machine": f.machine,
                               "tools": {k: v for k, v in tools.items() if v}}  # fmt: skip
        if self.sent_bytes is not None:
            out["sent_bytes"] = self.sent_bytes
        return out
