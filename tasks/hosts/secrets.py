"""Secrets from ``.env`` (or the file ``DOJANGKOK_ENV`` names; with an environment named,
``.env.<name>``: tasks/hosts/environment.py), read with python-dotenv.

Values never go into os.environ, command lines or logs: the runner masks every value
read from the file, and commands receive secrets through files or stdin.

The API
-------
``Secrets.load(path=None)``
    Reads the file. Refuses (ConfigError) a file that group or others may read or write,
    with the exact ``chmod 600 <path>``. A missing file is no error here: a task that needs
    no secret runs without one, and ``require`` names the missing file (``.missing``).
``get(key)`` / ``require(key, why)``
    A value, or None / a ConfigError that names the key, the file and, when the file does
    not exist, says so.
``check(used_keys, haystacks)``
    The start-up check, called before connecting (see "Why masking is safe" below); first
    it refuses a key that is a setting, or a renamed one (``settings.check_name``: settings
    are read from hosts.ini alone, one written in .env would silently not apply).
    ``used_keys``: the keys whose values the task uses. ``haystacks``: a description ->
    text for everything the tool prints anyway (``setting_texts(settings)``, the rendered
    plan). Raises one ConfigError that names every refused key, never a value.
``mask(text)``
    ``text`` with every secret hidden (the rule below). ``MASK`` is what replaces it.
``stream_masker()``
    A ``StreamMasker`` for output that arrives in chunks: ``feed(chunk)`` returns the text
    that is safe to print now, ``flush()`` the rest at the end.
``values()``
    The values that are masked (``MIN_LENGTH`` characters or more, and any value the task
    read), longest first.

The masking rule (what is looked for, and how much around it is hidden) is in
tasks/hosts/masking.py, with the code that applies it.

Why masking is safe only together with ``check``: a mask hides the characters, not the
fact that a secret stood there. When the secret equals a word the reader knows,
``systemctl stop ******`` names it. So ``check`` refuses, before anything happens on a
host, a value the task uses that is shorter than ``MIN_LENGTH`` (short values are hints
and would mask ordinary words), and any masked value that occurs (ignoring case) in the
settings or in the plan. Its message names the key and deliberately neither the reason
nor the setting: "your password occurs in setting backend_service" would give it away.
Values shorter than ``MIN_LENGTH`` of keys the task does not read are not masked: masking
``1`` or ``prod`` would wreck the output and still show the value through the words around
it. A value the task reads (``get``, ``require``) is masked however short, in case a task
reaches a host without ``check``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

from tasks.errors import ConfigError
from tasks.hosts import environment, settings
from tasks.hosts.masking import MASK, MIN_LENGTH, StreamMasker, forms_of, mask_text

__all__ = ["MASK", "MIN_LENGTH", "Secrets", "StreamMasker", "setting_texts"]

#: the name tests/unit/test_secrets_stream.py imports it by
_forms_of = forms_of


class Secrets:
    def __init__(self, values: dict[str, str | None], path: Path | None = None, *,
                 missing: bool = False):  # fmt: skip
        self._values = {k: v for k, v in values.items() if v is not None}
        self._names = tuple(values)  # every key, also one without a value
        self.path = path
        #: the file was looked for and does not exist
        self.missing = missing
        self._read: set[str] = set()  # keys whose values the task read (get/require)
        self._forms_key: tuple[str, ...] = ()
        self._forms: list[str] = []

    @classmethod
    def load(cls, path: Path | None = None) -> Secrets:
        path = Path(path or environment.secrets_path())
        try:
            fh = path.open(encoding="utf-8")
        except FileNotFoundError:
            # a named environment's own file must exist (no secrets would be a silent mistake)
            named = environment.missing_files() if path == environment.secrets_path() else None
            if named:
                raise named from None
            return cls({}, path, missing=True)
        except OSError as exc:  # a directory, no permission to read it, ...
            raise ConfigError(
                f"비밀값 파일 {_shown(path)}을 읽지 못했습니다 ({exc.strerror})",
                "DOJANGKOK_ENV에 본인 소유, 권한 600인 .env 파일 경로를 지정하십시오",
            ) from None
        with fh:
            mode = os.fstat(fh.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise ConfigError(
                    f"비밀값 파일 {_shown(path)}이 일반 파일이 아닙니다",
                    "DOJANGKOK_ENV에 .env 파일 경로를 지정하십시오",
                )
            if mode & 0o077:
                raise ConfigError(
                    f"비밀값 파일 {_shown(path)}의 권한이 {stat.S_IMODE(mode):04o}입니다: "
                    "다른 사용자가 비밀값을 읽거나 바꿀 수 있습니다",
                    f"chmod 600 {shlex.quote(_shown(path))}",
                )
            return cls(dict(dotenv_values(stream=fh)), path)

    def get(self, key: str) -> str | None:
        value = self._values.get(key) or None
        if value:
            self._read.add(key)
        return value

    def require(self, key: str, why: str) -> str:
        value = self.get(key)
        if value:
            return value
        where = _shown(self.path) if self.path else ".env"
        if self.missing:
            raise ConfigError(
                f"{key}가 필요한데({why}) 비밀값 파일 {where}이 없습니다",
                f"{key}=... 줄을 넣어 그 파일을 만들고 `chmod 600 {shlex.quote(where)}`을 "
                "실행하십시오. 다른 파일을 쓴다면 DOJANGKOK_ENV에 그 경로를 지정하십시오",
            )
        raise ConfigError(
            f"{where}에 {key}가 없습니다 ({why})",
            f"{where}에 {key}=... 줄을 추가하십시오 (다른 파일이라면 DOJANGKOK_ENV에 그 경로를 "
            "지정하십시오)",
        )

    def values(self) -> list[str]:
        """Every value that is masked, longest first: those of ``MIN_LENGTH`` or more (shorter
        ones would mask ordinary words), and any the task read, however short (``check``
        refuses those, but a value the task handles is never printed as it is)."""
        found = {
            v for k, v in self._values.items() if v and (len(v) >= MIN_LENGTH or k in self._read)
        }
        return sorted(found, key=lambda v: (-len(v), v))

    def _current_forms(self) -> list[str]:
        key = tuple(self.values())
        if key != self._forms_key:
            self._forms_key, self._forms = key, forms_of(key)
        return self._forms

    # --- the start-up check ------------------------------------------------------------
    def check(self, used_keys: Iterable[str], haystacks: Mapping[str, str]) -> None:
        """Refuse secrets that masking cannot hide; call it before connecting.

        ``used_keys``: the keys whose values this task uses (a key that is not set is
        skipped: ``require`` says why it is needed). Each must be ``MIN_LENGTH`` long.
        ``haystacks``: description -> text the tool prints anyway (settings, the plan).
        No masked value may occur in any of them, ignoring case, whether a task uses it
        or not. The error names each refused key, never its value, nor which rule or
        which text: either would tell a reader of the log what the value is.
        """
        where = _shown(self.path) if self.path else ".env"
        for key in self._names:  # a setting (or a renamed one) written here would not apply
            settings.check_name(key, where, secrets=True)
        used = {k for k in used_keys if self.get(k)}
        texts = [t.casefold() for t in haystacks.values()]
        refused = []
        for key, value in self._values.items():
            if not value:
                continue
            if len(value) < MIN_LENGTH:
                if key in used:
                    refused.append(key)
                continue
            if any(f.casefold() in t for f in forms_of([value]) for t in texts):
                refused.append(key)
        if not refused:
            return
        keys = ", ".join(sorted(refused))
        raise ConfigError(
            f"{where}의 {keys}: 출력에서 가릴 수 없는 값입니다. 비밀값은 {MIN_LENGTH}자 "
            "이상이어야 하고 설정이나 실행 계획에 나오면 안 됩니다 (값이 드러나지 않도록 어느 "
            "규칙에 걸렸는지는 밝히지 않습니다)",
            f"{'각 값을' if len(refused) > 1 else '그 값을'} 무작위 값으로 바꾸십시오 "
            "(예: `openssl rand -hex 16`; DB나 sudo 비밀번호라면 호스트에서도 바꾸십시오). "
            f"비밀이 아닌 값은 {where}에 두지 않습니다",
        )

    # --- masking -------------------------------------------------------------------------
    def mask(self, text: str) -> str:
        """``text`` with every secret hidden (tasks/hosts/masking.py)."""
        return mask_text(text, self._current_forms())

    def stream_masker(self) -> StreamMasker:
        """A masker for one stream (make it after the task read its secrets)."""
        return StreamMasker(self._current_forms())


# --- helpers --------------------------------------------------------------------------------
def setting_texts(settings: object, label: str = "setting") -> dict[str, str]:
    """``{"setting <name>": text}`` for every field of a settings dataclass (for ``check``)."""
    out = {}
    for f in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, f.name)
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out[f"{label} {f.name}"] = text
    return out


def _shown(path: Path) -> str:
    return os.path.abspath(path)
