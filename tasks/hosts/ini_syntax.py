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
            f"{where}: the value of {key} cannot be read: {exc}", "quote it as a string"
        ) from None
    if any(mark in text for text in _strings(value) for mark in _TEMPLATE):
        raise ConfigError(
            f"{where}: the value of {key} is a Jinja template: Ansible would render it, "
            "this tool cannot",
            "write the value out",
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
    raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}", f"e.g. {key}=22")


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
            f"{where}: host pattern {word!r} is ambiguous: Ansible reads it as host "
            f"{address!r}, port {port}",
            "write a range without brackets around it: web[1:3]:22",
        )
    if _HOSTNAME.match(address):
        names = _expand(address, word, where) if "[" in address else [address]
    elif "[" not in address and _ipv6(address, bracketed=bool(matched)):
        names = [address]
    elif word == "---":
        raise ConfigError(
            f"{where}: '---' starts a YAML document; Ansible reads no YAML from an INI file",
            "write the inventory in Ansible's INI format (see hosts.ini)",
        )
    elif word == "" or any(c in word for c in ":[]"):
        hint = (
            "; a section header stands alone on its line, a # comment at most after it"
            if word.startswith("[")
            else ""
        )
        raise ConfigError(
            f"{where}: Ansible cannot read {word!r} as a host, host:port or host range "
            "(it would take the whole word as a host name, without a port)",
            f"write name, name:port, 10.0.0.5:port, [ipv6]:port or name[1:3]{hint}",
        )
    else:  # a name Ansible's grammar does not know, which it takes as it is
        return [word], None
    if port == 0:
        raise ConfigError(f"{where}: {word!r} has port 0, which Ansible ignores", "use 1 to 65535")
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
            f"{where}: range [{spec}] in {word!r} has step 0", "use a step of 1 or more"
        )
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise ConfigError(
            f"{where}: zero-padded range [{spec}] in {word!r} needs a begin and end of equal length",
            f"e.g. [{begin.zfill(len(end))}:{end.zfill(len(begin))}]",
        )
    if begin.isdigit():
        first, last = int(begin), int(end)
        seq = [str(i).zfill(width) for i in range(first, last + 1, step)]
    else:  # letters, in Python's order: a-z, then A-Z
        first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
        seq = list(string.ascii_letters[first : last + 1 : step])
    if first > last:
        raise ConfigError(
            f"{where}: range [{spec}] in {word!r} runs backwards (Ansible adds no host from it, "
            "or fails)",
            f"write it as [{end}:{begin}]",
        )
    out = []
    for part in seq:
        name = head + part + tail
        out += _expand(name, word, where) if "[" in name else [name]
    return out
