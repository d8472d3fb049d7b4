"""The streaming masker: output in chunks masks as the whole text would, holding back little."""

from __future__ import annotations

import json
import random

import pytest

from tasks.hosts.secrets import MASK, Secrets, _forms_of

PW = "hunter2-secret"
WEBHOOK = "https://discord.com/api/webhooks/1234567890/AbC-dEf_gHi-JkL0123456789"
SECRETS = Secrets({"MYSQL_ROOT_PASSWORD": PW, "DISCORD_WEBHOOK_URL": WEBHOOK})


def streamed(secrets: Secrets, chunks: list[str]) -> str:
    masker = secrets.stream_masker()
    longest = max(map(len, _forms_of(secrets.values())))
    out = []
    for chunk in chunks:
        out.append(masker.feed(chunk))
        # at most the longest form less one; an escape (\\uXXXX) is never cut in two
        assert masker.held <= longest - 1 + (5 if "\\" in chunk else 0)
    out.append(masker.flush())
    assert masker.held == 0
    return "".join(out)


def splits(text: str):
    for i in range(len(text) + 1):
        yield [text[:i], text[i:]]


TEXTS = [
    f"password={PW}\nok\n",
    f"mysql -p'{PW}' failed: {PW}",
    f"POST {WEBHOOK}?wait=true -> 204\n",
    f"url: /api/webhooks/1234567890/AbC-dEf_gHi-JkL0123456789 (Caused by {PW})",
    f"{PW}{PW} and {PW}-suffix.jar /{PW}/",
    f"hunter2-secre hunter2- {PW}",  # near misses next to a real one
    json.dumps({"note": f'"{PW}"\n{PW}\\x', "c": "\x1b[0m"}),
    "nothing to hide here, 배포 완료\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_two_chunks_split_anywhere_give_what_mask_gives(text):
    for chunks in splits(text):
        assert streamed(SECRETS, chunks) == SECRETS.mask(text), chunks


@pytest.mark.parametrize("text", TEXTS)
def test_one_character_at_a_time_gives_what_mask_gives(text):
    assert streamed(SECRETS, list(text)) == SECRETS.mask(text)


@pytest.mark.parametrize("secret", [PW, WEBHOOK, 'q"uo\\te-and-비밀번호'])
def test_a_secret_split_at_every_position_and_in_three_chunks(secret):
    secrets = Secrets({"K": secret})
    text = f"before {secret} after\n{json.dumps(secret)}"
    want = secrets.mask(text)
    assert secret not in want and want.count(MASK) == 2
    start = text.index(secret)
    for i in range(start, start + len(secret) + 1):
        for j in range(i, start + len(secret) + 1):
            assert streamed(secrets, [text[:i], text[i:j], text[j:]]) == want, (i, j)


def test_a_secret_glued_to_a_word_hides_the_rest_of_the_word_in_every_split():
    secrets = Secrets({"K": "dojangkok"})
    text = "install -d /var/lib/dojangkok-deploy && ls\n"
    for chunks in splits(text):
        assert streamed(secrets, chunks) == "install -d /var/lib/****** && ls\n"


def test_a_word_before_the_secret_that_already_went_out_stays_and_nothing_else():
    secrets = Secrets({"K": "dojangkok"})
    text = "cp x my-dojangkok-copy\n"
    assert secrets.mask(text) == f"cp x {MASK}\n"
    for chunks in splits(text):
        out = streamed(secrets, chunks)
        assert out in {f"cp x {gone}{MASK}\n" for gone in ("", "m", "my", "my-")}, chunks
        assert "dojangkok" not in out and "copy" not in out


def test_it_holds_back_only_what_could_be_the_start_of_a_secret():
    masker = SECRETS.stream_masker()
    assert masker.feed("plain line\n") == "plain line\n" and masker.held == 0
    assert masker.feed("abc " + PW[:-1]) == "abc "
    assert masker.held == len(PW) - 1
    assert masker.feed("!") == "hunter2-secre!"  # it was not the secret after all
    assert masker.feed("ends with a backslash \\") == "ends with a backslash "
    assert masker.held == 1  # the next chunk may make it an escape
    assert masker.flush() == "\\"


@pytest.mark.parametrize("glue", ["-", "/"])
def test_overlapping_secrets_make_one_mask_in_every_split(glue):
    """B starts inside A: after A went out masked, what follows may still be B."""
    secrets = Secrets({"A": "abcdefgh-1234", "B": f"1234{glue}zyxwvuts"})
    text = f"x abcdefgh-1234{glue}zyxwvuts y"
    assert secrets.mask(text) == f"x {MASK} y"
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert streamed(secrets, [text[:i], text[i:j], text[j:]]) == f"x {MASK} y"


def test_random_output_in_random_chunks():
    rng = random.Random(7)
    pieces = [PW, PW[:5], PW[3:], WEBHOOK, "/api/webhooks/", "AbC-dEf", " ", "\n", "=", "-",
              "x", "'", '"', "\\", "\\u00", "\\u001b", "\\n", "\\\\", ".", "/", "ok", "비밀"]  # fmt: skip
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(4, len(text) + 1)))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        out = streamed(SECRETS, chunks)
        assert PW not in out and WEBHOOK not in out and "JkL0123456789" not in out, text
        if not glued_on_the_left(text):  # else the word before may have gone out already
            assert out == SECRETS.mask(text), (text, chunks)


def glued_on_the_left(text: str) -> bool:
    def wordish(ch: str) -> bool:
        return ch.isalnum() or ch in "_-.+~%"

    for form in _forms_of(SECRETS.values()):
        i = text.find(form)
        while i != -1:
            if i > 0 and wordish(text[i - 1]) and wordish(text[i]):
                return True
            i = text.find(form, i + 1)
    return False


def test_without_secrets_nothing_is_held():
    masker = Secrets({"DEBUG": "1"}).stream_masker()
    assert masker.feed("hunter2-") == "hunter2-" and masker.held == 0
    assert masker.flush() == ""
