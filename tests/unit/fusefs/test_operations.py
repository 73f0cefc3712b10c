"""The handlers called directly (no mount): errno mapping, caching answers, lifetimes."""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.fusefs.fakes import FakeImage, Hard, Link
from usersnap.fusefs import protocol
from usersnap.fusefs.operations import SnapFS
from usersnap.fusefs.protocol import EntryAttributes, FUSEError, RequestContext
from usersnap.fusefs.tree import IMAGE_TIMEOUT, ROOT_INODE, SnapTree
from usersnap.snapfile.dirsource import DirSource
from usersnap.snapfile.squashfs import CorruptImageError

CTX = RequestContext(uid=1000, gid=1000, pid=1, umask=0o022)
DATA = bytes(range(256)) * 1000


def make_fs(**xattrs: dict[bytes, bytes]) -> tuple[SnapFS, FakeImage]:
    img = FakeImage({"bin/app": DATA, "bin/sh": Link(b"app"), "meta/snap.yaml": b"name: d\n",
                     "empty": None}, xattrs=dict(xattrs))
    tree = SnapTree(uid=1000, gid=1000)
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    tree.set_current("demo", "x1")
    return SnapFS(tree), img


def walk(fs: SnapFS, *names: str) -> EntryAttributes:
    ino = ROOT_INODE
    entry = fs.getattr(ino, CTX)
    for name in names:
        entry = fs.lookup(ino, name.encode(), CTX)
        ino = entry.st_ino
    return entry


def errno_of(call: Callable[[], object]) -> int:
    with pytest.raises(FUSEError) as err:
        call()
    return err.value.errno


def test_lookup_getattr_and_cache_timeouts() -> None:
    fs, img = make_fs()
    demo = walk(fs, "demo")
    assert stat.S_ISDIR(demo.st_mode)
    assert demo.entry_timeout == demo.attr_timeout == 0
    top = walk(fs, "demo", "x1")
    assert top.st_ino == (1 << 32) | img.root.number
    assert (top.entry_timeout, top.attr_timeout) == (0, IMAGE_TIMEOUT)
    app = walk(fs, "demo", "x1", "bin", "app")
    assert (app.st_size, app.st_uid, app.st_nlink) == (len(DATA), 0, 1)
    assert app.entry_timeout == app.attr_timeout == IMAGE_TIMEOUT
    assert app.st_mtime_ns == app.st_ctime_ns == app.st_atime_ns
    again = fs.getattr(app.st_ino, CTX)
    assert again.st_ino == app.st_ino
    assert again.st_mode == app.st_mode
    via_current = walk(fs, "demo", "current")
    assert stat.S_ISLNK(via_current.st_mode)
    assert fs.readlink(via_current.st_ino, CTX) == b"x1"


def test_missing_names() -> None:
    fs, _img = make_fs()
    assert errno_of(lambda: fs.lookup(ROOT_INODE, b"nope", CTX)) == errno.ENOENT
    assert errno_of(lambda: fs.lookup(ROOT_INODE, b"\xff", CTX)) == errno.ENOENT
    top = walk(fs, "demo", "x1")
    negative = fs.lookup(top.st_ino, b"nope", CTX)
    assert negative.st_ino == 0
    assert negative.entry_timeout == IMAGE_TIMEOUT
    app = walk(fs, "demo", "x1", "bin", "app")
    assert errno_of(lambda: fs.lookup(app.st_ino, b"x", CTX)) == errno.ENOTDIR
    assert errno_of(lambda: fs.getattr(12345, CTX)) == errno.ENOENT


def test_dot_and_dotdot() -> None:
    fs, _ = make_fs()
    bin_dir = walk(fs, "demo", "x1", "bin")
    dot = fs.lookup(bin_dir.st_ino, b".", CTX)
    assert dot.st_ino == bin_dir.st_ino
    up = fs.lookup(bin_dir.st_ino, b"..", CTX)
    assert up.st_ino == walk(fs, "demo", "x1").st_ino
    up = fs.lookup(up.st_ino, b"..", CTX)
    assert up.st_ino == walk(fs, "demo").st_ino


def test_lookups_list_a_directory_once() -> None:
    fs, img = make_fs()
    top = walk(fs, "demo", "x1")
    for name in (b"bin", b"meta", b"nope", b"bin"):
        fs.lookup(top.st_ino, name, CTX)
    assert img.calls.count("listdir") == 1  # a path lookup lists nothing ahead


def readdir(fs: SnapFS, ino: int, *, plus: bool = True, size: int = 4096
            ) -> list[tuple[bytes, int]]:
    """A whole pass as the kernel makes it: pages of ``size`` bytes until an empty one;
    (name, inode) of each entry, "." and ".." included."""
    found: list[tuple[bytes, int]] = []
    offset = 0
    while True:
        token = protocol.ReaddirToken(size, plus)
        fs.readdir(ino, offset, token)
        if not token.parts:
            return found
        for record in token.parts:
            head = protocol.ENTRY_OUT_SIZE if plus else 0
            number, offset, length, _kind = struct.unpack_from("<QQII", record, head)
            found.append((record[head + 24 : head + 24 + length], number))


def test_directories_are_opened_without_a_message() -> None:
    fs, img = make_fs()
    top = walk(fs, "demo", "x1")
    # ENOSYS: the kernel then opens every directory itself and keeps its listing
    assert errno_of(lambda: fs.opendir(top.st_ino, CTX)) == errno.ENOSYS
    assert [name for name, _ in readdir(fs, ROOT_INODE)] == [b".", b"..", b"demo"]
    entries = readdir(fs, top.st_ino)
    assert [name for name, _ in entries] == [b".", b"..", b"bin", b"empty", b"meta"]
    assert dict(entries)[b"bin"] == walk(fs, "demo", "x1", "bin").st_ino
    assert readdir(fs, top.st_ino, size=200)[2:] == entries[2:]  # one entry per page
    assert fs.open_handles() == 0
    app = walk(fs, "demo", "x1", "bin", "app")
    assert errno_of(lambda: readdir(fs, app.st_ino)) == errno.ENOTDIR
    assert img.calls.count("listdir") == 4  # x1 and the three below it, once


def plus_records(fs: SnapFS, ino: int) -> dict[bytes, bytes]:
    """name -> the fuse_entry_out readdirplus gave it."""
    token = protocol.ReaddirToken(1 << 20, True)
    fs.readdir(ino, 2, token)
    out = {}
    for record in token.parts:
        length = struct.unpack_from("<I", record, protocol.ENTRY_OUT_SIZE + 16)[0]
        name = record[protocol.ENTRY_OUT_SIZE + 24 : protocol.ENTRY_OUT_SIZE + 24 + length]
        out[name] = record[: protocol.ENTRY_OUT_SIZE]
    return out


@pytest.mark.parametrize("tried", [False, True])
def test_readdirplus_agrees_with_lookup(tmp_path: Path, tried: bool) -> None:
    """The packed fast path gives each entry exactly what a lookup of it answers."""
    tree = SnapTree(uid=1000, gid=1000)
    if tried:  # live attributes, nanosecond mtimes, and kinds without data
        (tmp_path / "meta").mkdir()
        (tmp_path / "meta" / "snap.yaml").write_text("name: d\n")
        (tmp_path / "file").write_bytes(DATA)
        (tmp_path / "link").symlink_to("file")
        os.mkfifo(tmp_path / "fifo")
        os.utime(tmp_path / "file", ns=(1, 1_700_000_000_987_654_321))
        tree.add_revision("demo", "x1", DirSource(tmp_path), mutable=True)
    else:
        img = FakeImage({"file": DATA, "link": Link(b"file"), "meta/snap.yaml": b"y"})
        tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    fs = SnapFS(tree)
    top = walk(fs, "demo", "x1")
    plus_records(fs, top.st_ino)
    fs.lookup(top.st_ino, b"file", CTX)  # a stat walk: the next pass describes files
    records = plus_records(fs, top.st_ino)
    assert set(records) >= {b"file", b"link", b"meta"}
    for name, record in records.items():
        assert record == protocol.entry_reply(fs.lookup(top.st_ino, name, CTX)), name


def test_readdirplus_describes_files_only_for_a_walk_that_stats_them() -> None:
    """Subdirectories always; files once files of the directory or its parent were
    looked up after a pass that left them out (a zero entry: node id 0)."""
    tree = SnapTree(uid=1000, gid=1000)
    img = FakeImage({"a/f": b"x", "a/sub/g": b"y", "b/h": b"z", "b/sub/i": b"w",
                     "meta/snap.yaml": b"y"})  # fmt: skip
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    fs = SnapFS(tree)
    top = walk(fs, "demo", "x1").st_ino

    def described(ino: int) -> dict[bytes, bool]:
        records = plus_records(fs, ino).items()
        return {name: record != bytes(len(record)) for name, record in records}

    def ino_of(parent: int, name: bytes) -> int:
        return dict(readdir(fs, parent, plus=False))[name]

    assert described(top) == {b"a": True, b"b": True, b"meta": True}
    a, b = ino_of(top, b"a"), ino_of(top, b"b")
    assert described(a) == {b"f": False, b"sub": True}  # find: no file described
    assert described(ino_of(a, b"sub")) == {b"g": False}
    fs.lookup(a, b"sub", CTX)  # looking up a directory says nothing
    assert described(a) == {b"f": False, b"sub": True}
    fs.lookup(top, b"meta", CTX)
    fs.lookup(walk(fs, "demo", "x1", "meta").st_ino, b"snap.yaml", CTX)  # never listed
    assert described(b) == {b"h": False, b"sub": True}
    fs.lookup(b, b"h", CTX)  # after a pass that left it out: a stat walk is on
    assert described(b) == {b"h": True, b"sub": True}  # its next pass, and below it
    assert described(ino_of(b, b"sub")) == {b"i": True}
    assert described(ino_of(a, b"sub")) == {b"g": False}


def test_readdirplus_entries_count_as_lookups() -> None:
    fs, _img = make_fs()
    top = walk(fs, "demo", "x1")
    bin_ino = dict(readdir(fs, top.st_ino))[b"bin"]
    fs.forget([(bin_ino, 1)])  # the one readdirplus gave
    assert errno_of(lambda: fs.getattr(bin_ino, CTX)) == errno.ENOENT
    bin_ino = dict(readdir(fs, top.st_ino, plus=False))[b"bin"]
    assert errno_of(lambda: fs.getattr(bin_ino, CTX)) == errno.ENOENT  # none for plain


def test_a_pass_over_a_tried_directory_lists_it_once() -> None:
    img = FakeImage({f"d/f{i:02d}": b"x" for i in range(20)} | {"meta/snap.yaml": b"y"})
    tree = SnapTree(uid=1000, gid=1000)
    tree.add_revision("demo", "x1", img, mutable=True)  # type: ignore[arg-type]
    fs = SnapFS(tree)
    d = walk(fs, "demo", "x1", "d")
    before = img.calls.count("listdir")
    names = [name for name, _ in readdir(fs, d.st_ino, size=400)]  # about ten pages
    assert names[2:] == [f"f{i:02d}".encode() for i in range(20)]
    assert img.calls.count("listdir") == before + 1
    assert len(fs._passes) == 0  # ended with the pass
    readdir(fs, d.st_ino)
    assert img.calls.count("listdir") == before + 2  # a new pass sees the directory anew


def test_a_pass_lists_the_directories_below_ahead() -> None:
    fs, img = make_fs()
    top = walk(fs, "demo", "x1")
    readdir(fs, top.st_ino)
    assert img.calls.count("listdir") == 4  # x1, then bin, meta and empty ahead
    for name in ("bin", "meta", "empty"):
        readdir(fs, walk(fs, "demo", "x1", name).st_ino)
    assert img.calls.count("listdir") == 4


def test_listing_ahead_is_bounded_and_skips_damage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("usersnap.fusefs.operations.LIST_AHEAD_ENTRIES", 3)
    fs, img = make_fs()
    top = walk(fs, "demo", "x1")
    readdir(fs, top.st_ino)
    assert img.calls.count("listdir") == 1  # x1's own three entries used the budget
    monkeypatch.undo()
    fs, img = make_fs()
    meta = dict(img.listings[img.root.number])[b"meta"]
    img.failures[meta.number] = CorruptImageError("bad listing")
    top = walk(fs, "demo", "x1")
    readdir(fs, top.st_ino)
    meta_entry = fs.lookup(top.st_ino, b"meta", CTX)
    assert errno_of(lambda: readdir(fs, meta_entry.st_ino)) == errno.EIO


def test_open_read_release() -> None:
    fs, _img = make_fs()
    app = walk(fs, "demo", "x1", "bin", "app")
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC):
        assert errno_of(functools.partial(fs.open, app.st_ino, flags, CTX)) == errno.EROFS
    top = walk(fs, "demo", "x1")
    assert errno_of(lambda: fs.open(top.st_ino, os.O_RDONLY, CTX)) == errno.EISDIR
    info = fs.open(app.st_ino, os.O_RDONLY, CTX)
    assert info.keep_cache
    assert not info.direct_io
    assert fs.open_handles() == 1
    assert fs.read(info.fh, 1000, 24) == DATA[1000:1024]
    fs.release(info.fh)
    assert fs.open_handles() == 0
    assert errno_of(lambda: fs.read(info.fh, 0, 1)) == errno.EBADF


def test_reads_across_blocks() -> None:
    fs, _ = make_fs()
    app = walk(fs, "demo", "x1", "bin", "app")
    info = fs.open(app.st_ino, os.O_RDONLY, CTX)
    assert fs.read(info.fh, 0, 1 << 20) == DATA
    assert fs.read(info.fh, 100_000, 100_000) == DATA[100_000:200_000]
    assert fs.read(info.fh, len(DATA) + 5, 10) == b""


def test_ready_data_is_answered_without_a_thread() -> None:
    fs, img = make_fs()
    app = walk(fs, "demo", "x1", "bin", "app")
    info = fs.open(app.st_ino, os.O_RDONLY, CTX)
    img.ready[img.by_path["bin/app"].number] = DATA
    img.calls.clear()
    assert fs.read(info.fh, 10, 20) == DATA[10:30]
    assert img.calls == []  # image.read (a worker thread) was not needed
    img.ready.clear()
    assert fs.read(info.fh, 10, 20) == DATA[10:30]
    assert img.calls == ["read"]


def test_a_walk_prefetches_the_next_files_of_its_directory() -> None:
    files: dict[str, bytes | Link | Hard | None] = {f"lib/f{i:02d}": b"x" for i in range(12)}
    files.update({"lib/f03-empty": b"", "lib/sub": None, "meta/snap.yaml": b"name: d\n"})
    img = FakeImage(files)
    tree = SnapTree(uid=1000, gid=1000)
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    fs = SnapFS(tree)
    lib = walk(fs, "demo", "x1", "lib")
    readdir(fs, lib.st_ino)

    def open_file(name: str, *, read: bool = True) -> None:
        entry = fs.lookup(lib.st_ino, name.encode(), CTX)
        info = fs.open(entry.st_ino, os.O_RDONLY, CTX)
        if read:
            assert fs.read(info.fh, 0, 4096) == b"x"
        fs.release(info.fh)

    open_file("f00")
    open_file("f01", read=False)  # the page cache served it: not part of a walk
    assert img.prefetched == []  # one read is no walk yet
    open_file("f02")  # two entries on: a walk (tar skips what it cannot read)
    # the six entries after it, less the empty file
    assert img.prefetched == [[img.by_path[f"lib/f{i:02d}"].number for i in range(3, 8)]]
    for name in ("f09", "f06", "f10"):  # a jump, going back, four entries on: no walk
        open_file(name)
    open_file("f11")  # a walk, but only the directory "sub" comes after it
    for name in ("f00", "f01", "f02", "f03"):  # a walk the page cache serves
        open_file(name, read=False)
    assert len(img.prefetched) == 1


def test_corrupt_data_is_eio_and_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    fs, img = make_fs()
    app = walk(fs, "demo", "x1", "bin", "app")
    img.failures[img.by_path["bin/app"].number] = CorruptImageError(
        "cannot read squashfs image /x.snap: cannot decompress data block at 96"
    )
    info = fs.open(app.st_ino, os.O_RDONLY, CTX)
    with caplog.at_level(logging.ERROR, logger="usersnap.fusefs.operations"):
        assert errno_of(lambda: fs.read(info.fh, 0, 4096)) == errno.EIO
        assert errno_of(lambda: fs.read(info.fh, 4096, 4096)) == errno.EIO
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert line.startswith("snap demo revision x1, /bin/app (inode ")
    assert "cannot decompress data block at 96" in line
    assert "\n" not in line


def test_unexpected_errors_become_eio(caplog: pytest.LogCaptureFixture) -> None:
    fs, img = make_fs()
    app = walk(fs, "demo", "x1", "bin", "app")
    img.failures[img.by_path["bin/app"].number] = RuntimeError("bug")
    info = fs.open(app.st_ino, os.O_RDONLY, CTX)
    with caplog.at_level(logging.ERROR):
        assert errno_of(lambda: fs.read(info.fh, 0, 1)) == errno.EIO
    assert "unexpected error in FUSE handler read" in caplog.text
    img.failures[img.by_path["bin/app"].number] = PermissionError(errno.EACCES, "no")
    assert errno_of(lambda: fs.read(info.fh, 0, 1)) == errno.EACCES


def test_removed_revision_serves_open_files_until_released() -> None:
    fs, img = make_fs()
    app = walk(fs, "demo", "x1", "bin", "app")
    meta = walk(fs, "demo", "x1", "meta")
    info = fs.open(app.st_ino, os.O_RDONLY, CTX)
    demo = walk(fs, "demo")
    removed: object = fs.tree.remove_revision("demo", "x1")
    assert removed is img
    assert errno_of(lambda: fs.lookup(demo.st_ino, b"x1", CTX)) == errno.ENOENT
    assert not img.closed
    assert fs.read(info.fh, 0, 10) == DATA[:10]
    fs.lookup(meta.st_ino, b"snap.yaml", CTX)
    fs.release(info.fh)
    assert img.closed
    assert fs.getattr(app.st_ino, CTX).st_size == len(DATA)
    assert errno_of(lambda: fs.open(app.st_ino, os.O_RDONLY, CTX)) == errno.ENOENT
    assert errno_of(lambda: fs.lookup(meta.st_ino, b"x", CTX)) == errno.ENOENT
    fs.forget([(app.st_ino, 1), (12345, 1)])  # unknown numbers are ignored


def test_readlink_is_cached_and_checked() -> None:
    fs, img = make_fs()
    link = walk(fs, "demo", "x1", "bin", "sh")
    for _ in range(3):
        assert fs.readlink(link.st_ino, CTX) == b"app"
    assert img.calls.count("readlink") == 1
    app = walk(fs, "demo", "x1", "bin", "app")
    assert errno_of(lambda: fs.readlink(app.st_ino, CTX)) == errno.EINVAL


def test_xattrs() -> None:
    fs, img = make_fs(**{"meta/snap.yaml": {b"user.a": b"1", b"security.b": b"2"}})
    app = walk(fs, "demo", "x1", "bin", "app")
    assert errno_of(lambda: fs.getxattr(app.st_ino, b"user.a", CTX)) == protocol.ENOATTR
    assert fs.listxattr(app.st_ino, CTX) == []
    assert "xattrs" not in img.calls  # answered from the inode: it has none
    yaml = walk(fs, "demo", "x1", "meta", "snap.yaml")
    assert fs.getxattr(yaml.st_ino, b"user.a", CTX) == b"1"
    assert sorted(fs.listxattr(yaml.st_ino, CTX)) == [b"security.b", b"user.a"]
    assert errno_of(lambda: fs.getxattr(ROOT_INODE, b"user.a", CTX)) == protocol.ENOATTR


def test_statfs_and_access() -> None:
    fs, img = make_fs()
    st = fs.statfs(ROOT_INODE, CTX)
    assert (st.f_bsize, st.f_frsize, st.f_namemax) == (131072, 131072, 255)
    assert st.f_blocks == 1
    assert st.f_files == img.inode_count + 3
    assert st.f_bfree == 0
    app = walk(fs, "demo", "x1", "bin", "app")
    assert fs.access(app.st_ino, os.R_OK, CTX)
    assert not fs.access(app.st_ino, os.X_OK, CTX)
    assert errno_of(lambda: fs.access(app.st_ino, os.W_OK, CTX)) == errno.EROFS
    root = RequestContext(uid=0, gid=0, pid=1)
    assert not fs.access(app.st_ino, os.X_OK, root)
    assert fs.access(ROOT_INODE, os.X_OK | os.R_OK, CTX)


def test_every_write_is_erofs() -> None:
    fs, _ = make_fs()
    top = walk(fs, "demo", "x1").st_ino
    calls = [
        lambda: fs.setattr(top, EntryAttributes(), protocol.SetattrFields(), None, CTX),
        lambda: fs.mknod(top, b"n", stat.S_IFIFO | 0o644, 0, CTX),
        lambda: fs.mkdir(ROOT_INODE, b"d", 0o755, CTX),
        lambda: fs.unlink(top, b"bin", CTX),
        lambda: fs.rmdir(top, b"empty", CTX),
        lambda: fs.symlink(top, b"l", b"t", CTX),
        lambda: fs.rename(top, b"bin", top, b"b2", 0, CTX),
        lambda: fs.link(top, ROOT_INODE, b"l", CTX),
        lambda: fs.write(1, 0, b"x"),
        lambda: fs.create(top, b"f", 0o644, os.O_WRONLY, CTX),
        lambda: fs.setxattr(top, b"user.x", b"1", CTX),
        lambda: fs.removexattr(top, b"user.x", CTX),
    ]
    for call in calls:
        assert errno_of(call) == errno.EROFS
