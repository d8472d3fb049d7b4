"""shell.keep_newest (backup rotation) on a real directory with nasty names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tasks import shell
from tasks.errors import ConfigError


def bash(cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, capture_output=True, text=True
    )


def make(path: Path, age: int, directory: bool = True) -> Path:
    """An entry ``age`` hours old (a directory with a file in it, or a file)."""
    if directory:
        path.mkdir()
        (path / "index.html").write_text("x")
    else:
        path.write_text("x")
    t = 1_700_000_000 - age * 3600
    os.utime(path, (t, t))
    return path


def names(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


def test_spaces_newlines_and_dashes_in_names(tmp_path):
    d = tmp_path / "my backup"  # the name that made `ls | xargs rm -rf` delete ./my
    d.mkdir()
    sibling = make(tmp_path / "my", 0)
    (tmp_path / "backup").mkdir()
    for i, name in enumerate(["backup_a", "backup_b c", "backup_\nmy", "backup_-rf",
                              "backup_*", "backup_ my"]):  # fmt: skip
        make(d / name, age=10 - i)  # the later in the list, the newer
    make(d / "backup_file", age=20, directory=False)
    keep = {"other", "xbackup_1", "backup", "-rf", "-backup_1", "BACKUP_1"}
    for name in keep:
        make(d / name, age=100)
    res = bash(shell.keep_newest(str(d), "backup_", 2))
    assert res.returncode == 0, res.stderr
    assert names(d) == keep | {"backup_*", "backup_ my"}
    assert sibling.is_dir() and (sibling / "index.html").exists()
    assert (tmp_path / "backup").is_dir()


def test_symlinks_are_removed_not_followed(tmp_path):
    d, outside = tmp_path / "releases", make(tmp_path / "outside", 0)
    d.mkdir()
    make(d / "backend-new.jar", 0, directory=False)
    link = d / "backend-link"
    link.symlink_to(outside)
    os.utime(link, (1, 1), follow_symlinks=False)
    assert bash(shell.keep_newest(str(d), "backend-", 1)).returncode == 0
    assert names(d) == {"backend-new.jar"}
    assert (outside / "index.html").exists()


def test_the_prefix_is_literal_even_with_glob_characters(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    make(d / "a*b_1", 3)
    make(d / "a*b_2", 2)
    make(d / "axxb_3", 1)
    make(d / "a[b]_4", 1)
    assert bash(shell.keep_newest(str(d), "a*b_", 1)).returncode == 0
    assert names(d) == {"a*b_2", "axxb_3", "a[b]_4"}
    assert bash(shell.keep_newest(str(d), "a[b]_", 1)).returncode == 0
    assert names(d) == {"a*b_2", "axxb_3", "a[b]_4"}


def test_a_prefix_and_a_directory_starting_with_a_dash(tmp_path):
    d = tmp_path / "-rf"
    d.mkdir()
    for i in range(4):
        make(d / f"-x_{i}", age=i)
    assert bash(shell.keep_newest("-rf", "-x_", 2), cwd=tmp_path).returncode == 0
    assert names(d) == {"-x_0", "-x_1"}


def test_keeps_the_newest_by_time_not_by_name(tmp_path):
    d = tmp_path / "backups"
    d.mkdir()
    for i in range(12):
        make(d / f"backup_{i:02d}", age=(i * 7) % 12, directory=False)  # shuffled ages
    assert bash(shell.keep_newest(str(d), "backup_", 3)).returncode == 0
    ages = {f"backup_{i:02d}": (i * 7) % 12 for i in range(12)}
    assert names(d) == {n for n, age in ages.items() if age < 3}


def test_a_missing_directory_has_nothing_to_rotate(tmp_path):
    res = bash(shell.keep_newest(str(tmp_path / "nope"), "backup_", 1))
    assert res.returncode == 0 and not res.stderr


def test_a_failed_delete_fails_the_rotation(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may delete anything")
    d = tmp_path / "d"
    d.mkdir()
    stuck = make(d / "backup_old", 5)
    make(d / "backup_new", 1)
    stuck.chmod(0o500)
    try:
        assert bash(shell.keep_newest(str(d), "backup_", 1)).returncode != 0
    finally:
        stuck.chmod(0o700)


@pytest.mark.parametrize("keep", [0, -1, True, "3"])
def test_a_keep_count_below_one_is_refused(keep):
    with pytest.raises(ConfigError, match="남길 개수는 1 이상이어야 합니다"):
        shell.keep_newest("/app/backups", "backup_", keep)


@pytest.mark.parametrize("prefix", ["", "a/b"])
def test_the_prefix_is_a_plain_name(prefix):
    with pytest.raises(ConfigError, match="접두어는 /가 없는 이름이어야 합니다"):
        shell.keep_newest("/app/backups", prefix, 1)
