"""A tried directory served by the real FUSE filesystem: same tree, live, confined.

The server runs in a subprocess (tests/helpers/fuse_server.py ``dir`` command) holding a
:class:`~usersnap.snapfile.dirsource.DirSource` as a mutable revision, as usersnapd does
for ``usersnap try``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fuse_server import FuseServer, fuse_server
from tests.integration.test_fusefs import hardlink_groups, make_tree, snapshot, without_ino

pytestmark = [pytest.mark.requires_fuse, pytest.mark.timeout(300)]


@pytest.fixture
def mnt(tmp_path: Path) -> Path:
    path = tmp_path / "mnt"
    path.mkdir()
    return path


@pytest.fixture
def server(mnt: Path) -> Iterator[FuseServer]:
    with fuse_server(mnt) as srv:
        yield srv


def test_tried_directory_shows_exactly_the_directory(
    tmp_path: Path, server: FuseServer, mnt: Path
) -> None:
    src = tmp_path / "src"
    make_tree(src)
    server.command(f"dir demo x1 {src}")
    got = snapshot(mnt / "demo" / "x1")
    expected = snapshot(src)
    assert len(got) > 3000 and sorted(got) == sorted(expected)
    assert without_ino(got) == without_ino(expected)
    assert hardlink_groups(got) == hardlink_groups(expected)
    assert {e["ino"] >> 32 for e in got.values()} == {1}  # type: ignore[operator]


def test_edits_show_at_once(tmp_path: Path, server: FuseServer, mnt: Path) -> None:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    script = src / "bin" / "app"
    script.write_text("one\n")
    server.command(f"dir demo x1 {src}")
    view = mnt / "demo" / "x1"
    assert (view / "bin" / "app").read_text() == "one\n"
    script.write_text("two, and longer\n")  # in place: same inode, new size
    assert (view / "bin" / "app").read_text() == "two, and longer\n"
    script.write_text("3\n")
    assert (view / "bin" / "app").read_text() == "3\n"
    assert not (view / "bin" / "new").exists()  # no negative entry may be remembered
    assert os.listdir(view / "bin") == ["app"]  # the kernel keeps this listing...
    (src / "bin" / "new").write_text("new\n")
    assert (view / "bin" / "new").read_text() == "new\n"
    assert sorted(os.listdir(view / "bin")) == ["app", "new"]  # ...while mtime stays
    (src / "bin" / "new").unlink()
    assert not (view / "bin" / "new").exists()
    assert os.listdir(view / "bin") == ["app"]
    held = open(view / "bin" / "app", "rb")  # noqa: SIM115 - kept open across the swap
    try:
        tmp = src / "bin" / ".app.swp"
        tmp.write_text("saved by an editor\n")
        os.replace(tmp, script)
        assert (view / "bin" / "app").read_text() == "saved by an editor\n"
        assert held.read() == b"3\n"  # an open file keeps its content, as on any disk
    finally:
        held.close()
    script.chmod(0o700)
    assert stat.S_IMODE(os.stat(view / "bin" / "app").st_mode) == 0o700
    (src / "share" / "deep").mkdir(parents=True)
    (src / "share" / "deep" / "f").write_text("deep\n")
    assert (view / "share" / "deep" / "f").read_text() == "deep\n"


def test_read_only(tmp_path: Path, server: FuseServer, mnt: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    server.command(f"dir demo x1 {src}")
    view = mnt / "demo" / "x1"
    for attempt in (lambda: os.open(view / "f", os.O_WRONLY), lambda: (view / "g").write_text(""),
                    lambda: (view / "d").mkdir(), lambda: (view / "f").unlink(),
                    lambda: os.chmod(view / "f", 0o600)):
        with pytest.raises(OSError) as err:
            attempt()
        assert err.value.errno == errno.EROFS
    assert (src / "f").read_text() == "x" and sorted(os.listdir(src)) == ["f"]


def test_symlinks_are_shown_and_swaps_never_reach_outside(
    tmp_path: Path, server: FuseServer, mnt: Path
) -> None:
    src, outside = tmp_path / "src", tmp_path / "outside"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "f").write_text("inside\n")
    outside.mkdir()
    (outside / "f").write_text("SECRET\n")
    (src / "esc").symlink_to(outside)
    server.command(f"dir demo x1 {src}")
    view = mnt / "demo" / "x1"
    assert os.readlink(view / "esc") == str(outside)
    assert stat.S_ISLNK(os.lstat(view / "esc").st_mode)
    held = os.open(view / "dir", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.rename(src / "dir", src / "moved")
        (src / "dir").symlink_to(outside)
        try:  # the kernel still holds the old directory: whatever it gets is not outside
            with open(os.open("f", os.O_RDONLY, dir_fd=held), "rb") as f:
                assert f.read() == b"inside\n"
        except FileNotFoundError:
            pass
    finally:
        os.close(held)
    assert stat.S_ISLNK(os.lstat(view / "dir").st_mode)  # a fresh walk sees the symlink
    assert os.readlink(view / "dir") == str(outside)
