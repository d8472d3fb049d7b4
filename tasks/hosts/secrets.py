"""Secrets from ``.env`` (or the file ``DOJANGKOK_ENV`` names), read with python-dotenv.

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
    The start-up check, called before connecting (see "Why masking is safe" below).
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

The masking rule
----------------
A value is looked for as it is and in the forms output gives it: JSON-escaped (with and
without ``\\uXXXX``, and with ``\\/``), percent-encoded (URLs, form bodies) and
shell-quoted; a URL also by the parts that carry its secret (a password, query values,
or else the path, where a webhook keeps its token), as error messages print them without
the host. Every occurrence of any form is hidden; nothing of a secret is ever printed.

* An occurrence bounded on both sides (the text's ends, whitespace, punctuation such as
  ``/ : @ = ? & " ' ( ) , ;``, or a JSON escape such as ``\\n``) is replaced by ``MASK``:
  ``MYSQL_ROOT_PASSWORD=******``, ``https://x:******@db``, ``"******"``.
* An occurrence glued to a longer word (a letter, digit or one of ``_ - . + ~ %`` on
  either side, next to a letter, digit or one of those in the value) is replaced together
  with that whole word: ``/var/lib/dojangkok-deploy`` gives ``/var/lib/******``, never
  ``/var/lib/******-deploy``. Masking only the value would leave the word around it as
  a hint; leaving the word alone would print the secret.
* A JSON escape is never cut in two, so a masked JSON line (a deploy record) still parses.

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
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from dotenv import dotenv_values

from tasks.errors import ConfigError

MASK = "******"
#: the shortest value that can be masked, and that a task may use
MIN_LENGTH = 8

_WORD_PUNCT = frozenset("_-.+~%")
_HEX = frozenset("0123456789abcdefABCDEF")


class Secrets:
    def __init__(self, values: dict[str, str | None], path: Path | None = None, *,
                 missing: bool = False):  # fmt: skip
        self._values = {k: v for k, v in values.items() if v is not None}
        self.path = path
        #: the file was looked for and does not exist
        self.missing = missing
        self._read: set[str] = set()  # keys whose values the task read (get/require)
        self._forms_key: tuple[str, ...] = ()
        self._forms: list[str] = []

    @classmethod
    def load(cls, path: Path | None = None) -> Secrets:
        path = Path(path or os.environ.get("DOJANGKOK_ENV", ".env"))
        try:
            fh = path.open(encoding="utf-8")
        except FileNotFoundError:
            return cls({}, path, missing=True)
        except OSError as exc:  # a directory, no permission to read it, ...
            raise ConfigError(
                f"cannot read the secrets file {_shown(path)}: {exc.strerror}",
                "point DOJANGKOK_ENV at your .env file, owned by you with mode 600",
            ) from None
        with fh:
            mode = os.fstat(fh.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise ConfigError(
                    f"the secrets file {_shown(path)} is not a regular file",
                    "point DOJANGKOK_ENV at your .env file",
                )
            if mode & 0o077:
                raise ConfigError(
                    f"the secrets file {_shown(path)} has mode {stat.S_IMODE(mode):04o}: "
                    "other users can read (or change) the secrets in it",
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
                f"{key} is needed ({why}), but the secrets file {where} does not exist",
                f"create it with a line {key}=... and `chmod 600 {shlex.quote(where)}`, "
                "or point DOJANGKOK_ENV at your secrets file",
            )
        raise ConfigError(
            f"{key} is not set in {where} ({why})",
            f"add a line {key}=... to {where} (or point DOJANGKOK_ENV at the right file)",
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
            self._forms_key, self._forms = key, _forms_of(key)
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
            if any(f.casefold() in t for f in _forms_of([value]) for t in texts):
                refused.append(key)
        if not refused:
            return
        where = _shown(self.path) if self.path else ".env"
        keys = ", ".join(sorted(refused))
        raise ConfigError(
            f"{keys} in {where} cannot be hidden in the output: a secret must be at least "
            f"{MIN_LENGTH} characters long and must not occur in the settings or the plan "
            "(this message does not say which, not to give the value away)",
            f"change {'each' if len(refused) > 1 else 'it'} to a random value, e.g. "
            "`openssl rand -hex 16` (and on the host too: the database or sudo password); "
            f"a value that is no secret does not belong in {where}",
        )

    # --- masking -------------------------------------------------------------------------
    def mask(self, text: str) -> str:
        forms = self._current_forms()
        if not forms or not any(f in text for f in forms):
            return text
        return _replace(text, _spans(text, forms), 0, len(text))

    def stream_masker(self) -> StreamMasker:
        """A masker for one stream (make it after the task read its secrets)."""
        return StreamMasker(self._current_forms())


class StreamMasker:
    """Masks output that arrives in chunks, as ``Secrets.mask`` would mask it whole.

    ``feed(chunk)`` returns what is safe to print now and holds back a tail that could be
    the start of a secret: at most the longest masked form minus one character (plus at
    most five characters of an unfinished ``\\uXXXX`` escape). ``flush()`` returns the rest.

    A stream cannot take back what it printed: when a secret is glued to a word whose
    beginning went out with an earlier chunk, that beginning stays (``foo-`` of
    ``foo-<secret>``); the secret itself and the rest of the word are masked.
    """

    def __init__(self, forms: list[str]):
        self._forms = forms
        longest = max(map(len, forms), default=0)
        self._prefixes = {f[:i] for f in forms for i in range(1, len(f))}
        self._longest_prefix = max(longest - 1, 0)
        self._keep = longest + 16  # printed text kept as context: a whole form and more
        self._ctx = ""  # the end of what was printed (raw), starting at a unit boundary
        self._buf = ""  # held back (raw)
        self._open = False  # what was printed ends with a MASK that may go on

    @property
    def held(self) -> int:
        """How many characters are held back now."""
        return len(self._buf)

    def feed(self, chunk: str) -> str:
        return self._step(self._buf + chunk, final=False)

    def flush(self) -> str:
        out = self._step(self._buf, final=True)
        self._ctx, self._buf, self._open = "", "", False
        return out

    def _step(self, new: str, final: bool) -> str:
        if not self._forms:
            self._buf = ""
            return new
        text = self._ctx + new
        c, n = len(self._ctx), len(text)
        spans = _spans(text, self._forms) if any(f in text for f in self._forms) else []
        cut = n
        if not final:
            hold = next(
                (k for k in range(min(self._longest_prefix, n), 0, -1)
                 if text[n - k:] in self._prefixes),
                0,
            )  # fmt: skip
            cut = n - min(hold, len(new))
            unfinished = _unfinished_escape(text)
            if unfinished is not None:
                cut = min(cut, unfinished)
            if cut < n:
                cut = _unit(text, cut)[0]
            for s, e in spans:
                if s < cut < e:
                    cut = e
            cut = max(cut, c)
        out = _replace(text, spans, c, cut, merge_first=self._open)
        if cut > c:
            ends_masked = any(s < cut and e == cut for s, e in spans)
            self._open = ends_masked
        printed = text[:cut]
        start = len(printed) - self._keep
        if start > 0:
            start = _unit(text, start)[0]
            printed = printed[start:]
        self._ctx, self._buf = printed, text[cut:]
        return out


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


def _forms_of(values: Iterable[str]) -> list[str]:
    """Each value as it is and as output encodes it, longest first."""
    forms: set[str] = set()
    for v in values:
        as_json = json.dumps(v, ensure_ascii=False)[1:-1]
        forms.update(
            {
                v,
                as_json,
                json.dumps(v)[1:-1],
                as_json.replace("/", "\\/"),
                quote(v, safe=""),
                quote_plus(v, safe=""),
            }
        )
        if "'" in v:  # otherwise shlex.quote leaves the value whole inside its quotes
            forms.add(shlex.quote(v))
        forms.update(p for p in _url_secrets(v) if len(p) >= MIN_LENGTH)
    return sorted(forms, key=len, reverse=True)


def _url_secrets(value: str) -> list[str]:
    """The parts of a URL that carry its secret, as output shows them without the host.

    A DSN's secret is its password; a signed URL's, its query values. A URL with neither
    keeps it in the path: a webhook's token (``/api/webhooks/<id>/<token>``), and an error
    message often prints only the path. (The path of a DSN, a database name, is no secret.)
    """
    try:
        url = urlsplit(value)
        password = url.password
    except ValueError:
        return []
    if not (url.scheme and url.netloc):
        return []
    if password or url.query:
        values = [v for _, v in parse_qsl(url.query)]
        return [password or "", *values, f"{url.path}?{url.query}" if url.query else ""]
    return [url.path, url.path.rstrip("/").rsplit("/", 1)[-1]]


def _unescaped(text: str, b: int) -> bool:
    """The backslash at ``b`` starts an escape (it is not itself escaped)."""
    k = b
    while k > 0 and text[k - 1] == "\\":
        k -= 1
    return (b - k) % 2 == 0


def _escape_end(text: str, b: int) -> int:
    if b + 1 >= len(text):
        return b + 1  # a lone backslash at the end
    if text[b + 1] == "u" and len(text) >= b + 6 and all(ch in _HEX for ch in text[b + 2 : b + 6]):
        return b + 6
    return b + 2


def _unit(text: str, i: int) -> tuple[int, int]:
    """The escape (``\\X`` or ``\\uXXXX``) that contains index ``i``, else that character."""
    for b in range(i, max(i - 5, 0) - 1, -1):
        if text[b] == "\\" and _unescaped(text, b):
            end = _escape_end(text, b)
            return (b, end) if end > i else (i, i + 1)
    return (i, i + 1)


def _wordish(text: str, i: int) -> bool:
    """The character at ``i`` is part of a word (and not of an escape)."""
    ch = text[i]
    return (ch.isalnum() or ch in _WORD_PUNCT) and _unit(text, i) == (i, i + 1)


def _unfinished_escape(text: str) -> int | None:
    """Where an escape that the next chunk could still change starts, if the text ends in one."""
    n = len(text)
    for b in range(n - 1, max(n - 5, 0) - 1, -1):
        if text[b] == "\\" and _unescaped(text, b):
            tail = text[b + 1 :]
            if not tail or (tail[0] == "u" and all(ch in _HEX for ch in tail[1:])):
                return b
            return None
    return None


def _spans(text: str, forms: list[str]) -> list[tuple[int, int]]:
    """The sorted, merged ranges of ``text`` to replace by MASK."""
    n = len(text)
    found = []
    for form in forms:
        i = text.find(form)
        while i != -1:
            found.append((i, i + len(form)))
            i = text.find(form, i + 1)
    spans = []
    for s, e in found:
        s, e = _unit(text, s)[0], _unit(text, e - 1)[1]  # never cut an escape in two
        if s > 0 and _wordish(text, s) and _wordish(text, s - 1):
            while s > 0 and _wordish(text, s - 1):
                s -= 1
        if e < n and _wordish(text, e - 1) and _wordish(text, e):
            while e < n and _wordish(text, e):
                e += 1
        spans.append((s, e))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _replace(text: str, spans: list[tuple[int, int]], lo: int, hi: int,
             merge_first: bool = False) -> str:  # fmt: skip
    """``text[lo:hi]`` with each span replaced by MASK (no new MASK for a span that starts
    at or before ``lo`` when ``merge_first``: the one printed before goes on)."""
    out, pos = [], lo
    for s, e in spans:
        if e <= lo:
            continue
        if s >= hi:
            break
        s2, e2 = max(s, lo), min(e, hi)
        out.append(text[pos:s2])
        if not (s <= lo and merge_first):
            out.append(MASK)
        pos = e2
    out.append(text[pos:hi])
    return "".join(out)
