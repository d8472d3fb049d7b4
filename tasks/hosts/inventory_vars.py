"""The variables an inventory may set: Ansible's that this tool knows, and the settings.

* Connection: the address is ``ansible_ssh_host``, else ``ansible_host``, else the alias; the
  port ``ansible_ssh_port``/``ansible_port`` (default 22); the user
  ``ansible_ssh_user``/``ansible_user``; the key ``ansible_ssh_private_key_file``/
  ``ansible_private_key_file``. As in Ansible, the ``ansible_ssh_*`` name wins when both are
  set, whatever level each is set at.
* Known and checked: ``ansible_connection`` must be ssh (or paramiko), ``ansible_become_method``
  sudo, ``ansible_become_user`` root. Known and without effect here: ``ansible_become`` (the
  tool uses sudo for the steps that need root), ``ansible_python_interpreter`` (it runs no
  Python on the hosts), ``ansible_group_priority`` (it orders groups: ini_precedence.py).

Refused with a ConfigError that names the line and what to change, though Ansible reads them:
any other ``ansible_*`` name, typos included (``ansible_hostt``), and passwords
(``ansible_password``, ``ansible_become_password``, ...: log in with a key, and name the sudo
password's .env key with the ``sudo_password_env`` setting); a name that is no setting, even
in a group without hosts (a renamed setting is refused naming what replaced it:
``settings.check_name``).
"""

from __future__ import annotations

import dataclasses
import difflib

from tasks.errors import ConfigError
from tasks.hosts import settings
from tasks.hosts.settings import Settings

#: Host field -> the variables Ansible takes it from, the first one set winning
CONNECTION = {
    "address": ("ansible_ssh_host", "ansible_host"),
    "port": ("ansible_ssh_port", "ansible_port"),
    "user": ("ansible_ssh_user", "ansible_user"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
}
#: accepted only with one of these values (what this tool does anyway)
CHECKED = {
    "ansible_connection": (
        "ssh", "ansible.builtin.ssh", "smart", "paramiko", "paramiko_ssh",
        "ansible.builtin.paramiko_ssh",
    ),
    "ansible_become_method": ("sudo", "ansible.builtin.sudo"),
    "ansible_become_user": ("root",),
}  # fmt: skip
#: known, and without effect on this tool
IGNORED = ("ansible_become", "ansible_python_interpreter", "ansible_group_priority")
PASSWORDS = (
    "ansible_password", "ansible_ssh_pass", "ansible_ssh_password",
    "ansible_become_password", "ansible_become_pass",
)  # fmt: skip
ANSIBLE_KEYS = frozenset([*(k for ks in CONNECTION.values() for k in ks), *CHECKED, *IGNORED])
#: setting name -> its field in Settings
SETTINGS = {f.name: f for f in dataclasses.fields(Settings)}


def check_name(key: str, where: str) -> None:
    """Refuse a variable name this tool does not read (``where``: the line that sets it)."""
    if key in PASSWORDS:
        raise ConfigError(
            f"{where}: {key}: 이 도구는 인벤토리에서 비밀번호를 읽지 않습니다",
            "SSH 키(ansible_ssh_private_key_file)로 로그인하고, sudo 비밀번호는 .env에 "
            "sudo_password_env 설정이 가리키는 키로 적으십시오",
        )
    if key.startswith("ansible_"):
        if key not in ANSIBLE_KEYS:
            close = difflib.get_close_matches(key, sorted(ANSIBLE_KEYS), n=1, cutoff=0.85)
            hint = f"{close[0]}을(를) 뜻했다면 그 이름으로 고치십시오. " if close else ""
            raise ConfigError(
                f"{where}: 모르거나 지원하지 않는 접속 변수입니다: {key!r}",
                f"{hint}이 도구가 읽는 접속 변수는 {', '.join(sorted(ANSIBLE_KEYS))}뿐입니다 "
                "(각각의 뜻은 tasks/hosts/inventory_vars.py에 있습니다)",
            )
    else:
        settings.check_name(key, where)  # the one check of a setting's name (and renames)
