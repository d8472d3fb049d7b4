"""Masking: every secret hidden in output, whole, in every form output gives it.

tasks/hosts/secrets.py says which values are masked (``Secrets.values``) and why masking is
safe only together with its start-up check (``Secrets.check``).

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
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MASK = "******"
#: the shortest value that can be masked, and that a task may use
MIN_LENGTH = 8

_WORD_PUNCT = frozenset("_-.+~%")
_HEX = frozenset("0123456789abcdefABCDEF")


# --- the forms of a value ------------------------------------------------------------------
def forms_of(values: Iterable[str]) -> list[str]:
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


# --- masking -------------------------------------------------------------------------------
def mask_text(text: str, forms: list[str]) -> str:
    """``text`` with every occurrence of a form (``forms_of``) hidden by the rule above."""
    if not forms or not any(f in text for f in forms):
        return text
    return _replace(text, _spans(text, forms), 0, len(text))


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


# --- where to mask -------------------------------------------------------------------------
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
