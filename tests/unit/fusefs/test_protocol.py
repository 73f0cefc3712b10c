"""The FUSE protocol's encoding, fed raw request bodies (no kernel, no mount)."""

from __future__ import annotations

import errno
import stat
import struct
from typing import Any

import pytest

from usersnap.fusefs import protocol
from usersnap.fusefs.protocol import (
    EntryAttributes,
    FileInfo,
    FUSEError,
    Operations,
    RequestContext,
    StatvfsData,
    dispatch,
    readdir_reply,
)

CTX = RequestContext(uid=1000, gid=1000, pid=42)


def attr(ino: int, mode: int = stat.S_IFREG | 0o644, size: int = 5) -> EntryAttributes:
    entry = EntryAttributes()
    entry.st_ino, entry.st_mode, entry.st_size, entry.st_nlink = ino, mode, size, 1
    entry.st_mtime_ns = 1_700_000_000_123_456_789
    entry.entry_timeout, entry.attr_timeout = 2.5, 86400
    return entry


class Recorder(Operations):
    """Answers a few requests and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def lookup(self, parent: int, name: bytes, ctx: RequestContext) -> EntryAttributes:
        self.calls.append(("lookup", parent, name, ctx.uid))
        if name == b"missing":
            raise FUSEError(errno.ENOENT)
        return attr(7)

    def forget(self, inode_list: Any) -> None:
        self.calls.append(("forget", list(inode_list)))

    def opendir(self, inode: int, ctx: RequestContext) -> FileInfo:
        if inode == 1:
            return FileInfo(fh=3, keep_cache=False)
        return FileInfo(fh=4, cache_readdir=True)

    def readdir(self, inode: int, start: int, token: protocol.ReaddirToken) -> None:
        self.calls.append(("readdir", inode, start))
        for index, name in enumerate([b"a", b"bb", b"c" * 200][start:], start):
            if not readdir_reply(token, name, attr(10 + index), index + 1):
                return

    def getxattr(self, inode: int, name: bytes, ctx: RequestContext) -> bytes:
        return b"value"

    def setattr(self, inode: int, new: EntryAttributes, fields: Any, fh: int | None,
                ctx: RequestContext) -> EntryAttributes:  # fmt: skip
        self.calls.append(("setattr", fields, new.st_size, new.st_mode, fh))
        return attr(inode)

    def rename(self, old_dir: int, old: bytes, new_dir: int, new: bytes, flags: int,
               ctx: RequestContext) -> None:  # fmt: skip
        self.calls.append(("rename", old_dir, old, new_dir, new, flags))

    def statfs(self, inode: int, ctx: RequestContext) -> StatvfsData:
        st = StatvfsData()
        st.f_bsize = st.f_frsize = 4096
        st.f_blocks, st.f_namemax = 10, 255
        return st


def call(ops: Operations, opcode: int, body: bytes, nodeid: int = 1) -> bytes | None:
    return dispatch(ops, opcode, nodeid, CTX, memoryview(body))


def test_lookup_answers_an_entry_and_errors_become_errno() -> None:
    ops = Recorder()
    out = call(ops, protocol.LOOKUP, b"name\0")
    assert out is not None and len(out) == 40 + 88
    nodeid, generation, entry_s, attr_s, entry_ns, attr_ns = struct.unpack_from("<QQQQII", out)
    assert (nodeid, generation, entry_s, entry_ns, attr_s, attr_ns) == (7, 0, 2, 500_000_000,
                                                                       86400, 0)  # fmt: skip
    ino, size = struct.unpack_from("<QQ", out, 40)
    (mtime,) = struct.unpack_from("<Q", out, 40 + 32)
    (mtime_ns,) = struct.unpack_from("<I", out, 40 + 52)
    (mode,) = struct.unpack_from("<I", out, 40 + 60)
    assert (ino, size, mtime, mtime_ns) == (7, 5, 1_700_000_000, 123_456_789)
    assert mode == stat.S_IFREG | 0o644
    assert ops.calls == [("lookup", 1, b"name", 1000)]
    with pytest.raises(FUSEError) as err:
        call(ops, protocol.LOOKUP, b"missing\0")
    assert err.value.errno == errno.ENOENT


def test_what_is_not_implemented_is_enosys_and_forgets_get_no_answer() -> None:
    ops = Recorder()
    for opcode, body in ((protocol.FLUSH, bytes(24)), (protocol.MKDIR, b"\0" * 8 + b"d\0"),
                         (999, b"")):  # fmt: skip
        with pytest.raises(FUSEError) as err:
            call(ops, opcode, body)
        assert err.value.errno == errno.ENOSYS
    assert call(ops, protocol.FORGET, struct.pack("<Q", 3), nodeid=9) is None
    batch = struct.pack("<II", 2, 0) + struct.pack("<QQ", 5, 1) + struct.pack("<QQ", 6, 2)
    assert call(ops, protocol.BATCH_FORGET, batch) is None
    assert ops.calls == [("forget", [(9, 3)]), ("forget", [(5, 1), (6, 2)])]


def test_a_name_without_its_nul_is_refused() -> None:
    with pytest.raises(FUSEError) as err:
        call(Recorder(), protocol.LOOKUP, b"name")
    assert err.value.errno == errno.EINVAL


def test_readdirplus_fills_up_to_the_size_asked_and_resumes() -> None:
    ops = Recorder()
    whole = call(ops, protocol.READDIRPLUS, struct.pack("<QQIIQII", 3, 0, 4096, 0, 0, 0, 0))
    assert whole is not None
    names: list[bytes] = []
    offset = 0
    while offset < len(whole):
        ino, next_id, namelen, kind = struct.unpack_from("<QQII", whole, offset + 128)
        assert next_id == len(names) + 1  # where the next readdir resumes
        names.append(whole[offset + 128 + 24 : offset + 128 + 24 + namelen])
        assert (ino, kind) == (struct.unpack_from("<Q", whole, offset)[0], stat.S_IFREG >> 12)
        offset += 128 + 24 + (namelen + 7) // 8 * 8
    assert names == [b"a", b"bb", b"c" * 200]
    first = call(ops, protocol.READDIRPLUS, struct.pack("<QQIIQII", 3, 0, 400, 0, 0, 0, 0))
    assert first is not None and len(first) == 2 * (128 + 24 + 8)  # the third does not fit
    rest = call(ops, protocol.READDIR, struct.pack("<QQIIQII", 0, 2, 4096, 0, 0, 0, 0), 5)
    assert rest is not None and len(rest) == 24 + 200  # plain entries, resumed at 2
    # the directory's inode reaches the handler, whatever the handle (always 0 for us)
    assert ops.calls[-1] == ("readdir", 5, 2)


def test_opendir_answers_enosys_unless_a_file_system_opens_directories() -> None:
    """ENOSYS makes the kernel open every later directory without a message."""
    with pytest.raises(FUSEError) as err:
        call(Operations(), protocol.OPENDIR, bytes(8), nodeid=1)
    assert err.value.errno == errno.ENOSYS


def test_opendir_may_ask_the_kernel_to_keep_the_listing() -> None:
    ops = Recorder()
    assert call(ops, protocol.OPENDIR, bytes(8), nodeid=1) == struct.pack("<QII", 3, 0, 0)
    flags = protocol.FOPEN_KEEP_CACHE | protocol.FOPEN_CACHE_DIR
    assert call(ops, protocol.OPENDIR, bytes(8), nodeid=2) == struct.pack("<QII", 4, flags, 0)


def test_xattr_sizes() -> None:
    ops = Recorder()
    assert call(ops, protocol.GETXATTR, struct.pack("<II", 0, 0) + b"user.a\0") == struct.pack(
        "<II", 5, 0)  # fmt: skip
    assert call(ops, protocol.GETXATTR, struct.pack("<II", 64, 0) + b"user.a\0") == b"value"
    with pytest.raises(FUSEError) as err:
        call(ops, protocol.GETXATTR, struct.pack("<II", 2, 0) + b"user.a\0")
    assert err.value.errno == errno.ERANGE


def test_setattr_and_rename2_arguments() -> None:
    ops = Recorder()
    valid = protocol.FATTR_SIZE | protocol.FATTR_MODE | protocol.FATTR_FH
    body = struct.pack("<IIQQQQQQIIIIIIII", valid, 0, 9, 123, 0, 0, 0, 0, 0, 0, 0, 0o600, 0,
                       0, 0, 0)  # fmt: skip
    out = call(ops, protocol.SETATTR, body, nodeid=5)
    assert out is not None and len(out) == 16 + 88
    (_, fields, size, mode, fh) = ops.calls[-1]
    assert (fields.update_size, fields.update_mode, fields.update_uid) == (True, True, False)
    assert (size, mode, fh) == (123, 0o600, 9)
    call(ops, protocol.RENAME2, struct.pack("<QII", 8, 1, 0) + b"old\0new\0", nodeid=5)
    assert ops.calls[-1] == ("rename", 5, b"old", 8, b"new", 1)


def test_init_agrees_on_our_version_and_refuses_an_old_kernel() -> None:
    offered = protocol.DO_READDIRPLUS | protocol.ASYNC_READ | (1 << 31)
    out = protocol.init_reply(struct.pack("<IIII", 7, 38, 131072, offered))
    major, minor, readahead, flags = struct.unpack_from("<IIII", out)
    assert (major, minor, readahead) == (7, protocol.MINOR, 131072)
    assert flags == protocol.DO_READDIRPLUS | protocol.ASYNC_READ  # only what we want
    assert len(out) == 64
    with pytest.raises(FUSEError):
        protocol.init_reply(struct.pack("<IIII", 7, 26, 131072, offered))


def test_statfs() -> None:
    out = call(Recorder(), protocol.STATFS, b"")
    assert out is not None and len(out) == 80
    assert struct.unpack_from("<QQQQQIII", out) == (10, 0, 0, 0, 0, 4096, 255, 4096)
