r"""What a host has, and how it differs from the rendered files (pure).

One command prints every managed file (mode, content) and the nginx links; its output is
parsed into :class:`Change`\ s, each with a diff for the operator.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from tasks.config.render import ConfigFile, nginx_links
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.shell import q

STATE_MARK = "@@dojangkok-config@@"


def state_command(files: list[ConfigFile], s: Settings) -> str:
    """Prints, per file: mode, sha256 and content (or "absent"); then the nginx links."""
    parts = []
    for f in files:
        d = q(f.dest)
        parts.append(
            f"echo {q(STATE_MARK + ' ' + f.key)}; "
            f"if [ -f {d} ]; then stat -c %a -- {d}; cat -- {d}; echo; else echo absent; fi"
        )
        if f.kind == "nginx":
            link, disabled = nginx_links(s, f.dest)
            if link:
                parts.append(
                    f"echo {q(STATE_MARK + ' link')}; readlink -- {q(link)} || true; "
                    f"echo {q(STATE_MARK + ' disabled')}; "
                    + "; ".join(
                        f"if [ -e {q(p)} ] || [ -L {q(p)} ]; then echo {q(p)}; fi" for p in disabled
                    )
                )
    parts.append(f"echo {q(STATE_MARK + ' end')}")
    return "; ".join(parts)


def parse_state(stdout: str) -> dict[str, str | None]:
    """``state_command`` output → {key: "mode\\ncontent" or "absent", "link": ..., ...}.

    ``cat FILE; echo`` ends every file with one extra line break: the line split drops it.
    """
    out: dict[str, str | None] = {}
    key, lines = None, []
    for line in stdout.split("\n"):
        if line.startswith(STATE_MARK + " "):
            if key is not None:
                out[key] = "\n".join(lines)
            key, lines = line[len(STATE_MARK) + 1 :], []
        elif key is not None:
            lines.append(line)
    if key is not None:
        out[key] = "\n".join(lines)
    return out


@dataclass
class Change:
    file: ConfigFile
    new: str
    old: str | None  # None: the file does not exist on the host
    old_mode: str | None = None
    #: link/disable actions still needed (nginx), shown with the diff
    actions: list[str] = field(default_factory=list)

    @property
    def content_changed(self) -> bool:
        return self.old != self.new

    @property
    def changed(self) -> bool:
        return self.content_changed or self.old_mode != self.file.mode or bool(self.actions)

    def diff(self, host: str) -> str:
        old = (self.old or "").splitlines(keepends=True)
        new = self.new.splitlines(keepends=True)
        text = "".join(
            difflib.unified_diff(
                old,
                new,
                f"{self.file.dest} ({host}{'' if self.old is not None else ', 없음'})",
                f"{self.file.dest} (templates/{self.file.template}에서 생성)",
            )
        )
        if self.old is not None and self.old_mode != self.file.mode:
            text += f"권한 {self.old_mode} → {self.file.mode}\n"
        return text + "".join(f"{a}\n" for a in self.actions)


def changes(
    rendered: dict[ConfigFile, str], state: dict[str, str | None], s: Settings
) -> list[Change]:
    """Compare the rendered files with the host's state (``parse_state``)."""
    result = []
    for f, text in rendered.items():
        raw = state.get(f.key)
        if raw is None:
            raise ConfigError(f"no state read for {f.dest}", "this is a bug in tasks/config.py")
        old, mode = None, None
        if raw.strip() != "absent":
            mode, _, old = raw.partition("\n")
        change = Change(f, text, old, mode)
        if f.kind == "nginx" and f.dest == s.nginx_site:
            link, disabled = nginx_links(s, f.dest)
            if link and (state.get("link") or "").strip() != f.dest:
                change.actions.append(f"링크 {link} → {f.dest}")
            for p in (state.get("disabled") or "").split():
                change.actions.append(f"삭제 {p}")
        if change.changed:
            result.append(change)
    return result
