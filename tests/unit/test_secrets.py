"""Secrets: the .env file, the start-up check, and masking that gives no secret away."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from tasks.errors import ConfigError
from tasks.hosts.secrets import MASK, MIN_LENGTH, Secrets, setting_texts
from tasks.hosts.settings import Settings

WEBHOOK = "https://discord.com/api/webhooks/1234567890/AbC-dEf_gHi-JkL0123456789"
TOKEN = "AbC-dEf_gHi-JkL0123456789"
PW = "hunter2-secret"


def env_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    path.chmod(mode)
    return path


# --- the .env file ----------------------------------------------------------------------------
def test_a_private_env_file_is_read(tmp_path):
    path = env_file(tmp_path, f"MYSQL_ROOT_PASSWORD={PW}\nDISCORD_WEBHOOK_URL='{WEBHOOK}'\n")
    secrets = Secrets.load(path)
    assert secrets.get("MYSQL_ROOT_PASSWORD") == PW
    assert secrets.require("DISCORD_WEBHOOK_URL", "notices") == WEBHOOK
    assert secrets.path == path and not secrets.missing
    assert secrets.values() == [WEBHOOK, PW]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o666])
def test_an_env_file_others_can_read_or_change_is_refused(tmp_path, mode):
    path = env_file(tmp_path, f"MYSQL_ROOT_PASSWORD={PW}\n", mode)
    with pytest.raises(ConfigError) as err:
        Secrets.load(path)
    assert str(path) in err.value.problem and f"{mode:04o}" in err.value.problem
    assert err.value.fix == f"chmod 600 {shlex.quote(str(path))}"
    assert PW not in str(err.value)


def test_the_chmod_is_exact_for_a_relative_path_with_a_space(tmp_path, monkeypatch):
    (tmp_path / "my dir").mkdir()
    monkeypatch.chdir(tmp_path / "my dir")
    Path(".env").write_text(f"K={PW}\n")
    Path(".env").chmod(0o644)
    monkeypatch.delenv("DOJANGKOK_ENV", raising=False)
    with pytest.raises(ConfigError) as err:
        Secrets.load()
    assert err.value.fix == f"chmod 600 '{tmp_path}/my dir/.env'"


def test_dojangkok_env_names_the_file(tmp_path, monkeypatch):
    path = env_file(tmp_path, f"MYSQL_ROOT_PASSWORD={PW}\n")
    monkeypatch.setenv("DOJANGKOK_ENV", str(path))
    assert Secrets.load().get("MYSQL_ROOT_PASSWORD") == PW


def test_a_directory_is_no_env_file(tmp_path):
    with pytest.raises(ConfigError, match="비밀값 파일 .*을 읽지 못했습니다"):
        Secrets.load(tmp_path)


def test_a_missing_env_file_is_fine_for_a_task_that_needs_no_secret(tmp_path):
    secrets = Secrets.load(tmp_path / "nope.env")
    assert secrets.missing and secrets.values() == []
    assert secrets.get("DISCORD_WEBHOOK_URL") is None  # notices are skipped
    secrets.check([], setting_texts(Settings()))
    assert secrets.mask("systemctl stop dojangkok") == "systemctl stop dojangkok"


def test_a_missing_env_file_is_named_when_a_key_is_needed(tmp_path, monkeypatch):
    path = tmp_path / "nope.env"
    with pytest.raises(ConfigError) as err:
        Secrets.load(path).require("MYSQL_ROOT_PASSWORD", "MySQL backup, step B3")
    assert "MYSQL_ROOT_PASSWORD가 필요한데(MySQL backup, step B3)" in err.value.problem
    assert f"비밀값 파일 {path}이 없습니다" in err.value.problem
    assert "DOJANGKOK_ENV" in err.value.fix and f"chmod 600 {path}" in err.value.fix


def test_a_key_missing_from_an_existing_file_says_so(tmp_path):
    path = env_file(tmp_path, "OTHER=x\n")
    with pytest.raises(ConfigError, match=f"{path}에 MYSQL_ROOT_PASSWORD가 없습니다"):
        Secrets.load(path).require("MYSQL_ROOT_PASSWORD", "MySQL backup")


# --- the start-up check ----------------------------------------------------------------------
def test_a_secret_that_is_a_word_of_the_settings_is_refused_naming_the_key(tmp_path):
    """The review's example: the password dojangkok is the service name and part of paths."""
    path = env_file(tmp_path, "MYSQL_ROOT_PASSWORD=dojangkok\n")
    secrets = Secrets.load(path)
    with pytest.raises(ConfigError) as err:
        secrets.check(["MYSQL_ROOT_PASSWORD"], setting_texts(Settings()))
    message = str(err.value)
    assert "MYSQL_ROOT_PASSWORD" in message and str(path) in message
    assert "dojangkok" not in message.replace(str(path), "")
    assert "backend_service" not in message  # where it occurs would give it away too
    assert "openssl rand" in err.value.fix
    # what the check prevents: the mask would show it
    assert secrets.mask("systemctl stop dojangkok") == f"systemctl stop {MASK}"


def test_the_check_ignores_case_and_refuses_a_secret_the_task_does_not_use():
    secrets = Secrets({"BACKUP_KEY": "DoJangKok-Deploy"})
    with pytest.raises(ConfigError, match="BACKUP_KEY"):
        secrets.check([], setting_texts(Settings()))  # /var/lib/dojangkok-deploy


def test_a_secret_in_the_plan_text_is_refused():
    secrets = Secrets({"DB_PASSWORD": "gradlew clean"})
    plan = {"the plan of deploy-backend": "cd /app/backend && ./gradlew clean build -x test"}
    with pytest.raises(ConfigError, match="DB_PASSWORD"):
        secrets.check(["DB_PASSWORD"], plan)
    secrets.check(["DB_PASSWORD"], {"the plan of deploy-ai": "pip install -r requirements.txt"})


def test_a_secret_in_an_encoded_form_in_the_settings_is_refused():
    secrets = Secrets({"K": "a/b-secret-c"})
    with pytest.raises(ConfigError, match="K"):
        secrets.check(["K"], {"setting x": "GET /?q=a%2Fb-secret-c"})


def test_a_short_secret_the_task_uses_is_refused():
    secrets = Secrets({"SUDO_PASSWORD": "1234567", "MYSQL_ROOT_PASSWORD": PW})
    with pytest.raises(ConfigError) as err:
        secrets.check(["SUDO_PASSWORD", "MYSQL_ROOT_PASSWORD"], {"setting x": "nothing"})
    assert "SUDO_PASSWORD" in err.value.problem
    assert "MYSQL_ROOT_PASSWORD" not in err.value.problem
    assert "1234567" not in str(err.value)
    assert f"비밀값은 {MIN_LENGTH}자 이상이어야" in err.value.problem
    Secrets({"SUDO_PASSWORD": "12345678"}).check(["SUDO_PASSWORD"], {})


def test_a_short_value_the_task_does_not_use_is_neither_refused_nor_masked():
    secrets = Secrets({"DEBUG": "1", "PROFILE": "prod", "MYSQL_ROOT_PASSWORD": PW})
    secrets.check(["MYSQL_ROOT_PASSWORD"], setting_texts(Settings()))
    assert secrets.mask("[1/14] prod") == "[1/14] prod"
    assert secrets.values() == [PW]


def test_a_short_value_the_task_read_is_masked_even_without_the_check():
    secrets = Secrets({"SUDO_PASSWORD": "x9$k2", "DEBUG": "1", "MYSQL_ROOT_PASSWORD": PW})
    assert secrets.mask(f"sudo: x9$k2 {PW}") == f"sudo: x9$k2 {MASK}"
    assert secrets.require("SUDO_PASSWORD", "sudo") == "x9$k2"
    assert secrets.mask(f"sudo: x9$k2 {PW}") == f"sudo: {MASK} {MASK}"
    assert secrets.values() == [PW, "x9$k2"]
    assert secrets.stream_masker().feed("sudo: x9$k2\n") == f"sudo: {MASK}\n"


def test_every_refused_key_is_named_once_and_unset_keys_are_left_to_require():
    secrets = Secrets({"A": "short", "B": "dojangkok", "C": PW, "D": ""})
    with pytest.raises(ConfigError) as err:
        secrets.check(["A", "C", "D", "NOT_THERE"], setting_texts(Settings()))
    assert ".env의 A, B: " in err.value.problem
    assert "각 값을" in err.value.fix


def test_setting_texts_cover_every_setting_and_lists():
    texts = setting_texts(Settings())
    assert texts["setting backend_service"] == "dojangkok"
    assert "analyze" in texts["setting ai_smoke"]
    assert len(texts) == len(vars(Settings()))


# --- masking ---------------------------------------------------------------------------------
def mask(text: str, *values: str) -> str:
    return Secrets({f"K{i}": v for i, v in enumerate(values or (PW,))}).mask(text)


@pytest.mark.parametrize(
    "text, masked",
    [
        ("systemctl stop dojangkok", f"systemctl stop {MASK}"),  # why check refuses it
        ("/var/lib/dojangkok-deploy", f"/var/lib/{MASK}"),  # not /var/lib/******-deploy
        ("/var/lib/dojangkok-deploy/backend.json", f"/var/lib/{MASK}/backend.json"),
        ("build/libs/dojangkok.jar", f"build/libs/{MASK}"),
        ("the dojangkok_v2 table", f"the {MASK} table"),
        ("xdojangkok", MASK),
        ("web root /var/www/dojangkok", f"web root /var/www/{MASK}"),
        ("도장콕dojangkok서비스", MASK),  # Korean letters are letters
    ],
)
def test_a_secret_inside_a_longer_word_takes_the_whole_word(text, masked):
    assert mask(text, "dojangkok") == masked


@pytest.mark.parametrize(
    "text, masked",
    [
        (f"MYSQL_ROOT_PASSWORD={PW}", f"MYSQL_ROOT_PASSWORD={MASK}"),
        (f"export DB_PASSWORD='{PW}'", f"export DB_PASSWORD='{MASK}'"),
        (f'password="{PW}"', f'password="{MASK}"'),
        (f"({PW})", f"({MASK})"),
        (f"[{PW}], <{PW}>, {{{PW}}};", f"[{MASK}], <{MASK}>, {{{MASK}}};"),
        (f"mysql://root:{PW}@127.0.0.1:3306/db", f"mysql://root:{MASK}@127.0.0.1:3306/db"),
        (f"?user=root&password={PW}&ssl=1", f"?user=root&password={MASK}&ssl=1"),
        (f"{PW}!", f"{MASK}!"),
        (f"is it {PW}?", f"is it {MASK}?"),
        (f"`{PW}`|{PW}|{PW}#", f"`{MASK}`|{MASK}|{MASK}#"),
        (f"{PW}\n{PW}\t{PW}", f"{MASK}\n{MASK}\t{MASK}"),
        (f"/{PW}/", f"/{MASK}/"),
        # sentence punctuation glued to a value goes with it: harmless, and not a hint
        (f"the password is {PW}.", f"the password is {MASK}"),
        (f"{PW}{PW}", MASK),
    ],
)
def test_a_secret_next_to_punctuation_is_masked_alone(text, masked):
    assert mask(text) == masked


def test_a_value_that_starts_with_punctuation_is_its_own_boundary():
    assert mask("user:@pass-word-9@host", "@pass-word-9") == f"user:{MASK}@host"
    assert mask("user@pass-word-9x", "@pass-word-9") == f"user{MASK}"


def test_the_webhook_url_and_its_token_are_masked_wherever_they_appear():
    secrets = Secrets({"DISCORD_WEBHOOK_URL": WEBHOOK})
    assert secrets.mask(f"POST {WEBHOOK}") == f"POST {MASK}"
    assert secrets.mask(f"POST {WEBHOOK}?wait=true") == f"POST {MASK}?wait=true"
    assert secrets.mask(f"<{WEBHOOK}/slack>") == f"<{MASK}/slack>"
    # requests prints only the path of the URL
    path = "/api/webhooks/1234567890/" + TOKEN
    line = f"HTTPSConnectionPool(host='discord.com', port=443): Max retries exceeded with url: {path} (Caused by"
    assert secrets.mask(line) == line.replace(path, MASK)
    assert secrets.mask(f"token={TOKEN}") == f"token={MASK}"
    # percent-encoded (a redirect or a form body) and JSON with \/
    encoded = "https%3A%2F%2Fdiscord.com%2Fapi%2Fwebhooks%2F1234567890%2F" + TOKEN
    assert secrets.mask(f"next={encoded}&x=1") == f"next={MASK}&x=1"
    assert secrets.mask(json.dumps(WEBHOOK).replace("/", "\\/")) == f'"{MASK}"'
    assert TOKEN not in secrets.mask(f"...webhooks/1234567890/{TOKEN}x")


def test_the_secret_parts_of_other_urls():
    dsn = "mysql://app:S3cret-Pass-42@db.internal/dojangkok?ssl=on"
    secrets = Secrets({"DB_URL": dsn})
    assert secrets.mask("login as app:S3cret-Pass-42 failed") == f"login as app:{MASK} failed"
    # its path is a database name, no secret: neither masked nor refused
    assert secrets.mask("use /dojangkok") == "use /dojangkok"
    secrets.check(["DB_URL"], setting_texts(Settings()))
    signed = Secrets({"U": "https://s3.example/bucket/f.tgz?sig=Zm9vYmFyYmF6cXV4"})
    assert signed.mask("sig=Zm9vYmFyYmF6cXV4") == f"sig={MASK}"
    assert signed.values() == ["https://s3.example/bucket/f.tgz?sig=Zm9vYmFyYmF6cXV4"]


def test_a_json_record_stays_valid_and_keeps_no_secret():
    secrets = Secrets({"MYSQL_ROOT_PASSWORD": PW})
    entry = {"note": f'mysqldump: "{PW}"\n{PW}\tend', "detail": f"-p{PW}", "ok": PW}
    for ascii_only in (False, True):
        line = secrets.mask(json.dumps(entry, ensure_ascii=ascii_only))
        assert PW not in line
        back = json.loads(line)
        assert back["note"] == f'mysqldump: "{MASK}"\n{MASK}\tend'
        assert back["detail"] == MASK and back["ok"] == MASK


def test_a_secret_with_quotes_backslashes_and_hangul_is_masked_in_its_json_form():
    tricky = 'pa"ss\\wo/rd-비밀'
    secrets = Secrets({"K": tricky})
    for ascii_only in (False, True):
        text = json.dumps({"out": f"x {tricky} y"}, ensure_ascii=ascii_only)
        assert tricky not in text  # only its escaped form is there
        masked = secrets.mask(text)
        assert json.loads(masked) == {"out": f"x {MASK} y"}


def test_an_escape_is_never_cut_in_two():
    # a hex secret that starts inside \u001b (an ANSI colour in command output)
    secrets = Secrets({"K": "1bdeadbeefcafe00"})
    line = json.dumps({"out": "\x1bdeadbeefcafe00 done"})
    assert line == '{"out": "\\u001bdeadbeefcafe00 done"}'
    masked = secrets.mask(line)
    assert "deadbeef" not in masked and json.loads(masked) == {"out": f"{MASK} done"}
    # a secret that ends with a backslash, found where that backslash escapes a quote
    secrets = Secrets({"K": "Secr3t-Pass\\"})
    line = json.dumps({"out": 'Secr3t-Pass"x'})
    assert json.loads(secrets.mask(line)) == {"out": MASK + "x"}


def test_an_escape_next_to_a_secret_is_a_boundary_not_part_of_a_word():
    assert mask(f"a\\n{PW}\\tb") == f"a\\n{MASK}\\tb"
    assert mask(f"\\\\n{PW}") == f"\\\\{MASK}"  # an escaped backslash, then the word n<secret>


def test_a_shell_quoted_secret_is_masked_whole():
    tricky = "it's-a-long-one"
    secrets = Secrets({"K": tricky})
    assert secrets.mask(f"echo {shlex.quote(tricky)} > f") == f"echo {MASK} > f"
    assert secrets.mask(f"K={tricky}") == f"K={MASK}"


def test_text_without_secrets_is_returned_as_is():
    secrets = Secrets({"K": PW})
    text = "[1/14] (B0) 배포 상태 디렉터리\n      $ install -d /var/lib/dojangkok-deploy\\n"
    assert secrets.mask(text) is text
    assert Secrets({}).mask(text) is text


def test_the_runner_and_records_api_is_unchanged():
    secrets = Secrets({"MYSQL_ROOT_PASSWORD": PW}, Path(".env"))
    assert secrets.path == Path(".env") and secrets.values() == [PW]
    assert secrets.mask(f"password {PW} leaked?") == f"password {MASK} leaked?"
    assert os.fspath(secrets.path) == ".env"
