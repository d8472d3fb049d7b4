"""A run refused before any task wrote its record still leaves one (tasks/cli.py)."""

from __future__ import annotations

import json
import re

import pytest
from invoke import Exit

from tasks import cli
from tasks.engine import records
from tasks.errors import ConfigError


class _Ctx:
    original_host = "cpu"


@pytest.fixture
def history(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("MYSQL_ROOT_PASSWORD=s3cret-value-long\n")
    env.chmod(0o600)
    monkeypatch.setenv("DOJANGKOK_ENV", str(env))
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "history.jsonl"))
    monkeypatch.setattr(records, "written", 0)
    return tmp_path / "history.jsonl"


def test_a_refusal_is_recorded_masked(history):
    @cli.operator_task
    def deploy_backend(c, dry_run=False):
        raise ConfigError("bad value s3cret-value-long", "fix it")

    with pytest.raises(Exit) as err:
        deploy_backend(_Ctx())
    assert err.value.code == 1
    (rec,) = [json.loads(x) for x in history.read_text().splitlines()]
    assert (rec["kind"], rec["host"], rec["result"]) == ("deploy-backend", "cpu", "refused")
    assert rec["fix"] == "fix it" and "s3cret-value-long" not in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600


def test_a_refusal_names_the_environment_and_a_bad_name_is_not_one(history, monkeypatch):
    @cli.operator_task
    def deploy_backend(c, dry_run=False):
        raise ConfigError("bad value", "fix it")

    for given, kept in (("staging", "staging"), ("../prod", "")):
        monkeypatch.setenv("DOJANGKOK_ENVIRONMENT", given)
        monkeypatch.setattr(records, "written", 0)
        with pytest.raises(Exit):
            deploy_backend(_Ctx())
        rec = json.loads(history.read_text().splitlines()[-1])
        assert rec["environment"] == kept, given


def test_no_second_record_and_none_for_a_dry_run(history):
    @cli.operator_task
    def task(c, dry_run=False):
        raise ConfigError("no")

    with pytest.raises(Exit):
        task(_Ctx(), dry_run=True)
    assert not history.exists()
    records.write_local('{"result": "failed"}\n')  # the task's own record
    with pytest.raises(Exit):
        task(_Ctx())
    assert len(history.read_text().splitlines()) == 1


def test_fab_history_lists_a_refusal_beside_the_deploys(history, capsys, monkeypatch):
    """A refused run has no component (and maybe no host): `fab history` shows "-" there."""
    import tasks

    monkeypatch.setenv("DOJANGKOK_HOSTS", str(history.parent / "no-inventory.ini"))
    records.refused("push-config", "", "cpu has no nginx", "install it", str)
    records.write_local(json.dumps({"time": "t", "operator": "o", "kind": "deploy",
                                    "component": "backend", "host": "cpu", "result": "ok"}) + "\n")  # fmt: skip
    tasks.history.body(_Ctx())
    out = capsys.readouterr().out
    # newest first: the refusal (the deploy's time is unreadable: it sorts as the oldest)
    refused, deploy = [line for line in out.splitlines() if " o " in line or "push-config" in line]
    assert re.search(r"push-config +- +- +- +거부됨", refused), out
    assert re.search(r"^t +o +배포 +backend +cpu +- +성공", deploy), out
