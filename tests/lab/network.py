"""The lab bridge (dklab0) with the operator address .1; hosts attach via nspawn veths.

No NAT and no forwarding are configured, so hosts reach only the bridge (and each other).
"""

from __future__ import annotations

import ipaddress
import json

from .config import BRIDGE, LabError, Settings, run


def _links() -> list[dict]:
    return json.loads(run(["ip", "-j", "addr", "show"]).stdout or "[]")


def bridge_exists() -> bool:
    return any(link.get("ifname") == BRIDGE for link in _links())


def check_free(s: Settings) -> None:
    """Refuse a subnet that another interface or route already uses."""
    for link in _links():
        if link.get("ifname") == BRIDGE:
            continue
        for a in link.get("addr_info", []):
            if a.get("family") != "inet":
                continue
            net = ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False)
            if net.overlaps(s.subnet):
                raise LabError(
                    f"address range {s.subnet} is already in use by {link['ifname']} "
                    f"({a['local']}/{a['prefixlen']}): set DOJANGKOK_LAB_SUBNET to a free /24, "
                    "e.g. DOJANGKOK_LAB_SUBNET=10.78.0.0/24"
                )
    for r in json.loads(run(["ip", "-j", "route", "show"]).stdout or "[]"):
        dst = r.get("dst", "default")
        if dst == "default" or r.get("dev") == BRIDGE:
            continue
        if ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32").overlaps(s.subnet):
            raise LabError(
                f"address range {s.subnet} overlaps route {dst} via {r.get('dev')}: "
                "set DOJANGKOK_LAB_SUBNET to a free /24"
            )


def bridge_up(s: Settings) -> None:
    check_free(s)
    want = f"{s.operator_ip}/{s.subnet.prefixlen}"
    if bridge_exists():
        have = [
            f"{a['local']}/{a['prefixlen']}"
            for link in _links()
            if link.get("ifname") == BRIDGE
            for a in link.get("addr_info", [])
            if a.get("family") == "inet"
        ]
        if have == [want]:
            run(["ip", "link", "set", BRIDGE, "up"])
            return
        bridge_down()
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", want, "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def bridge_down() -> None:
    """Delete the bridge and any leftover nspawn veth of a lab machine."""
    for link in _links():
        name = link.get("ifname", "")
        if name == BRIDGE or name.startswith("vb-dk-"):
            run(["ip", "link", "del", name], check=False)
