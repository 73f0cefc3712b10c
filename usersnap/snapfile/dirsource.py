"""An unpacked snap directory, read like a SquashFS image: ``usersnap try``'s revisions.

snapd bind-mounts a tried directory on ``/snap/NAME/xN``; usersnapd serves it through the
same FUSE tree as installed images, so :class:`DirSource` answers the calls
:class:`~usersnap.snapfile.squashfs.SquashfsImage` answers, with the same ``Inode``
records, and nothing downstream knows the difference.

The view never leaves the directory.  Everything is reached from the directory's own
descriptor one name at a time, with ``O_NOFOLLOW`` and ``*at`` calls, and every object
opened is checked to be the one that was looked up (device, inode number and type).  A symlink
inside is shown as a symlink and never followed, so no path through the mount reaches a
file outside, whatever is renamed or swapped meanwhile.  Only the directory itself may be
reached through a symlink, as with snapd's bind mount.  A mount point inside shows as an
empty directory, as under a (non-recursive) bind mount, when it is another filesystem
(a different ``st_dev``); this also keeps the daemon from ever reading its own mount.

Inode numbers: each ``(st_dev, st_ino)`` met gets a small number of its own (the tree
packs numbers into 32 bits), so hard links share one and a file replaced by a rename gets
a new one.  The content is live: lookups and listings ask the directory every time and
reads go to the file, which is why the tree gives such revisions no kernel caching.
Descriptors of recently used files and directories are kept, a bounded number.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from usersnap.errors import SnapFileError
from usersnap.snapfile._squashfs_support import INVALID_INDEX, Inode

__all__ = ["DirSource"]

#: Directories are held as O_PATH descriptors: enough for *at calls, and usable on
#: directories the user may search but not list, as the kernel's own path walk is.
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: O_NONBLOCK: should the name have become a FIFO since it was looked up, the open must
#: not wait for a writer (the identity check then refuses it).
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_LIST_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
ROOT_NUMBER = 1
#: Open descriptors kept per source (the daemon's descriptor limit is shared).
FD_CACHE = 64
_READ_CHUNK = 1 << 20
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where an inode number was last seen, and what it must be when opened there."""

    parent: int  # 0 for the root
    name: bytes
    dev: int
    ino: int
    kind: int  # S_IFMT: a freed inode number may come back as something else
    mountpoint: bool

    def same(self, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode)) == (self.dev, self.ino, self.kind)


@dataclass(eq=False, slots=True)
class _Fd:
    fd: int
    users: int = 0
    evicted: bool = False


class DirSource:
    """A directory tree, read-only and confined to it; one instance may serve many threads.

    ``close()`` must not race calls still running in other threads (the FUSE tree holds
    a revision while it calls into it, as for images).
    """

    def __init__(self, path: str | os.PathLike[str], *, fd_cache: int = FD_CACHE) -> None:
        self.path = Path(path)
        self._capacity = max(1, fd_cache)
        self._lock = threading.Lock()
        self._numbers: dict[tuple[int, int], int] = {}
        self._where: dict[int, _Where] = {}
        self._fds: OrderedDict[int, _Fd] = OrderedDict()
        self._closed = False
        try:
            fd = os.open(self.path, _DIR_FLAGS & ~os.O_NOFOLLOW)
        except OSError as err:
            raise SnapFileError(f'cannot open "{self.path}": {_strerror(err)}') from err
        self._root = _Fd(fd)
        st = os.fstat(fd)
        self.block_size = st.st_blksize or 4096
        self.root = self._inode(st, 0, b"", mountpoint=False)

    # -- the SquashfsImage API ----------------------------------------------------------

    @property
    def bytes_used(self) -> int:
        """Unknown without walking the tree; statfs counts images only."""
        return 0

    @property
    def inode_count(self) -> int:
        return len(self._where)

    def listdir(self, dir: Inode) -> list[tuple[bytes, Inode]]:  # noqa: A002
        """Entries in byte order, without "." and ".."; a mount point lists as empty."""
        where = self._where_of(dir, need_dir=True)
        if where.mountpoint:
            return []
        held = self._acquire(dir.number)
        try:
            fd = os.open(".", _LIST_FLAGS, dir_fd=held.fd)
        finally:
            self._release(held)
        entries: list[tuple[bytes, Inode]] = []
        try:
            for text in os.listdir(fd):
                name = os.fsencode(text)
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError as err:
                    if err.errno in _GONE:
                        continue  # removed while we listed
                    raise
                entries.append((name, self._child(where, dir.number, name, st)))
        finally:
            os.close(fd)
        entries.sort(key=lambda entry: entry[0])
        return entries

    def lookup(self, dir: Inode, name: bytes) -> Inode | None:  # noqa: A002
        where = self._where_of(dir, need_dir=True)
        if where.mountpoint or name in (b"", b".", b"..") or b"/" in name or b"\0" in name:
            return None
        held = self._acquire(dir.number)
        try:
            st = os.stat(name, dir_fd=held.fd, follow_symlinks=False)
        except OSError as err:
            if err.errno in _GONE:
                return None
            raise
        finally:
            self._release(held)
        return self._child(where, dir.number, name, st)

    def resolve(self, path: str | bytes) -> Inode:
        """The inode at ``path`` (from the root; ".." is lexical), following no symlink."""
        raw = os.fsencode(path)
        trail = [self.root]
        for part in raw.split(b"/"):
            if part == b".." and len(trail) > 1:
                trail.pop()
            elif part in (b"", b".", b".."):
                continue
            elif not trail[-1].is_dir:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), raw)
            else:
                child = self.lookup(trail[-1], part)
                if child is None:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), raw)
                trail.append(child)
        if raw.endswith(b"/") and not trail[-1].is_dir:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), raw)
        return trail[-1]

    def read_ready(self, ino: Inode, offset: int, size: int) -> bytes | None:
        """Nothing is kept: the files are read as they are now, in a thread."""
        return None

    def prefetch(self, files: list[Inode]) -> None:
        """Nothing to prepare: the host's page cache serves the directory's files."""

    def read(self, ino: Inode, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` of the file as it is now."""
        if not ino.is_reg:
            code = errno.EISDIR if ino.is_dir else errno.EINVAL
            raise (IsADirectoryError if ino.is_dir else OSError)(code, os.strerror(code))
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        held = self._acquire(ino.number)
        try:
            parts: list[bytes] = []
            while size > 0:
                chunk = os.pread(held.fd, size, offset)
                if not chunk:
                    break
                parts.append(chunk)
                size -= len(chunk)
                offset += len(chunk)
        finally:
            self._release(held)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_all(self, ino: Inode) -> bytes:
        """The whole file as it is now (its size may differ from ``ino.size``)."""
        parts = []
        offset = 0
        while chunk := self.read(ino, offset, _READ_CHUNK):
            parts.append(chunk)
            offset += len(chunk)
        return b"".join(parts)

    def readlink(self, ino: Inode) -> bytes:
        if not ino.is_symlink:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        where = self._where_of(ino)
        held = self._acquire(where.parent)
        try:
            if not where.same(os.stat(where.name, dir_fd=held.fd, follow_symlinks=False)):
                raise _stale(where)
            return os.readlink(where.name, dir_fd=held.fd)
        except OSError as err:
            if err.errno in _GONE:
                raise _stale(where) from None
            raise
        finally:
            self._release(held)

    def xattrs(self, ino: Inode) -> dict[bytes, bytes]:
        """Extended attributes of regular files and directories (others cannot have
        user ones, and opening them is what this class never does)."""
        if ino.xattr == INVALID_INDEX:
            return {}
        held = self._acquire(ino.number)
        try:
            fd = os.open(".", _LIST_FLAGS, dir_fd=held.fd) if ino.is_dir else os.dup(held.fd)
        finally:
            self._release(held)
        out: dict[bytes, bytes] = {}
        try:
            for name in os.listxattr(fd):
                try:
                    out[os.fsencode(name)] = os.getxattr(fd, name)
                except OSError as err:
                    if err.errno not in (errno.ENODATA, errno.EACCES, errno.EPERM):
                        raise
        except OSError as err:
            if err.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
        finally:
            os.close(fd)
        return out

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            entries = [self._root, *self._fds.values()]
            self._fds.clear()
        for entry in entries:
            if entry.users:
                entry.evicted = True  # closed by the last user
            else:
                os.close(entry.fd)

    def __enter__(self) -> DirSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    # -- numbers ------------------------------------------------------------------------

    def _inode(self, st: os.stat_result, parent: int, name: bytes, *, mountpoint: bool) -> Inode:
        key = (st.st_dev, st.st_ino)
        with self._lock:
            number = self._numbers.get(key)
            if number is None:
                number = self._numbers[key] = len(self._numbers) + ROOT_NUMBER
            if number != ROOT_NUMBER or parent == 0:
                self._where[number] = _Where(parent, name, st.st_dev, st.st_ino,
                                             stat.S_IFMT(st.st_mode), mountpoint)
        kind = stat.S_IFMT(st.st_mode)
        has_xattrs = kind in (stat.S_IFREG, stat.S_IFDIR)
        seconds, nanos = divmod(st.st_mtime_ns, 10**9)
        return Inode(
            ref=number, number=number, mode=st.st_mode, uid=st.st_uid, gid=st.st_gid,
            mtime=seconds, size=st.st_size if has_xattrs or kind == stat.S_IFLNK else 0,
            nlink=st.st_nlink, rdev=st.st_rdev, xattr=0 if has_xattrs else INVALID_INDEX,
            mtime_nsec=nanos,
        )  # fmt: skip

    def _child(self, parent: _Where, parent_number: int, name: bytes,
               st: os.stat_result) -> Inode:
        mountpoint = stat.S_ISDIR(st.st_mode) and st.st_dev != parent.dev
        return self._inode(st, parent_number, name, mountpoint=mountpoint)

    def _where_of(self, ino: Inode, *, need_dir: bool = False) -> _Where:
        if need_dir and not ino.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        where = self._where.get(ino.number)
        if where is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        return where

    # -- descriptors --------------------------------------------------------------------

    def _acquire(self, number: int) -> _Fd:
        """A descriptor of inode ``number``, held until ``_release``: opened name by name
        from the nearest held ancestor, each step checked to be the inode expected."""
        chain: list[int] = []
        with self._lock:
            if self._closed:
                raise SnapFileError(f"cannot read {self.path}: it is closed")
            while True:
                entry = self._root if number == ROOT_NUMBER else self._fds.get(number)
                if entry is not None:
                    if number != ROOT_NUMBER:
                        self._fds.move_to_end(number)
                    entry.users += 1
                    break
                chain.append(number)
                where = self._where.get(number)
                if where is None:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
                number = where.parent
        for child in reversed(chain):
            entry = self._open_child(entry, child)
        return entry

    def _open_child(self, parent: _Fd, number: int) -> _Fd:
        """Open ``number`` under the held ``parent``; releases ``parent``, holds the result."""
        where = self._where[number]
        try:
            flags = _DIR_FLAGS if where.kind == stat.S_IFDIR else _FILE_FLAGS
            fd = os.open(where.name, flags, dir_fd=parent.fd)
        except OSError as err:
            if err.errno in _GONE:
                raise _stale(where) from None
            raise
        finally:
            self._release(parent)
        try:
            if not where.same(os.fstat(fd)):
                raise _stale(where)
        except BaseException:
            os.close(fd)
            raise
        return self._keep(number, fd)

    def _keep(self, number: int, fd: int) -> _Fd:
        """Cache and hold a new descriptor (or the one another thread cached meanwhile)."""
        unused: list[int] = []
        with self._lock:
            entry = self._fds.get(number)
            if self._closed or entry is not None:
                unused.append(fd)
            else:
                entry = self._fds[number] = _Fd(fd)
                while len(self._fds) > self._capacity:
                    _, old = self._fds.popitem(last=False)
                    if old.users:
                        old.evicted = True
                    else:
                        unused.append(old.fd)
            if entry is not None:
                entry.users += 1
        for old_fd in unused:
            os.close(old_fd)
        if entry is None:
            raise SnapFileError(f"cannot read {self.path}: it is closed")
        return entry

    def _release(self, entry: _Fd) -> None:
        with self._lock:
            entry.users -= 1
            done = entry.evicted and entry.users == 0
        if done:
            os.close(entry.fd)


def _stale(where: _Where) -> FileNotFoundError:
    """The name no longer holds the inode looked up: for the kernel, it is gone."""
    name = os.fsdecode(where.name)
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)


def _strerror(err: OSError) -> str:
    text = err.strerror or str(err)
    return text[:1].lower() + text[1:]
