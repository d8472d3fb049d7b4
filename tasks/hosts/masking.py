"""Masking: every secret hidden in output, whole, in every form output gives it.

tasks/hosts/secrets.py says which values are masked (``Secrets.values``) and why masking is
safe only together with its start-up check (``Secrets.check``).

The masking rule
----------------
A value is looked for as it is and in the forms output gives it: JSON-escaped (with and
without ``\\uXXXX``, and with ``\\/``), percent-encoded (URLs, form bodies) and
shell-quoted; a URL also by the parts that carry its secret (a password, query values,
or else the path, where a webhook keeps its token), as error messages print them without
the host. A value of ``MIN_LENGTH`` characters or more is also looked for:

* in upper and in lower case (a log that shouts, a tool that folds case);
* percent-encoded with lower-case hex digits, and with ``/`` kept (``quote``'s default);
* as hex (``xxd -p``, a hash dump's neighbour), lower and upper case;
* in base64, standard and URL-safe, alone and *inside a longer encoded text*: HTTP Basic
  sends ``base64(user:secret)``, where the secret's own characters depend on where it
  starts. For each of the three starting positions (mod 3) the characters that only the
  secret's bytes determine are a form; found, the whole encoded run around them
  (``A-Z a-z 0-9 + / = - _``) is hidden, so no character mixing the secret's bits with
  its neighbours' is left;
* line by line when it has several lines (a PEM key, a JSON key file): every line of
  ``MIN_LENGTH`` or more, in the forms above, except PEM armor lines
  (``-----BEGIN ... KEY-----``), which are the same in every key.

Every derived form is itself ``MIN_LENGTH`` or longer. That is the rule that keeps masking
from garbling output: a short form (the hex of a 2-byte value, a 3-character base64 run,
the line ``}`` of a JSON key) would match ordinary text everywhere and still give the
value away through what is around it; and ``Secrets.check`` refuses a used value shorter
than that anyway. (A shorter value the task reads is still masked as it is, JSON-escaped,
percent-encoded and shell-quoted, as before: those forms are its own characters.)

Every occurrence of any form is hidden; nothing of a secret is ever printed:

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

import base64
import json
import re
import shlex
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MASK = "******"
#: the shortest value that can be masked, and that a task may use
MIN_LENGTH = 8

_WORD_PUNCT = frozenset("_-.+~%")
_HEX = frozenset("0123456789abcdefABCDEF")


# --- the forms of a value ------------------------------------------------------------------
class Encoded(str):
    """A form found inside a longer encoded text (base64): masked with that whole run."""


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ALPHABET = {base64.b64encode: _B64, base64.urlsafe_b64encode: _B64[:-2] + "-_"}
_BASE64_RUN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_PEM_ARMOR = re.compile(r"-----[A-Z0-9 ]+-----")


def forms_of(values: Iterable[str]) -> list[str]:
    """Each value as it is and as output encodes it, longest first."""
    forms: set[str] = set()
    for v in values:
        forms.update(_plain_forms(v))
        forms.update(p for p in _url_secrets(v) if len(p) >= MIN_LENGTH)
        if len(v) >= MIN_LENGTH:
            derived = _derived_forms(v)
            for line in _lines(v):
                derived |= _plain_forms(line) | _derived_forms(line)
            forms.update(f for f in derived if len(f) >= MIN_LENGTH)
    return sorted(forms, key=len, reverse=True)


def _plain_forms(v: str) -> set[str]:
    """The value, JSON-escaped, percent-encoded (upper-case hex, nothing kept), shell-quoted."""
    as_json = json.dumps(v, ensure_ascii=False)[1:-1]
    forms = {
        v,
        as_json,
        json.dumps(v)[1:-1],
        as_json.replace("/", "\\/"),
        quote(v, safe=""),
        quote_plus(v, safe=""),
    }
    if "'" in v:  # otherwise shlex.quote leaves the value whole inside its quotes
        forms.add(shlex.quote(v))
    return forms


def _derived_forms(v: str) -> set[str]:
    """The forms of a long value that a short one does not get (see the rule above)."""
    forms = {v.upper(), v.lower()}
    for encode in (quote, quote_plus):
        for keep in ("", "/"):
            pct = encode(v, safe=keep)
            forms |= {pct, _PERCENT.sub(lambda m: m.group(0).lower(), pct)}
    raw = v.encode()
    forms |= {raw.hex(), raw.hex().upper()}
    for alphabet in (base64.b64encode, base64.urlsafe_b64encode):
        whole = alphabet(raw).decode()
        found = (whole, whole.rstrip("="), *_base64_cores(raw, alphabet))
        forms.update(Encoded(f) for f in found)
    return forms


def _base64_cores(raw: bytes, encode) -> list[str]:
    """The base64 characters that only ``raw``'s bits determine, for ``raw`` starting at each
    byte position ``k`` mod 3 of a longer text (``user:secret`` in HTTP Basic); where ``raw``
    does not start a 3-byte group, also each with the character before it, which holds the
    last 2 (k=1) or 4 (k=2) bits of the byte before and ``raw``'s first 4 or 2: a stream
    holds it back as the beginning of a form, so it is never printed apart from the rest."""
    cores = []
    for k in range(3):
        text = encode(b"\0" * k + raw + b"\0\0").decode()
        first = -(-8 * k // 6)  # the first character whose 6 bits are all raw's
        last = (8 * (k + len(raw)) - 6) // 6  # the last one
        core = text[first : last + 1]
        cores.append(core)
        if k:
            own = 2 * k  # bits of the byte before in that character: 2 or 4
            low = raw[0] >> (8 - (6 - own))
            chars = _ALPHABET[encode]
            cores += [chars[(p << (6 - own)) | low] + core for p in range(1 << own)]
    return cores


def _lines(v: str) -> list[str]:
    """The lines of a multi-line value that can be masked alone (not PEM armor)."""
    if "\n" not in v and "\r" not in v:
        return []
    lines = (line.strip() for line in v.splitlines())
    return [ln for ln in lines if len(ln) >= MIN_LENGTH and not _PEM_ARMOR.fullmatch(ln)]


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
    ``foo-<secret>``; in base64, the encoded ``user:`` before an HTTP Basic password); the
    secret itself and the rest of the word are masked. No character that carries a bit of
    the secret goes out early: the base64 character that mixes the secret's first bits with
    the byte before is the beginning of a form, so it is held back.
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
            found.append((i, i + len(form), isinstance(form, Encoded)))
            i = text.find(form, i + 1)
    spans = []
    for s, e, encoded in found:
        if encoded:  # the whole encoded run: its edge characters carry bits of the secret
            while s > 0 and text[s - 1] in _BASE64_RUN:
                s -= 1
            while e < n and text[e] in _BASE64_RUN:
                e += 1
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
