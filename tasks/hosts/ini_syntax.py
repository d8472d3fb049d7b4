"""The grammar of an inventory line's pieces, as Ansible reads them: host patterns and values.

* Host patterns: ``name``, ``name:2222`` and ``10.0.0.5:2222`` (the port becomes the host's
  ``ansible_port``), ``[2001:db8::5]:2222``, a bare IPv6 address, and ranges: ``web[1:3]``,
  ``web[01:10]`` (zero-padded), ``web[1:10:2]`` (a stride), ``db-[a:c]`` (letters), several in
  one name. A name outside Ansible's host grammar without ``:``, ``[`` or ``]`` (``a.-b``) is
  taken as it is, as Ansible does.
* Values: a host line is split like a shell line (quotes keep spaces and are removed), then
  each value, like a ``[group:vars]`` value (all of the line after the first ``=``, stripped),
  goes through Python's ``ast.literal_eval``: ``3`` is a number, ``'3'`` a string on a vars
  line, ``[1, 2]`` a list; what is no Python literal stays text. tasks/settings.py then types
  the settings (a number or a JSON list given as text is converted).

Refused with a ConfigError that names the line and what to change, though Ansible reads
them, because this tool would read them differently or cannot do what they ask:

* Jinja in a value (``{{ ... }}``): Ansible would render it, this tool cannot;
* a host pattern Ansible cannot read as host[:port] or a range (``web_:22``; it would take the
  whole word as the name, without a port), a range in an IPv6 address, ``[1:3]:22`` (host "1",
  port 3 to Ansible), a backwards range (``[5:1]``: no host), port 0.

And what Ansible itself rejects: unequal zero-padding (``[01:100]``), ``---``.
"""

from __future__ import annotations

import ast
import ipaddress
import re
import string
import warnings

from tasks.errors import ConfigError

#: a section header: [group], [group:kind], a # comment at most after it
SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
#: a line of a [group:children] section
GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
# Ansible's host grammar: DNS-like labels of word characters and dashes, any of them with
# [begin:end] or [begin:end:step] ranges (numbers, or one letter each); an optional :port.
_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.IGNORECASE)
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_TEMPLATE = ("{{", "{%", "{#")


# --- values --------------------------------------------------------------------------------
def read_value(raw: str, key: str, where: str) -> tuple[object, bool]:
    """Ansible's reading of a value: a Python literal if it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value, parsed = _plain(ast.literal_eval(raw)), True
    except (ValueError, SyntaxError):
        value, parsed = raw, False
    except Exception as exc:  # Ansible fails on these too: {[]: 1}, deep nesting
        raise ConfigError(
            f"{where}: {key}의 값을 읽지 못했습니다 ({exc})", "값을 따옴표로 감싸 문자열로 쓰십시오"
        ) from None
    if any(mark in text for text in _strings(value) for mark in _TEMPLATE):
        raise ConfigError(
            f"{where}: {key}의 값이 Jinja 템플릿입니다: Ansible은 이를 렌더링하지만 이 도구는 "
            "하지 못합니다",
            "템플릿 대신 실제 값을 적으십시오",
        )
    return value, parsed


def _plain(value: object) -> object:
    """Ansible's types for a literal: sequences become lists; no bytes, complex or Ellipsis."""
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)


def whole_number(value: object, key: str, where: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ConfigError(f"{where}: {key}의 값은 정수여야 합니다: {value!r}", f"예: {key}=22")


# --- host patterns -------------------------------------------------------------------------
def host_pattern(word: str, where: str) -> tuple[list[str], int | None]:
    """The hosts and the port a host line's first word names, as Ansible reads it."""
    address, port = word, None
    matched = []
    for pattern in (_BRACKETED_PORT, _HOST_PORT):
        if m := pattern.match(address):
            address, port = m.group(1), int(m.group(2))
            matched.append(pattern)
    if len(matched) == 2:  # [1:3]:22 is host "1", port 3 to Ansible
        raise ConfigError(
            f"{where}: 호스트 패턴 {word!r}는 뜻이 모호합니다: Ansible은 이를 호스트 "
            f"{address!r}, 포트 {port}로 읽습니다",
            "범위는 대괄호로 감싸지 말고 쓰십시오: web[1:3]:22",
        )
    if _HOSTNAME.match(address):
        names = _expand(address, word, where) if "[" in address else [address]
    elif "[" not in address and _ipv6(address, bracketed=bool(matched)):
        names = [address]
    elif word == "---":
        raise ConfigError(
            f"{where}: '---'는 YAML 문서의 시작입니다. Ansible은 INI 파일에서 YAML을 읽지 않습니다",
            "인벤토리를 Ansible INI 형식으로 쓰십시오 (hosts.ini 참고)",
        )
    elif word == "" or any(c in word for c in ":[]"):
        hint = (
            ". 섹션 머리는 한 줄에 혼자 쓰고, 뒤에는 # 주석만 올 수 있습니다"
            if word.startswith("[")
            else ""
        )
        raise ConfigError(
            f"{where}: Ansible은 {word!r}를 호스트, 호스트:포트, 호스트 범위 어느 것으로도 "
            "읽지 못합니다 (단어 전체를 포트 없는 호스트 이름으로 읽게 됩니다)",
            f"name, name:port, 10.0.0.5:port, [ipv6]:port, name[1:3] 중 하나로 쓰십시오{hint}",
        )
    else:  # a name Ansible's grammar does not know, which it takes as it is
        return [word], None
    if port == 0:
        raise ConfigError(
            f"{where}: {word!r}의 포트가 0입니다 (Ansible은 포트 0을 무시합니다)",
            "1부터 65535 사이의 포트를 쓰십시오",
        )
    return names, port


def _ipv6(address: str, bracketed: bool) -> bool:
    """An IPv6 address. In brackets (with a port) only the forms Ansible's grammar reads."""
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    if not bracketed:
        return True  # Ansible takes a bare address as it is, port or not
    if "." in address or "%" in address:
        return False
    if "::" not in address:
        return True
    explicit = len([part for part in address.split(":") if part])
    return explicit <= (6 if address.startswith("::") or address.endswith("::") else 7)


def _expand(pattern: str, word: str, where: str) -> list[str]:
    """Ansible's range expansion: the first [begin:end(:step)], then the rest, recursively."""
    head, _, rest = pattern.partition("[")
    spec, _, tail = rest.partition("]")
    begin, end, *step_ = spec.split(":")
    step = int(step_[0]) if step_ else 1
    if step == 0:
        raise ConfigError(
            f"{where}: {word!r}의 범위 [{spec}]: 간격이 0입니다", "간격은 1 이상으로 쓰십시오"
        )
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise ConfigError(
            f"{where}: {word!r}의 범위 [{spec}]: 0으로 채운 범위는 시작과 끝의 자릿수가 같아야 "
            "합니다",
            f"예: [{begin.zfill(len(end))}:{end.zfill(len(begin))}]",
        )
    if begin.isdigit():
        first, last = int(begin), int(end)
        seq = [str(i).zfill(width) for i in range(first, last + 1, step)]
    else:  # letters, in Python's order: a-z, then A-Z
        first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
        seq = list(string.ascii_letters[first : last + 1 : step])
    if first > last:
        raise ConfigError(
            f"{where}: {word!r}의 범위 [{spec}]가 거꾸로입니다 (Ansible은 여기서 호스트를 "
            "하나도 만들지 않거나 실패합니다)",
            f"[{end}:{begin}]로 쓰십시오",
        )
    out = []
    for part in seq:
        name = head + part + tail
        out += _expand(name, word, where) if "[" in name else [name]
    return out
