"""Masking finds a secret in the forms output gives it besides its own characters: base64
(HTTP Basic ``user:secret`` at every alignment, the secret alone), lower-case and ``/``-kept
percent-encoding, hex, upper and lower case, and one line of a multi-line secret.

The encodings are made here, independently of tasks/hosts/masking.py, and looked for in the
raw bytes a child process prints through the tool's console (what reaches the terminal),
whole and streamed in chunks. Short and common strings stay as they are.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tasks.hosts.secrets import MASK, Secrets

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Hunter2/pa+ss wörd=x:"
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDf0J3yJp5oM6Wn0s0cM2K0Tq6m4aS8a3c1bS1hX0Nn2wAAAJi2mD7Ktpg+\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
SECRETS = {"DB_PASSWORD": PASSWORD, "DEPLOY_KEY": PEM, "SHORT": "prod"}


def b64(data: str, alphabet=base64.b64encode) -> str:
    return alphabet(data.encode()).decode()


def lower_hex(pct: str) -> str:
    out, i = [], 0
    while i < len(pct):
        if pct[i] == "%":
            out.append(pct[i : i + 3].lower())
            i += 3
        else:
            out.append(pct[i])
            i += 1
    return "".join(out)


PEM_LINE = PEM.splitlines()[1]
#: (what output carries, the encoded secret in it): each line is printed as it is
LEAKS = [
    *(f"Authorization: Basic {b64(user + ':' + PASSWORD)}" for user in ("admin", "ad", "a")),
    f"curl: -H 'Authorization: Basic {b64('deploy:' + PASSWORD)}' -> 401",
    f"token={b64(PASSWORD)} url-safe={b64(PASSWORD, base64.urlsafe_b64encode)}",
    f"no padding: {b64(PASSWORD).rstrip('=')}.",
    f"GET /login?pw={lower_hex(quote(PASSWORD, safe=''))}&x=1",
    f"POST body pw={quote_plus(PASSWORD, safe='/')} (slash kept)",
    f"redirect to /a/{quote(PASSWORD)}/b",
    f"dump: {PASSWORD.encode().hex()} | {PASSWORD.encode().hex().upper()}",
    f"LOG: PASSWORD IS {PASSWORD.upper()}",
    f"folded: {PASSWORD.lower()}",
    f"key line: {PEM_LINE}",
    f"base64 of a key line: {b64(PEM_LINE)}",
]
#: what must stay as it is: ordinary text, a short value's look-alikes, PEM armor
KEPT = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "deploy to prod: PROD Prod 70726f64 cHJvZA==",  # SHORT ("prod") in every derived form
    "fab -H cpu deploy-backend --yes",
]


def encoded_forms() -> list[str]:
    """The secret's characters as each leak line carries them (the part that must go)."""
    core = [line.split(" ", 2)[-1] for line in LEAKS[:3]]
    return [*core, b64(PASSWORD).rstrip("="), lower_hex(quote(PASSWORD, safe="")),
            quote_plus(PASSWORD, safe="/"), quote(PASSWORD), PASSWORD.encode().hex(),
            PASSWORD.encode().hex().upper(), PASSWORD.upper(), PASSWORD.lower(), PEM_LINE,
            b64(PEM_LINE)]  # fmt: skip


def printed(tmp_path: Path, lines: list[str], streamed: bool = False) -> bytes:
    """The raw bytes a child prints through the tool's console (``streamed``: through a
    stream masker, in chunks of 7 characters, as a host's output arrives)."""
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={json.dumps(v, ensure_ascii=False)}\n"
                                for k, v in SECRETS.items()))  # fmt: skip
    env_file.chmod(0o600)
    (tmp_path / "lines").write_text("\n".join(lines))
    code = (
        "import sys\n"
        "from tasks.engine.console import Console\n"
        "from tasks.hosts.secrets import Secrets\n"
        f"s = Secrets.load({str(env_file)!r})\n"
        "c = Console(s)\n"
        f"text = open({str(tmp_path / 'lines')!r}, encoding='utf-8').read()\n"
        "if len(sys.argv) > 1:\n"
        "    m = s.stream_masker()\n"
        "    out = ''.join(m.feed(text[i:i + 7]) for i in range(0, len(text), 7)) + m.flush()\n"
        "    sys.stdout.write(out + '\\n')\n"
        "else:\n"
        "    for line in text.split('\\n'):\n"
        "        c.out(line)\n"
    )
    argv = [sys.executable, "-c", code, *(["stream"] if streamed else [])]
    res = subprocess.run(argv, cwd=ROOT, capture_output=True, env={**os.environ}, check=True)
    return res.stdout


def test_the_dotenv_file_holds_the_values(tmp_path):
    printed(tmp_path, [])
    assert Secrets.load(tmp_path / ".env")._values == SECRETS


@pytest.mark.parametrize("streamed", [False, True], ids=["lines", "streamed"])
def test_every_encoded_form_is_masked_in_the_raw_output(tmp_path, streamed):
    raw = printed(tmp_path, LEAKS + KEPT, streamed)
    text = raw.decode()
    found = [f for f in encoded_forms() if f.encode() in raw]
    assert not found, f"printed: {found}\n{text}"
    lines = text.splitlines()
    assert all(MASK in line for line in lines[: len(LEAKS)]), text
    for kept in KEPT:
        assert kept in text, (kept, text)
    if not streamed:  # the whole encoded run goes (a stream may have printed user: before)
        assert "Basic ******\n" in text and "Basic ****** " not in text
        assert "Basic ******' -> 401" in text


def test_a_run_split_anywhere_prints_no_character_of_the_secret():
    """HTTP Basic in two chunks, split at every position: what goes out before the MASK is
    at most the characters that only ``user:`` determines (the one that mixes its last bits
    with the secret's first is held back as the beginning of a form)."""
    secrets = Secrets(dict(SECRETS))
    head = "Authorization: Basic "
    for user in ("a", "ad", "admin"):
        encoded = b64(user + ":" + PASSWORD)
        own = 8 * len(user + ":") // 6  # characters made of the user's bits alone
        line = f"{head}{encoded}\n"
        assert secrets.mask(line) == f"{head}{MASK}\n"
        for cut in range(len(line) + 1):
            m = secrets.stream_masker()
            out = m.feed(line[:cut]) + m.feed(line[cut:]) + m.flush()
            assert out.startswith(head) and out.endswith(f"{MASK}\n"), (user, cut, out)
            shown = out[len(head) : -len(MASK) - 1]
            assert encoded.startswith(shown) and len(shown) <= own, (user, cut, out)


def test_short_values_and_lines_are_not_masked_where_they_are_ordinary_text():
    """A short value the task reads is masked as it is, never in derived forms (PROD, its hex,
    its base64 would be ordinary words); a multi-line value's short lines neither."""
    secrets = Secrets({"SHORT": "prod", "KEY": '{\n  "a": 1\n}\n' + "x" * 40})
    assert secrets.get("SHORT") == "prod"  # read: masked however short
    text = '{\n  "a": 1\n} PROD Prod 70726f64 cHJvZA== cHJvZA'
    assert secrets.mask(text) == text
    assert secrets.mask("deploy prod") == f"deploy {MASK}"
