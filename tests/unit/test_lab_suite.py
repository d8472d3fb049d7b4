"""The lab's suite (DOJANGKOK_LAB_SUITE: bookworm or trixie): each suite has its own image,
wheelhouse and layers in the shared cache, one suite's layers never push the other's out,
and `make demo`'s last check fails on the wrong versions or the wrong suite. Pure: no lab."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.lab import image, provision, versions
from tests.lab.config import LabError, Settings, stale_layers

ROOT = Path(__file__).resolve().parents[2]


def settings(monkeypatch, tmp_path, suite: str | None) -> Settings:
    monkeypatch.setenv("DOJANGKOK_LAB_CACHE", str(tmp_path))
    if suite is None:
        monkeypatch.delenv("DOJANGKOK_LAB_SUITE", raising=False)
    else:
        monkeypatch.setenv("DOJANGKOK_LAB_SUITE", suite)
    return Settings(ROOT)


def test_bookworm_by_default_trixie_when_asked_anything_else_refused(monkeypatch, tmp_path):
    assert settings(monkeypatch, tmp_path, None).suite == "bookworm"
    trixie = settings(monkeypatch, tmp_path, "trixie")
    assert (trixie.suite, trixie.debian_version, trixie.python_version) == ("trixie", "13", "3.13")
    with pytest.raises(LabError, match="'sid' is not a suite.*bookworm, trixie"):
        settings(monkeypatch, tmp_path, "sid")


def test_each_suite_has_its_own_image_and_wheelhouse(monkeypatch, tmp_path):
    book = settings(monkeypatch, tmp_path, "bookworm")
    base_book, wheels_book = image.base_path(book), provision.wheelhouse_path(book)
    trixie = settings(monkeypatch, tmp_path, "trixie")
    assert image.base_path(trixie) != base_book
    assert provision.wheelhouse_path(trixie) != wheels_book
    # trixie's package file is in trixie's recipe only: editing it leaves bookworm's image
    assert image.suite_file("trixie") in image.PROVISION_DIR.iterdir()
    assert not image.suite_file("bookworm").exists()
    # the suite itself is in the key, not only its package file
    monkeypatch.setattr(image, "suite_file", lambda suite: tmp_path / f"no-{suite}.txt")
    assert image.recipe_hash("bookworm") != image.recipe_hash("trixie")


def test_trixie_installs_its_own_jdk_and_the_rest_of_the_list(tmp_path):
    book, trixie = image.packages("bookworm"), image.packages("trixie")
    assert "openjdk-17-jdk-headless" in book and "openjdk-21-jdk-headless" not in book
    assert "openjdk-21-jdk-headless" in trixie and "openjdk-17-jdk-headless" not in trixie
    assert len(book) == len(trixie) and {"nginx", "mariadb-server", "python3-venv"} <= set(trixie)


def _layer(cache: Path, name: str, suite: str | None, age: int) -> Path:
    d = cache / name
    d.mkdir()
    if suite:
        (d / "suite").write_text(f"{suite}\n")
    t = time.time() - age
    os.utime(d, (t, t))
    return d


def test_old_layers_are_pruned_per_suite(tmp_path):
    # made before the lab knew suites (no suite file): bookworm's
    legacy = _layer(tmp_path, "golden-0legacy", None, 500)
    old_book = _layer(tmp_path, "golden-1book", "bookworm", 400)
    new_book = _layer(tmp_path, "golden-2book", "bookworm", 100)
    trixies = [_layer(tmp_path, f"golden-{i}trix", "trixie", 10 * i) for i in range(1, 5)]
    _layer(tmp_path, "setup-x", "trixie", 1000)  # another prefix: never a golden layer
    # keep 3: room for the one about to be made, the oldest go; trixie's four don't count
    assert stale_layers(tmp_path, "golden", "bookworm", 3) == [legacy]
    assert stale_layers(tmp_path, "golden", "trixie", 3) == trixies[2:]
    assert stale_layers(tmp_path, "golden", "bookworm", 2) == [old_book, legacy]
    assert new_book.exists()


def test_the_demos_check_names_what_is_wrong():
    want = {"frontend": "1.0.0", "backend": "1.0.0", "ai": "1.0.0"}
    trixie = {"cpu": ["trixie", "nginx version: nginx/1.26.3"], "gpu": ["trixie", "Python 3.13.5"]}
    assert versions.mismatches(want, dict(want), "trixie", trixie) == []
    found = versions.mismatches(want, {**want, "backend": "0.9.0"}, "trixie", trixie)
    assert found == ["backend serves '0.9.0', not '1.0.0'"]
    bookworm = {"cpu": ["bookworm"], "gpu": ["bookworm", "Python 3.11.2"]}
    assert versions.mismatches(want, want, "trixie", bookworm) == [
        "cpu runs bookworm, not trixie",
        "gpu runs bookworm, not trixie",
        "gpu's python3 is Python 3.11.2, not 3.13",
    ]
