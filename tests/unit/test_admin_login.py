"""The admin login (settings.admin_user): which connection runs a root command, what a deploy
login may not do, and the next step an operator gets when sudo or the root helper refuses."""

from __future__ import annotations

import pytest

from tasks.engine.runner import sudo_hint
from tasks.errors import ConfigError
from tasks.hosts import connect
from tasks.hosts.inventory import Host
from tasks.hosts.remote import Remote
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings


class Recorder(Remote):
    """A Remote without a connection: records what it was asked to run."""

    def __init__(self, name: str, root: Remote | None = None) -> None:
        self.name, self.root, self.calls = name, root, []
        self.sudo_password, self.label, self._seq, self.conn = None, "t", 0, None

    def open(self) -> None:
        pass

    def run(self, command, sudo=False, **kw):
        if sudo and self.root is not None:
            return super().run(command, sudo, **kw)  # the delegation under test
        self.calls.append((command, sudo))
        return None


def test_root_commands_go_over_the_admin_login_the_rest_over_the_deploy_login():
    admin = Recorder("admin")
    deploy = Recorder("deploy", root=admin)
    deploy.run("id -un")
    deploy.run("systemctl daemon-reload", sudo=True)
    assert deploy.calls == [("id -un", False)]
    assert admin.calls == [("systemctl daemon-reload", True)]


def host(user, admin=""):
    return Host("cpu", "10.0.0.2", user, 22, None, ("cpu",), Settings(admin_user=admin))


@pytest.mark.parametrize("user", [None, "admin"])
def test_admin_user_needs_another_deploy_login(user):
    with pytest.raises(ConfigError) as err:
        connect.connect_admin(host(user, admin="admin"), Secrets({}))
    assert "admin_user(admin)와 배포 계정" in err.value.problem and "ansible_user" in err.value.fix


def test_without_admin_user_nothing_is_attached():
    class Bare:
        root = None

    remote = Bare()
    with connect.admin_steps(remote, host("deploy"), Secrets({})):
        assert remote.root is None
    with connect.admin_steps(None, host("deploy", admin="admin"), Secrets({})):
        pass  # a dry run has no connection: nothing to attach


@pytest.mark.parametrize(
    "detail",
    [
        "sudo: a password is required",
        "Sorry, user deploy is not allowed to execute '/usr/bin/bash -o pipefail -c x' as root on cpu.",
        "dojangkok-root: refused: unit 'x' is not one of this host's app units",
        "sudo: /usr/local/sbin/dojangkok-root: command not found",
    ],
)
def test_a_refused_sudo_names_setup(detail):
    assert "fab -H <호스트> setup" in sudo_hint(detail)


def test_other_failures_get_no_sudo_hint():
    assert sudo_hint("curl: (7) Failed to connect to localhost port 8080") == ""
