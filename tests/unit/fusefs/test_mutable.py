"""The handlers over a mutable revision (a tried directory): nothing cached, all live."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from usersnap.fusefs.operations import SnapFS
from usersnap.fusefs.protocol import EntryAttributes, FUSEError, RequestContext
from usersnap.fusefs.tree import LIVE_TIMEOUT, ROOT_INODE, SnapTree
from usersnap.snapfile.dirsource import DirSource

CTX = RequestContext(uid=1000, gid=1000, pid=1, umask=0o022)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "app").write_bytes(b"one\n")
    (root / "bin" / "sh").symlink_to("app")
    return root


def make_fs(src: Path) -> SnapFS:
    tree = SnapTree(uid=1000, gid=1000)
    tree.add_revision("demo", "x1", DirSource(src), mutable=True)
    return SnapFS(tree)


def walk(fs: SnapFS, *names: str) -> EntryAttributes:
    ino = ROOT_INODE
    entry = fs.getattr(ino, CTX)
    for name in names:
        entry = fs.lookup(ino, name.encode(), CTX)
        ino = entry.st_ino
    return entry


def read_file(fs: SnapFS, ino: int) -> tuple[bytes, bool]:
    info = fs.open(ino, os.O_RDONLY, CTX)
    try:
        return fs.read(info.fh, 0, 4096), info.keep_cache
    finally:
        fs.release(info.fh)


def test_no_timeouts_and_no_page_cache(src: Path) -> None:
    fs = make_fs(src)
    app = walk(fs, "demo", "x1", "bin", "app")
    assert app.entry_timeout == app.attr_timeout == LIVE_TIMEOUT == 0
    negative = fs.lookup((walk(fs, "demo", "x1")).st_ino, b"nope", CTX)
    assert negative.st_ino == 0 and negative.entry_timeout == 0
    assert read_file(fs, app.st_ino) == (b"one\n", False)


def test_getattr_and_lookup_are_live(src: Path) -> None:
    fs = make_fs(src)
    bin_dir = walk(fs, "demo", "x1", "bin")
    app = walk(fs, "demo", "x1", "bin", "app")
    (src / "bin" / "app").write_bytes(b"longer content\n")
    (src / "bin" / "app").chmod(0o700)
    again = fs.getattr(app.st_ino, CTX)
    assert again.st_size == len(b"longer content\n") and again.st_mode & 0o777 == 0o700
    assert read_file(fs, app.st_ino) == (b"longer content\n", False)
    (src / "bin" / "new").write_bytes(b"new\n")
    new = fs.lookup(bin_dir.st_ino, b"new", CTX)
    assert new.st_size == 4
    tmp = src / "bin" / ".swp"
    tmp.write_bytes(b"replaced\n")
    os.replace(tmp, src / "bin" / "app")
    replaced = fs.lookup(bin_dir.st_ino, b"app", CTX)
    assert replaced.st_ino != app.st_ino
    assert read_file(fs, replaced.st_ino) == (b"replaced\n", False)
    old = fs.getattr(app.st_ino, CTX)
    assert old.st_size == len(b"longer content\n")  # the name holds another file now


def test_symlinks_are_read_each_time(src: Path) -> None:
    fs = make_fs(src)
    link = walk(fs, "demo", "x1", "bin", "sh")
    assert fs.readlink(link.st_ino, CTX) == b"app"
    (src / "bin" / "sh.new").symlink_to("/elsewhere")
    os.replace(src / "bin" / "sh.new", src / "bin" / "sh")
    with pytest.raises(FUSEError) as err:
        fs.readlink(link.st_ino, CTX)
    assert err.value.errno == errno.ENOENT
    fresh = walk(fs, "demo", "x1", "bin", "sh")
    assert fs.readlink(fresh.st_ino, CTX) == b"/elsewhere"
