"""Root's own() (tasks/engine/safepath.py), run by bash and python3 on this machine.

What a deploy login could have planted where setup's root steps make or fix a path: a link
at the path or on the way, a FIFO or a second name (a hard link) where a file should be, a
root-owned directory moved under the name. Each is refused by name and nothing behind it
changes; what is missing is made, what is right is left alone.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from tasks.engine import safepath
from tasks.hostfacts import tracked

ME = pwd.getpwuid(os.getuid()).pw_name
ROOT = os.geteuid() == 0


def own(kind: str, path: Path, mode: str = "750", owner: str = ME, group: str = ""):
    command = tracked(f"{safepath.OWN_FN}; {safepath.own(kind, str(path), mode, owner, group)}")
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A directory like a checkout: the (would-be) deploy login's, others may not write."""
    d = tmp_path / "base"
    d.mkdir(mode=0o755)
    if ROOT:
        os.chown(d, 65534, 65534)
    return d


def test_a_missing_directory_is_made_with_its_owner_and_mode_then_left_alone(base):
    res = own("dir", base / "a" / "b")
    assert res.returncode == 0, res.stderr
    assert oct((base / "a" / "b").stat().st_mode)[-3:] == "750"
    assert (base / "a").stat().st_uid == base.stat().st_uid  # its parent's owner
    assert res.stdout.strip().endswith("b (made)")
    again = own("dir", base / "a" / "b")
    assert again.returncode == 0 and again.stdout.startswith("변경 없음")
    (base / "a" / "b").chmod(0o777)
    assert own("dir", base / "a" / "b").stdout.strip().endswith("b (mode)")


def test_a_link_at_the_path_or_on_the_way_is_refused_and_nothing_behind_it_changes(base, tmp_path):
    target = tmp_path / "root-only"
    target.mkdir(mode=0o700)
    secret = target / "f"
    secret.write_text("x")
    secret.chmod(0o600)
    (base / "link").symlink_to(target)
    (base / "flink").symlink_to(secret)
    if ROOT:  # the deploy login's links
        for name in ("link", "flink"):
            os.chown(base / name, 65534, 65534, follow_symlinks=False)
    for kind, path in (("dir", base / "link"), ("dir", base / "link" / "x"),
                       ("file", base / "flink"), ("file", base / "link" / "f")):  # fmt: skip
        res = own(kind, path, "777")
        assert res.returncode == 1, (path, res.stdout)
        assert str(path) in res.stderr and "심볼릭 링크" in res.stderr
        assert "Traceback" not in res.stderr
    assert oct(target.stat().st_mode)[-3:] == "700" and oct(secret.stat().st_mode)[-3:] == "600"
    assert not (target / "x").exists()


def test_a_file_must_be_a_regular_file_with_one_name(base):
    os.mkfifo(base / "fifo")
    (base / "f").write_text("")
    os.link(base / "f", base / "f2")
    for name in ("fifo", "f"):
        res = own("file", base / name, "640")
        assert res.returncode == 1 and "regular file" in res.stderr, res.stderr
    made = own("file", base / "new", "640")
    assert made.returncode == 0 and oct((base / "new").stat().st_mode)[-3:] == "640"
    assert (base / "new").read_text() == ""


def test_an_unknown_owner_is_named_without_a_traceback(base):
    res = own("dir", base / "d", owner="no-such-user-here")
    assert res.returncode == 1 and "no such user" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.skipif(not ROOT, reason="owners other than one's own need root")
def test_root_s_directory_in_a_directory_others_write_is_not_handed_over(tmp_path):
    """A deploy login could move one there (a rename in its own directory) to be given it."""
    deploy_owned = tmp_path / "checkout"
    deploy_owned.mkdir(mode=0o755)
    os.chown(deploy_owned, 65534, 65534)
    (deploy_owned / "rootdir").mkdir()
    res = own("dir", deploy_owned / "rootdir", owner="nobody")
    assert res.returncode == 1 and "root" in res.stderr
    assert (deploy_owned / "rootdir").stat().st_uid == 0


@pytest.mark.skipif(not ROOT, reason="a link root owns needs root")
def test_a_link_only_root_could_have_made_is_followed(tmp_path):
    """e.g. /var/run → /run: root's link, in root's directory that no one else writes."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o755)
    (tmp_path / "real").mkdir(mode=0o755)
    (closed / "run").symlink_to(tmp_path / "real")
    res = own("dir", closed / "run" / "x", owner="root")
    assert res.returncode == 0, res.stderr and (tmp_path / "real" / "x").is_dir()
    os.chown(closed / "run", 65534, 65534, follow_symlinks=False)  # someone else's link
    res = own("dir", closed / "run" / "y", owner="root")
    assert res.returncode == 1 and not (tmp_path / "real" / "y").exists()


def test_the_deploy_lock_s_state_directory_is_made_without_following_a_link(base, tmp_path):
    """tasks/engine/lock.py: the state directory a deploy's lock lives in, made as root when
    it is missing (a state_dir whose parent the deploy login writes may hold its link)."""
    from tasks.engine import lock
    from tasks.hosts.settings import Settings

    target = tmp_path / "root-only"
    target.mkdir(mode=0o700)
    (base / "state").symlink_to(target)
    before = target.stat()
    made = lock.state_dir_create(Settings(state_dir=str(base / "state")), ME)
    res = subprocess.run(["bash", "-c", made], capture_output=True, text=True)
    assert res.returncode != 0 and "심볼릭 링크" in res.stderr, res
    after = target.stat()
    assert (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode)
    fresh = lock.state_dir_create(Settings(state_dir=str(base / "new" / "state")), ME)
    res = subprocess.run(["bash", "-c", fresh], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    st = (base / "new" / "state").stat()
    assert (st.st_uid, oct(st.st_mode)[-3:]) == (os.getuid(), "755")
