"""The lab's ACME pieces that need no lab: the operator's /etc/hosts line and the roots a
host boots trusting (tests/lab/acme.py)."""

from __future__ import annotations

from pathlib import Path

from tests.lab import acme
from tests.lab.config import Settings

ROOT_A = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
ROOT_B = b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"


def test_the_hosts_line_is_one_marked_line_and_goes_again(tmp_path, monkeypatch):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.9 other # mine\n")
    monkeypatch.setattr(acme, "HOSTS_FILE", hosts)
    s = Settings(tmp_path)
    acme.resolve_name(s, "10.77.0.2")
    acme.resolve_name(s, "10.77.0.2")  # a second up: still one line
    lines = hosts.read_text().splitlines()
    assert lines.count(f"10.77.0.2 {acme.SITE_NAME} {acme.HOSTS_MARK}") == 1 and len(lines) == 3
    acme.forget_name()
    assert hosts.read_text() == "127.0.0.1 localhost\n10.0.0.9 other # mine\n"


def test_a_host_boots_trusting_the_running_root_and_its_layers(tmp_path):
    s = Settings(tmp_path)
    acme.tls_dir(s).mkdir(parents=True)
    acme.current_root(s).write_bytes(ROOT_A)
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "acme-root.pem").write_bytes(ROOT_B)
    merged = tmp_path / "merged"
    store = merged / acme.TRUST_BUNDLE
    store.parent.mkdir(parents=True)
    store.write_bytes(b"DISTRO\n" + ROOT_B)  # the layer's host already trusted its root
    bundle = acme.site_roots(s, layer)
    assert bundle == ROOT_A + ROOT_B and Path(acme.site_ca(s)).read_bytes() == bundle
    acme.trust_on_host(merged, bundle)
    assert store.read_bytes() == b"DISTRO\n" + ROOT_B + ROOT_A  # each root once
    local = sorted((merged / acme.TRUST_DIR).iterdir())
    assert [p.read_bytes() for p in local] == [ROOT_A, ROOT_B]
    assert acme.site_roots(s) == ROOT_A  # booted bare: the running pebble's root only
