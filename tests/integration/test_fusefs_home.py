"""The home view (``<mount>/.home``) served by a real FUSE mount, used from outside the
serving process: what passes through to the real directory and what the AppArmor-like
rule refuses.  (tests/integration/test_interfaces.py uses it from a real sandbox.)"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.fuse_server import fuse_server

pytestmark = [pytest.mark.requires_fuse, pytest.mark.timeout(120)]


@pytest.fixture
def real(tmp_path: Path) -> Path:
    """The real home behind the view, with a visible and a hidden side."""
    home = tmp_path / "realhome"
    home.mkdir()
    (home / "notes.txt").write_text("notes\n")
    (home / "Documents").mkdir()
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("secret\n")
    (home / ".profile").write_text("secret\n")
    (home / ".dotlink").symlink_to("notes.txt")
    (home / "keys").symlink_to(".ssh")
    return home


@pytest.fixture
def view(tmp_path: Path, real: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with fuse_server(mnt, home=real):
        yield mnt / ".home"


def errno_of(call: Callable[[], object]) -> int:
    with pytest.raises(OSError) as err:
        call()
    return err.value.errno or 0


def test_lists_visible_names_and_hides_the_view(view: Path, real: Path) -> None:
    assert sorted(os.listdir(view)) == ["Documents", "keys", "notes.txt", "snap"]
    assert ".home" not in os.listdir(view.parent)
    assert os.stat(view).st_mtime_ns == os.stat(real).st_mtime_ns
    st = os.stat(real)
    assert os.getxattr(view, "user.usersnap.home") == f"{st.st_dev}:{st.st_ino}".encode()
    assert (view / "notes.txt").read_text() == "notes\n"
    assert os.readlink(view / "keys") == ".ssh"
    assert os.readlink(view / ".dotlink") == "notes.txt"
    assert (view / ".dotlink").read_text() == "notes\n"  # resolved back in the view


def test_listings_follow_changes(view: Path, real: Path) -> None:
    """The kernel keeps a listing: changes through the view show at once, changes
    made outside it once the directory's attributes expire (home.TIMEOUT, 1 s)."""
    assert "made" not in os.listdir(view)
    (view / "made").write_text("x")
    assert "made" in os.listdir(view)
    (view / "made").unlink()
    assert "made" not in os.listdir(view)
    (real / "outside").mkdir()
    deadline = time.monotonic() + 10
    while "outside" not in os.listdir(view):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_hidden_entries_are_empty_placeholders(view: Path) -> None:
    assert stat.S_IMODE(os.stat(view / ".ssh").st_mode) == 0
    assert stat.S_ISDIR(os.stat(view / ".ssh").st_mode)
    assert stat.S_ISREG(os.stat(view / ".profile").st_mode)
    assert errno_of(lambda: os.listdir(view / ".ssh")) == errno.EACCES
    assert errno_of(lambda: (view / ".ssh" / "id_rsa").read_text()) == errno.EACCES
    assert errno_of(lambda: (view / ".profile").read_text()) == errno.EACCES
    assert errno_of(lambda: (view / "keys" / "id_rsa").read_text()) == errno.EACCES
    assert errno_of(lambda: os.stat(view / ".absent")) == errno.ENOENT
    assert os.listdir(view / "snap") == []


def test_new_visible_entries_reach_the_real_home(view: Path, real: Path) -> None:
    (view / "newfile").write_text("one\n")
    with open(view / "newfile", "a") as f:
        f.write("two\n")
    (view / "newdir" / "sub").mkdir(parents=True, mode=0o750)
    (view / "newdir" / "sub" / "file").write_bytes(b"x" * 300_000)
    os.chmod(view / "newfile", 0o640)
    os.utime(view / "newfile", ns=(1_000_000_000, 2_000_000_000))
    assert (real / "newfile").read_text() == "one\ntwo\n"
    assert stat.S_IMODE((real / "newfile").stat().st_mode) == 0o640
    assert (real / "newfile").stat().st_mtime_ns == 2_000_000_000
    assert stat.S_IMODE((real / "newdir" / "sub").stat().st_mode) == 0o750
    assert (real / "newdir" / "sub" / "file").read_bytes() == b"x" * 300_000
    os.truncate(view / "newdir" / "sub" / "file", 10)
    assert (real / "newdir" / "sub" / "file").stat().st_size == 10
    os.symlink("newfile", view / "newlink")
    os.link(view / "newfile", view / "newhard")
    os.rename(view / "newdir", view / "moved")
    assert os.readlink(real / "newlink") == "newfile"
    assert (real / "newhard").stat().st_ino == (real / "newfile").stat().st_ino
    assert (real / "moved" / "sub" / "file").exists() and not (real / "newdir").exists()
    (view / "moved" / "sub" / "file").unlink()
    os.rmdir(view / "moved" / "sub")
    (view / "moved" / ".hidden-below").write_text("fine below the top\n")
    assert (real / "moved" / ".hidden-below").exists()
    assert os.statvfs(view).f_blocks == os.statvfs(real).f_blocks  # free space: home's
    assert os.statvfs(view.parent).f_bavail == 0  # the snap tree: images, nothing free
    big = os.urandom(3 * 1024 * 1024 + 5)  # many write requests, one file
    (view / "big.bin").write_bytes(big)
    assert (real / "big.bin").read_bytes() == big
    assert (view / "big.bin").read_bytes() == big


def test_hidden_top_level_names_cannot_be_made(view: Path, real: Path) -> None:
    before = sorted(os.listdir(real))
    (view / "newfile").write_text("x\n")
    attempts = [
        lambda: (view / ".bash_login").write_text("x"),
        lambda: (view / ".config").mkdir(),
        lambda: os.symlink("x", view / ".evil"),
        lambda: os.link(view / "newfile", view / ".evil2"),
        lambda: os.rename(view / "newfile", view / ".hidden"),
        lambda: os.mkfifo(view / ".fifo"),
        lambda: os.rename(view / ".dotlink", view / "undotted"),
        lambda: os.unlink(view / ".dotlink"),
        lambda: os.unlink(view / ".profile"),
        lambda: os.rmdir(view / ".ssh"),
        lambda: (view / "snap" / "x").mkdir(),
    ]
    for attempt in attempts:
        assert errno_of(attempt) == errno.EACCES, attempt
    assert sorted(os.listdir(real)) == sorted([*before, "newfile"])
    assert os.listdir(real / ".ssh") == ["id_rsa"]


def test_planted_symlinks_stay_in_the_view(view: Path, real: Path) -> None:
    """Links made below resolve in the mount, back into the view and its rule."""
    (view / "dir").mkdir()
    os.symlink("../.ssh", view / "dir" / "up")
    os.symlink("..", view / "dir" / "parent")
    assert errno_of(lambda: (view / "dir" / "up" / "id_rsa").read_text()) == errno.EACCES
    assert errno_of(lambda: (view / "dir" / "parent" / ".profile").read_text()) == errno.EACCES
    assert errno_of(lambda: (view / "dir" / "parent" / ".new").write_text("x")) == errno.EACCES
    assert sorted(os.listdir(real / ".ssh")) == ["id_rsa"]
    assert not (real / ".new").exists()


def test_snap_tree_stays_read_only(view: Path) -> None:
    mnt = view.parent
    assert errno_of(lambda: (mnt / "new-snap").mkdir()) == errno.EROFS
    assert errno_of(lambda: os.rename(view / "notes.txt", mnt / "x")) == errno.EXDEV
