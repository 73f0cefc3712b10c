"""The FUSE kernel protocol, as far as usersnap's file systems speak it: pure encoding.

usersnapd answers ``/dev/fuse`` itself instead of through libfuse and pyfuse3: a walk is
thousands of small requests, and pyfuse3's trio task, lock and ``wait_readable`` per
request cost more than the answer (docs/benchmarks.md).  The value types keep pyfuse3's
names and fields, so the handlers read as before; :func:`dispatch` turns one request into
one call of a handler and its reply, without any I/O, so it is tested with bytes alone.
One departure from pyfuse3: ``readdir`` is given the directory's inode, not a handle
(directories are opened without a message, see :mod:`usersnap.fusefs.operations`).

Layouts are ``include/uapi/linux/fuse.h``'s at protocol 7.31 (little-endian x86/arm
ABI): the kernel speaks any older minor version a file system asks for.
"""

from __future__ import annotations

import errno
import functools
import stat
import struct
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

ENOATTR = errno.ENODATA
MAJOR, MINOR = 7, 31
#: The largest write the kernel sends (only the home view takes writes): each thread
#: reading /dev/fuse needs a buffer that large, held for good.
MAX_WRITE = 128 * 1024
#: What one read of /dev/fuse needs room for: the largest write and its headers.
BUFFER_SIZE = MAX_WRITE + 4096
#: Pages in the largest read the kernel may ask for (1 MiB), whatever MAX_WRITE is.
MAX_PAGES_PER_REQUEST = 256

IN_HEADER = struct.Struct("<IIQQIIIHH")
OUT_HEADER = struct.Struct("<IiQ")
_ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
_ENTRY = struct.Struct("<QQQQII")
#: fuse_entry_out: the entry, then its fuse_attr
_ENTRY_OUT = struct.Struct(_ENTRY.format + _ATTR.format[1:])
#: What a readdirplus record holds before its fuse_dirent.
ENTRY_OUT_SIZE = _ENTRY_OUT.size
_DIRENT = struct.Struct("<QQII")
#: A readdirplus record up to its name, in one pack: fuse_entry_out, then fuse_dirent.
DIRENTPLUS = struct.Struct(_ENTRY_OUT.format + _DIRENT.format[1:])
#: A readdirplus record that describes nothing: a zero fuse_entry_out (node id 0: the
#: kernel makes no inode for it), then the fuse_dirent.
PLAIN_DIRENTPLUS = struct.Struct(f"<{ENTRY_OUT_SIZE}x{_DIRENT.format[1:]}")
#: What follows a name of length n % 8 in a record: records are 8-byte aligned.
NAME_PADDING = tuple(b"\0" * (-n % 8) for n in range(8))
_ATTR_OUT = struct.Struct("<QII")
_OPEN_OUT = struct.Struct("<QII")
_INIT_IN = struct.Struct("<IIII")
_INIT_OUT = struct.Struct("<IIIIHHIIHHI28x")
_READ_IN = struct.Struct("<QQIIQII")
_WRITE_IN = struct.Struct("<QQIIQII")
_FORGET_ONE = struct.Struct("<QQ")
_SETATTR_IN = struct.Struct("<IIQQQQQQIIIIIIII")
_STATFS_OUT = struct.Struct("<QQQQQIII28x")
_U32_PAIR = struct.Struct("<II")
_U64 = struct.Struct("<Q")
_CREATE_IN = struct.Struct("<IIII")
_MKNOD_IN = struct.Struct("<IIII")
_RENAME2_IN = struct.Struct("<QII")
_RELEASE_IN = struct.Struct("<QIIQ")
_FSYNC_IN = struct.Struct("<QII")

# opcodes
LOOKUP, FORGET, GETATTR, SETATTR, READLINK, SYMLINK = 1, 2, 3, 4, 5, 6
MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, OPEN, READ = 8, 9, 10, 11, 12, 13, 14, 15
WRITE, STATFS, RELEASE, FSYNC, SETXATTR, GETXATTR = 16, 17, 18, 20, 21, 22
LISTXATTR, REMOVEXATTR, FLUSH, INIT, OPENDIR, READDIR = 23, 24, 25, 26, 27, 28
RELEASEDIR, FSYNCDIR, ACCESS, CREATE, INTERRUPT, DESTROY = 29, 30, 34, 35, 36, 38
BATCH_FORGET, READDIRPLUS, RENAME2 = 42, 44, 45

# INIT flags: what libfuse asks for by default, readdirplus always (pyfuse3's choice:
# a walk then needs no LOOKUP per entry), bigger requests (MAX_PAGES)
ASYNC_READ, ATOMIC_O_TRUNC, BIG_WRITES = 1 << 0, 1 << 3, 1 << 5
AUTO_INVAL_DATA, DO_READDIRPLUS, ASYNC_DIO = 1 << 12, 1 << 13, 1 << 15
PARALLEL_DIROPS, HANDLE_KILLPRIV, MAX_PAGES = 1 << 18, 1 << 19, 1 << 22
WANTED = (ASYNC_READ | ATOMIC_O_TRUNC | BIG_WRITES | AUTO_INVAL_DATA | DO_READDIRPLUS
          | ASYNC_DIO | PARALLEL_DIROPS | HANDLE_KILLPRIV | MAX_PAGES)  # fmt: skip

# open_out flags
FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE, FOPEN_NONSEEKABLE, FOPEN_CACHE_DIR = 1, 2, 4, 8

# setattr_in valid bits
FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE = 1, 2, 4, 8
FATTR_ATIME, FATTR_MTIME, FATTR_FH, FATTR_ATIME_NOW = 16, 32, 64, 128
FATTR_MTIME_NOW, FATTR_CTIME = 256, 1024


class FUSEError(Exception):
    """The one exception a handler raises: its errno is the reply."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.errno = code

    def __str__(self) -> str:
        return errno.errorcode.get(self.errno, str(self.errno))


class EntryAttributes:
    """A node's attributes and how long the kernel may keep them (pyfuse3's names)."""

    __slots__ = (
        "_packed",
        "attr_timeout",
        "entry_timeout",
        "generation",
        "st_atime_ns",
        "st_blksize",
        "st_blocks",
        "st_ctime_ns",
        "st_gid",
        "st_ino",
        "st_mode",
        "st_mtime_ns",
        "st_nlink",
        "st_rdev",
        "st_size",
        "st_uid",
    )  # fmt: skip

    def __init__(self) -> None:
        self.st_ino = self.generation = 0
        self.entry_timeout = self.attr_timeout = 300.0
        self.st_mode = self.st_nlink = self.st_uid = self.st_gid = self.st_rdev = 0
        self.st_size = self.st_blocks = 0
        self.st_blksize = 4096
        self.st_atime_ns = self.st_mtime_ns = self.st_ctime_ns = 0
        self._packed: bytes | None = None

    def freeze(self) -> EntryAttributes:
        """Pack once now; a frozen entry is reused for every reply (immutable images)."""
        self._packed = _pack_entry(self)
        return self


class FileInfo:
    """What an open or create answers; ``cache_readdir`` lets the kernel keep a
    directory's listing (with ``keep_cache``, across opens)."""

    __slots__ = ("cache_readdir", "direct_io", "fh", "keep_cache", "nonseekable")

    def __init__(
        self,
        fh: int = 0,
        direct_io: bool = False,
        keep_cache: bool = True,
        nonseekable: bool = False,
        cache_readdir: bool = False,
    ) -> None:
        self.fh = fh
        self.direct_io = direct_io
        self.keep_cache = keep_cache
        self.nonseekable = nonseekable
        self.cache_readdir = cache_readdir


class StatvfsData:
    __slots__ = (
        "f_bavail",
        "f_bfree",
        "f_blocks",
        "f_bsize",
        "f_favail",
        "f_ffree",
        "f_files",
        "f_frsize",
        "f_namemax",
    )  # fmt: skip

    def __init__(self) -> None:
        self.f_bsize = self.f_frsize = self.f_blocks = self.f_bfree = self.f_bavail = 0
        self.f_files = self.f_ffree = self.f_favail = self.f_namemax = 0


class SetattrFields(NamedTuple):
    update_atime: bool = False
    update_mtime: bool = False
    update_ctime: bool = False
    update_mode: bool = False
    update_uid: bool = False
    update_gid: bool = False
    update_size: bool = False


class RequestContext(NamedTuple):
    uid: int
    gid: int
    pid: int
    umask: int = 0


class ReaddirToken:
    """Where a readdir handler's entries go, up to the size the kernel asked for."""

    __slots__ = ("parts", "plus", "size", "used")

    def __init__(self, size: int, plus: bool) -> None:
        self.size = size
        self.plus = plus
        self.parts: list[bytes] = []
        self.used = 0

    def add(self, record: bytes) -> bool:
        """Add one record (:func:`dirent`, after its entry when ``plus``); False, and
        nothing added, when the reply is full."""
        if self.used + len(record) > self.size:
            return False
        self.parts.append(record)
        self.used += len(record)
        return True


def dirent(ino: int, mode: int, name: bytes, next_id: int) -> bytes:
    """One fuse_dirent, padded to 8 bytes; a readdirplus record puts the entry's
    fuse_entry_out before it."""
    head = _DIRENT.pack(ino, next_id, len(name), stat.S_IFMT(mode) >> 12)
    return head + name + NAME_PADDING[len(name) & 7]


def readdir_reply(token: ReaddirToken, name: bytes, attr: EntryAttributes, next_id: int) -> bool:
    """Add one entry; False (and nothing added) when the reply is full."""
    record = dirent(attr.st_ino, attr.st_mode, name, next_id)
    if token.plus:
        record = (attr._packed or _pack_entry(attr)) + record
    return token.add(record)


@functools.cache
def split_time(seconds: float) -> tuple[int, int]:
    """(seconds, nanoseconds); the timeouts are a few constants, so it is cached."""
    whole = int(seconds)
    return whole, int((seconds - whole) * 1e9)


def _pack_attr(attr: EntryAttributes) -> bytes:
    a, m, c = attr.st_atime_ns, attr.st_mtime_ns, attr.st_ctime_ns
    return _ATTR.pack(
        attr.st_ino, attr.st_size, attr.st_blocks, a // 10**9, m // 10**9, c // 10**9,
        a % 10**9, m % 10**9, c % 10**9, attr.st_mode, attr.st_nlink, attr.st_uid,
        attr.st_gid, attr.st_rdev, attr.st_blksize, 0,
    )  # fmt: skip


def _pack_entry(attr: EntryAttributes) -> bytes:
    entry_s, entry_ns = split_time(attr.entry_timeout)
    attr_s, attr_ns = split_time(attr.attr_timeout)
    head = _ENTRY.pack(attr.st_ino, attr.generation, entry_s, attr_s, entry_ns, attr_ns)
    return head + _pack_attr(attr)


def entry_reply(attr: EntryAttributes) -> bytes:
    return attr._packed or _pack_entry(attr)


def attr_reply(attr: EntryAttributes) -> bytes:
    seconds, nanos = split_time(attr.attr_timeout)
    return _ATTR_OUT.pack(seconds, nanos, 0) + _pack_attr(attr)


def open_reply(info: FileInfo) -> bytes:
    flags = ((FOPEN_DIRECT_IO if info.direct_io else 0)
             | (FOPEN_KEEP_CACHE if info.keep_cache else 0)
             | (FOPEN_NONSEEKABLE if info.nonseekable else 0)
             | (FOPEN_CACHE_DIR if info.cache_readdir else 0))  # fmt: skip
    return _OPEN_OUT.pack(info.fh, flags, 0)


def statfs_reply(st: StatvfsData) -> bytes:
    return _STATFS_OUT.pack(
        st.f_blocks,
        st.f_bfree,
        st.f_bavail,
        st.f_files,
        st.f_ffree,
        st.f_bsize,
        st.f_namemax,
        st.f_frsize,
    )


def init_reply(body: bytes | memoryview) -> bytes:
    """Agree on the protocol: ours if the kernel's is newer, with the flags it offers
    of those we want; a kernel older than 7.31 is refused (EPROTO)."""
    major, minor, max_readahead, flags = _INIT_IN.unpack_from(body)
    if major != MAJOR or minor < MINOR:
        raise FUSEError(errno.EPROTO)
    return _INIT_OUT.pack(MAJOR, MINOR, max_readahead, flags & WANTED, 0, 0, MAX_WRITE, 1,
                          MAX_PAGES_PER_REQUEST, 0, 0)


def _enosys(self: object, *args: Any) -> Any:
    raise FUSEError(errno.ENOSYS)


class Operations:
    """Handlers :func:`dispatch` calls, pyfuse3's names and arguments (but ``readdir``
    gets the directory's inode): by default each answers ENOSYS, which tells the kernel
    not to ask again where it can (opendir, flush, ...)."""

    def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        """The kernel forgot ``nlookup`` references to each inode; nothing to answer."""

    lookup = getattr = setattr = readlink = mknod = mkdir = unlink = rmdir = symlink = \
        rename = link = open = read = write = flush = release = fsync = opendir = readdir = \
        releasedir = fsyncdir = statfs = setxattr = getxattr = listxattr = removexattr = \
        access = create = _enosys


def _names(body: memoryview, count: int) -> list[bytes]:
    """``count`` NUL-terminated strings at the start of ``body``."""
    parts = bytes(body).split(b"\0", count)
    if len(parts) <= count:
        raise FUSEError(errno.EINVAL)
    return parts[:count]


def _setattr(body: memoryview) -> tuple[EntryAttributes, SetattrFields, int | None]:
    (valid, _pad, fh, size, _owner, atime, mtime, ctime, atime_ns, mtime_ns, ctime_ns,
     mode, _u4, uid, gid, _u5) = _SETATTR_IN.unpack_from(body)  # fmt: skip
    attr = EntryAttributes()
    now = time.time_ns()
    attr.st_mode, attr.st_uid, attr.st_gid, attr.st_size = mode, uid, gid, size
    attr.st_atime_ns = now if valid & FATTR_ATIME_NOW else atime * 10**9 + atime_ns
    attr.st_mtime_ns = now if valid & FATTR_MTIME_NOW else mtime * 10**9 + mtime_ns
    attr.st_ctime_ns = ctime * 10**9 + ctime_ns
    fields = SetattrFields(
        update_atime=bool(valid & FATTR_ATIME), update_mtime=bool(valid & FATTR_MTIME),
        update_ctime=bool(valid & FATTR_CTIME), update_mode=bool(valid & FATTR_MODE),
        update_uid=bool(valid & FATTR_UID), update_gid=bool(valid & FATTR_GID),
        update_size=bool(valid & FATTR_SIZE),
    )  # fmt: skip
    return attr, fields, fh if valid & FATTR_FH else None


def _xattr_value(value: bytes, size: int) -> bytes:
    """getxattr/listxattr: the length alone when asked with size 0, ERANGE if it is
    longer than the buffer."""
    if size == 0:
        return _U32_PAIR.pack(len(value), 0)
    if len(value) > size:
        raise FUSEError(errno.ERANGE)
    return value


def dispatch(
    ops: Any, opcode: int, nodeid: int, ctx: RequestContext, body: memoryview
) -> bytes | None:
    """Call the handler for one request; its reply body, or None for requests the
    kernel expects no answer to.  Raises FUSEError (ENOSYS for what is not spoken)."""
    if opcode == READ:
        fh, offset, size, *_ = _READ_IN.unpack_from(body)
        data: bytes = ops.read(fh, offset, size)
        return data
    if opcode in (READDIRPLUS, READDIR):
        # the directory, not a handle: usersnap's directories are opened without a
        # message (opendir answers ENOSYS), so the kernel's handle is always 0
        _fh, offset, size, *_ = _READ_IN.unpack_from(body)
        token = ReaddirToken(size, opcode == READDIRPLUS)
        ops.readdir(nodeid, offset, token)
        return b"".join(token.parts)
    if opcode == LOOKUP:
        (name,) = _names(body, 1)
        return entry_reply(ops.lookup(nodeid, name, ctx))
    if opcode == GETATTR:
        return attr_reply(ops.getattr(nodeid, ctx))
    if opcode == FORGET:
        ops.forget([(nodeid, _U64.unpack_from(body)[0])])
        return None
    if opcode == BATCH_FORGET:
        count = _U32_PAIR.unpack_from(body)[0]
        pairs = [_FORGET_ONE.unpack_from(body, 8 + 16 * i) for i in range(count)]
        ops.forget(pairs)
        return None
    if opcode in (OPEN, OPENDIR):
        flags = _U32_PAIR.unpack_from(body)[0]
        if opcode == OPENDIR:
            return open_reply(ops.opendir(nodeid, ctx))
        return open_reply(ops.open(nodeid, flags, ctx))
    if opcode in (RELEASE, RELEASEDIR):
        fh = _RELEASE_IN.unpack_from(body)[0]
        (ops.release if opcode == RELEASE else ops.releasedir)(fh)
        return b""
    if opcode == FLUSH:
        ops.flush(_U64.unpack_from(body)[0])
        return b""
    if opcode in (FSYNC, FSYNCDIR):
        fh, flags, _ = _FSYNC_IN.unpack_from(body)
        (ops.fsync if opcode == FSYNC else ops.fsyncdir)(fh, bool(flags & 1))
        return b""
    if opcode == READLINK:
        target: bytes = ops.readlink(nodeid, ctx)
        return target
    if opcode == STATFS:
        return statfs_reply(ops.statfs(nodeid, ctx))
    if opcode == ACCESS:
        if not ops.access(nodeid, _U32_PAIR.unpack_from(body)[0], ctx):
            raise FUSEError(errno.EACCES)
        return b""
    if opcode == GETXATTR:
        size = _U32_PAIR.unpack_from(body)[0]
        (name,) = _names(body[8:], 1)
        return _xattr_value(ops.getxattr(nodeid, name, ctx), size)
    if opcode == LISTXATTR:
        size = _U32_PAIR.unpack_from(body)[0]
        names: Sequence[bytes] = ops.listxattr(nodeid, ctx)
        return _xattr_value(b"".join(name + b"\0" for name in names), size)
    if opcode == SETXATTR:
        size, _flags = _U32_PAIR.unpack_from(body)
        (name,) = _names(body[8:], 1)
        start = 8 + len(name) + 1
        ops.setxattr(nodeid, name, bytes(body[start : start + size]), ctx)
        return b""
    if opcode == REMOVEXATTR:
        (name,) = _names(body, 1)
        ops.removexattr(nodeid, name, ctx)
        return b""
    return _dispatch_writes(ops, opcode, nodeid, ctx, body)


def _dispatch_writes(
    ops: Any, opcode: int, nodeid: int, ctx: RequestContext, body: memoryview
) -> bytes:
    """The requests that change something (the home view's)."""
    if opcode == WRITE:
        fh, offset, size, *_ = _WRITE_IN.unpack_from(body)
        data = bytes(body[_WRITE_IN.size : _WRITE_IN.size + size])
        return _U32_PAIR.pack(ops.write(fh, offset, data), 0)
    if opcode == SETATTR:
        attr, fields, fh = _setattr(body)
        return attr_reply(ops.setattr(nodeid, attr, fields, fh, ctx))
    if opcode == CREATE:
        flags, mode, umask, _ = _CREATE_IN.unpack_from(body)
        (name,) = _names(body[_CREATE_IN.size :], 1)
        info, attr = ops.create(nodeid, name, mode, flags, ctx._replace(umask=umask))
        return entry_reply(attr) + open_reply(info)
    if opcode == MKDIR:
        mode, umask = _U32_PAIR.unpack_from(body)
        (name,) = _names(body[8:], 1)
        return entry_reply(ops.mkdir(nodeid, name, mode, ctx._replace(umask=umask)))
    if opcode == MKNOD:
        mode, rdev, umask, _ = _MKNOD_IN.unpack_from(body)
        (name,) = _names(body[_MKNOD_IN.size :], 1)
        return entry_reply(ops.mknod(nodeid, name, mode, rdev, ctx._replace(umask=umask)))
    if opcode == SYMLINK:
        name, target = _names(body, 2)
        return entry_reply(ops.symlink(nodeid, name, target, ctx))
    if opcode in (UNLINK, RMDIR):
        (name,) = _names(body, 1)
        (ops.unlink if opcode == UNLINK else ops.rmdir)(nodeid, name, ctx)
        return b""
    if opcode in (RENAME, RENAME2):
        if opcode == RENAME:
            new_dir, flags, names = _U64.unpack_from(body)[0], 0, body[8:]
        else:
            new_dir, flags, _ = _RENAME2_IN.unpack_from(body)
            names = body[_RENAME2_IN.size :]
        old, new = _names(names, 2)
        ops.rename(nodeid, old, new_dir, new, flags, ctx)
        return b""
    if opcode == LINK:
        old_node = _U64.unpack_from(body)[0]
        (name,) = _names(body[8:], 1)
        return entry_reply(ops.link(old_node, nodeid, name, ctx))
    raise FUSEError(errno.ENOSYS)
