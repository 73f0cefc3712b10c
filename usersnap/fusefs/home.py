"""The home view: a writable passthrough of the user's $HOME at ``<mount>/.home``.

A sandbox whose snap plugs ``home`` gets this view at $HOME, with each existing visible
top-level entry of the real $HOME bound straight over it (so those are served by the
kernel; see :func:`usersnap.sandbox.plan.sandbox_ops`).  What the view itself serves is
therefore $HOME's top level and whatever the app creates there, under the rule of
:mod:`usersnap.fusefs.homepolicy` (snapd's AppArmor ``home`` rule):

- visible names are passed through, whatever their kind, and anything may be created,
  renamed or removed below them;
- hidden (dot) names are never listed and never created, renamed, linked or removed
  (EACCES, as AppArmor answers).  A lookup finds a hidden *symlink* as itself (the
  kernel resolves it inside the sandbox, back through this view, which is what
  AppArmor's rules on the resolved path amount to) and any other existing hidden
  entry as an empty placeholder of its kind with mode 0: nothing in it can be read,
  listed or written, but the planner can mount over it (``personal-files`` binds);
- ``snap`` is always an empty placeholder directory: the planner mounts a tmpfs there
  holding the snap's own ``~/snap/NAME``.

Every inode the kernel knows holds an ``O_PATH | O_NOFOLLOW`` descriptor of the real
file, opened relative to its parent's descriptor with a single path component: no
path is ever resolved again, so renames, symlinks planted below, or ``..`` cannot lead
outside $HOME or to a hidden entry.  Files are reopened through ``/proc/self/fd``
(the descriptor, not a path).  Every system call that can block runs with the file
system's lock let go (closing an O_PATH descriptor, which does no I/O, keeps it).  Inode
numbers start at :data:`HOME_BASE`, above any the snap tree uses.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from usersnap.fusefs.homepolicy import (
    IDENTITY_XATTR,
    RESERVED,
    classify,
    component_ok,
    identity,
    may_change,
)
from usersnap.fusefs.listings import PassListings
from usersnap.fusefs.protocol import (
    ENOATTR,
    EntryAttributes,
    FileInfo,
    FUSEError,
    ReaddirToken,
    SetattrFields,
    StatvfsData,
    readdir_reply,
)
from usersnap.fusefs.session import StateLock

T = TypeVar("T")

#: First inode (the view's root) and file handle number of the view.
HOME_BASE = 1 << 62
#: How long the kernel may trust an entry or attributes: the host may change them too.
TIMEOUT = 1.0
#: Entries prepared per unlocked call while listing a directory.
READDIR_CHUNK = 128
_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def _proc(fd: int) -> str:
    """The file ``fd`` refers to, for calls that take no descriptor (never a path walk)."""
    return f"/proc/self/fd/{fd}"


@dataclass(eq=False, slots=True)
class _Node:
    ino: int
    #: an O_PATH descriptor of the real file; -1 for a placeholder
    fd: int
    #: (st_dev, st_ino) of the real file, or the placeholder's name
    key: object
    #: a placeholder's st_mode (0: a real file)
    placeholder: int = 0
    #: a hidden top-level entry (only symlinks are real): never changed through the view
    hidden: bool = False
    lookups: int = 0


class HomeView:
    """The view of one home directory; :class:`usersnap.fusefs.operations.SnapFS`
    hands it every request about an inode or handle at or above :data:`HOME_BASE`."""

    def __init__(self, path: str, *, uid: int, gid: int) -> None:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.uid, self.gid = uid, gid
        #: let go around system calls; the mount's (the snap tree's) once SnapFS has it
        self.lock = StateLock()
        self._root = _Node(HOME_BASE, fd, None, lookups=1)
        self._nodes: dict[int, _Node] = {HOME_BASE: self._root}
        self._keys: dict[object, _Node] = {}
        self._next_ino = HOME_BASE + 1
        self._files: dict[int, int] = {}
        self._passes: PassListings[bytes] = PassListings()
        self._next_fh = HOME_BASE

    @staticmethod
    def owns(number: int) -> bool:
        """Whether an inode or file handle number is the view's."""
        return number >= HOME_BASE

    def open_handles(self) -> int:
        return len(self._files)

    def close(self) -> None:
        for fd in (*(n.fd for n in self._nodes.values() if n.fd >= 0), *self._files.values()):
            os.close(fd)
        self._nodes.clear()
        self._files.clear()

    # -- helpers ------------------------------------------------------------------------

    def _node(self, ino: int) -> _Node:
        node = self._nodes.get(ino)
        if node is None:
            raise FUSEError(errno.ENOENT)
        return node

    def _real(self, ino: int) -> _Node:
        """A node backed by a real file: placeholders refuse everything."""
        node = self._node(ino)
        if node.placeholder:
            raise FUSEError(errno.EACCES)
        return node

    def _parent(self, ino: int, name: bytes) -> _Node:
        """The directory to make, remove or rename ``name`` in, if the rule allows it."""
        node = self._real(ino)
        if not component_ok(name):
            raise FUSEError(errno.EINVAL)
        if node is self._root and not may_change(os.fsdecode(name)):
            raise FUSEError(errno.EACCES)
        return node

    def _sys(self, call: Callable[[], T]) -> T:
        """Run blocking system calls without the lock; errors become their errno."""
        try:
            with self.lock.released():
                return call()
        except OSError as err:
            raise FUSEError(err.errno or errno.EIO) from None

    def _adopt(self, fd: int, st: os.stat_result, *, hidden: bool = False) -> _Node:
        """The node of a freshly opened O_PATH ``fd`` (closed if the file is known)."""
        key = (st.st_dev, st.st_ino)
        node = self._keys.get(key)
        if node is not None:
            os.close(fd)
        else:
            node = self._new(fd, key)
        node.hidden |= hidden
        return node

    def _new(self, fd: int, key: object, placeholder: int = 0) -> _Node:
        node = _Node(self._next_ino, fd, key, placeholder)
        self._next_ino += 1
        self._nodes[node.ino] = node
        self._keys[key] = node
        return node

    def _placeholder(self, name: bytes, mode: int) -> _Node:
        key = ("placeholder", name, mode)
        return self._keys.get(key) or self._new(-1, key, mode)

    def _drop(self, node: _Node) -> None:
        if node.lookups > 0 or node is self._root:
            return
        del self._nodes[node.ino]
        self._keys.pop(node.key, None)
        if node.fd >= 0:
            os.close(node.fd)

    def _entry(self, node: _Node, st: os.stat_result | None) -> EntryAttributes:
        entry = EntryAttributes()
        entry.st_ino = node.ino
        entry.entry_timeout = entry.attr_timeout = TIMEOUT
        if st is None:  # a placeholder
            entry.st_mode = node.placeholder
            entry.st_nlink = 2 if stat.S_ISDIR(node.placeholder) else 1
            entry.st_uid, entry.st_gid = self.uid, self.gid
            entry.st_blksize = 4096
            return entry
        entry.st_mode = st.st_mode
        entry.st_nlink = st.st_nlink
        entry.st_uid, entry.st_gid = st.st_uid, st.st_gid
        entry.st_rdev = st.st_rdev
        entry.st_size = st.st_size
        entry.st_blksize = st.st_blksize
        entry.st_blocks = st.st_blocks
        entry.st_atime_ns = st.st_atime_ns
        entry.st_mtime_ns = st.st_mtime_ns
        entry.st_ctime_ns = st.st_ctime_ns
        return entry

    def _stat(self, node: _Node) -> os.stat_result | None:
        if node.placeholder:
            return None
        fd = node.fd
        return self._sys(lambda: os.fstat(fd))

    def _found(self, node: _Node, st: os.stat_result | None) -> EntryAttributes:
        """Reply to something that gives the kernel a reference (lookup, create, ...)."""
        node.lookups += 1
        return self._entry(node, st)

    # -- lookups and attributes ---------------------------------------------------------

    def root_entry(self) -> EntryAttributes:
        """``<mount>/.home`` itself."""
        return self._found(self._root, self._stat(self._root))

    def lookup(self, parent_ino: int, name: bytes) -> EntryAttributes:
        parent = self._node(parent_ino)
        if parent.placeholder or not component_ok(name):
            raise FUSEError(errno.ENOENT)
        kind = classify(os.fsdecode(name)) if parent is self._root else "visible"
        if kind == "reserved":
            return self._found(self._placeholder(name, stat.S_IFDIR | 0o755), None)
        fd, st = self._sys(lambda: _open_child(parent.fd, name))
        if kind == "hidden" and not stat.S_ISLNK(st.st_mode):
            os.close(fd)
            mode = stat.S_IFDIR if stat.S_ISDIR(st.st_mode) else stat.S_IFREG
            return self._found(self._placeholder(name, mode), None)
        return self._found(self._adopt(fd, st, hidden=kind == "hidden"), st)

    def forget(self, ino: int, nlookup: int) -> None:
        node = self._nodes.get(ino)
        if node is not None:
            node.lookups = max(0, node.lookups - nlookup)
            self._drop(node)

    def getattr(self, ino: int) -> EntryAttributes:
        node = self._node(ino)
        return self._entry(node, self._stat(node))

    def setattr(self, ino: int, attr: EntryAttributes, fields: SetattrFields,
                      fh: int | None) -> EntryAttributes:
        node = self._real(ino)
        if node.hidden:
            raise FUSEError(errno.EACCES)
        file_fd = self._files.get(fh) if fh is not None else None
        path = _proc(node.fd)

        def change() -> os.stat_result:
            st = os.fstat(node.fd)
            if stat.S_ISLNK(st.st_mode):  # no call changes a symlink through its O_PATH fd
                raise OSError(errno.EOPNOTSUPP, "symlink")
            if fields.update_mode:
                os.chmod(path, stat.S_IMODE(attr.st_mode))
            if fields.update_uid or fields.update_gid:
                os.chown(path, attr.st_uid if fields.update_uid else -1,
                         attr.st_gid if fields.update_gid else -1)
            if fields.update_size:
                if file_fd is not None:
                    os.ftruncate(file_fd, attr.st_size)
                else:
                    os.truncate(path, attr.st_size)
            if fields.update_atime or fields.update_mtime:
                os.utime(path, ns=(
                    attr.st_atime_ns if fields.update_atime else st.st_atime_ns,
                    attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns))
            return os.fstat(node.fd)

        return self._entry(node, self._sys(change))

    def readlink(self, ino: int) -> bytes:
        node = self._real(ino)
        return self._sys(lambda: os.fsencode(os.readlink("", dir_fd=node.fd)))

    def statfs(self) -> StatvfsData:
        fd = self._root.fd
        vfs = self._sys(lambda: os.statvfs(fd))
        st = StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files",
                     "f_ffree", "f_favail", "f_namemax"):
            setattr(st, name, getattr(vfs, name))
        return st

    # -- directories --------------------------------------------------------------------

    def _names(self, node: _Node) -> list[bytes]:
        if node.placeholder:  # only ``snap`` can be opened (the others have mode 0)
            return []

        def listing() -> list[bytes]:
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=node.fd)
            try:
                return [os.fsencode(n) for n in os.listdir(fd)]
            finally:
                os.close(fd)

        names = self._sys(listing)
        if node is self._root:  # hidden names are never listed; snap is the placeholder
            names = [n for n in names if classify(os.fsdecode(n)) == "visible"]
            names.append(RESERVED.encode())
        return names

    def readdir(self, ino: int, start_id: int, token: ReaddirToken) -> None:
        """Offsets as in SnapFS: 1 after ".", 2 after "..", 2 + k after entry k; a pass
        lists the directory once, at its start (:class:`PassListings`)."""
        node = self._node(ino)
        if node.placeholder and not stat.S_ISDIR(node.placeholder):
            raise FUSEError(errno.ENOTDIR)
        names = self._passes.get(ino, start_id, lambda: self._names(node))
        if start_id >= 2 + len(names):
            self._passes.end(ino)
            return
        if start_id < 2:
            st = self._stat(node)
            for index in range(start_id, 2):
                if not readdir_reply(token, (b".", b"..")[index], self._entry(node, st),
                                     index + 1):  # fmt: skip
                    return
        start = max(start_id, 2)
        reserved = RESERVED.encode() if node is self._root else None
        while start - 2 < len(names):
            chunk = names[start - 2:start - 2 + READDIR_CHUNK]
            real = [name for name in chunk if name != reserved]
            found = self._sys(functools.partial(_open_children, node.fd, real))
            opened = dict(zip(real, found, strict=True))
            for offset, name in enumerate(chunk):
                child = opened.pop(name, None)
                if name == reserved:
                    entry_node, st = self._placeholder(name, stat.S_IFDIR | 0o755), None
                elif child is None:  # gone since listed
                    continue
                else:
                    entry_node, st = self._adopt(*child), child[1]
                if readdir_reply(token, name, self._entry(entry_node, st),
                                         start + offset + 1):
                    if token.plus:  # the kernel holds what readdirplus returns
                        entry_node.lookups += 1
                    else:
                        self._drop(entry_node)
                    continue
                self._drop(entry_node)
                for rest in opened.values():
                    if rest is not None:
                        os.close(rest[0])
                return
            start += len(chunk)

    # -- files --------------------------------------------------------------------------

    def _handle(self, fd: int) -> int:
        fh = self._next_fh
        self._next_fh += 1
        self._files[fh] = fd
        return fh

    def _fd(self, fh: int) -> int:
        fd = self._files.get(fh)
        if fd is None:
            raise FUSEError(errno.EBADF)
        return fd

    def open(self, ino: int, flags: int) -> FileInfo:
        node = self._real(ino)
        # the descriptor, not a path: a magic link cannot take O_NOFOLLOW
        mode = (flags & ~(os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_NOFOLLOW)) | os.O_CLOEXEC

        def reopen() -> int:
            if not stat.S_ISREG(os.fstat(node.fd).st_mode):  # the kernel opens only files
                raise OSError(errno.EINVAL, "not a regular file")
            return os.open(_proc(node.fd), mode)

        fd = self._sys(reopen)
        return FileInfo(fh=self._handle(fd), keep_cache=False, direct_io=False)

    def read(self, fh: int, off: int, size: int) -> bytes:
        fd = self._fd(fh)
        return self._sys(lambda: os.pread(fd, size, off))

    def write(self, fh: int, off: int, buf: bytes) -> int:
        fd = self._fd(fh)
        return self._sys(lambda: os.pwrite(fd, buf, off))

    def fsync(self, fh: int, datasync: bool) -> None:
        fd = self._fd(fh)
        self._sys(lambda: os.fdatasync(fd) if datasync else os.fsync(fd))

    def release(self, fh: int) -> None:
        fd = self._files.pop(fh, None)
        if fd is not None:
            self._sys(lambda: os.close(fd))

    # -- making and removing ------------------------------------------------------------

    def create(self, parent_ino: int, name: bytes, mode: int, flags: int
                     ) -> tuple[FileInfo, EntryAttributes]:
        parent = self._parent(parent_ino, name)

        def make() -> tuple[int, int, os.stat_result]:
            base = (flags & ~(os.O_CREAT | os.O_EXCL)) | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(name, base | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=parent.fd)
                made = True
            except FileExistsError:
                if flags & os.O_EXCL:
                    raise
                fd = os.open(name, base, dir_fd=parent.fd)
                made = False
            try:
                if made:  # the mode asked for (umask applied by the kernel), not ours
                    os.fchmod(fd, stat.S_IMODE(mode))
                return fd, os.open(_proc(fd), os.O_PATH | os.O_CLOEXEC), os.fstat(fd)
            except BaseException:
                os.close(fd)
                raise

        fd, path_fd, st = self._sys(make)
        info = FileInfo(fh=self._handle(fd), keep_cache=False, direct_io=False)
        return info, self._found(self._adopt(path_fd, st), st)

    def _made(self, parent: _Node, name: bytes, call: Callable[[], None],
                    mode: int | None) -> EntryAttributes:
        """Run ``call`` (which makes ``name``), then open what it made as a node."""
        def make() -> tuple[int, os.stat_result]:
            call()
            fd, st = _open_child(parent.fd, name)
            if mode is not None and not stat.S_ISLNK(st.st_mode):
                try:
                    os.chmod(_proc(fd), stat.S_IMODE(mode))
                    st = os.fstat(fd)
                except BaseException:
                    os.close(fd)
                    raise
            return fd, st

        fd, st = self._sys(make)
        return self._found(self._adopt(fd, st), st)

    def mkdir(self, parent_ino: int, name: bytes, mode: int) -> EntryAttributes:
        parent = self._parent(parent_ino, name)
        return self._made(parent, name, lambda: os.mkdir(name, 0o700, dir_fd=parent.fd),
                                mode)

    def mknod(self, parent_ino: int, name: bytes, mode: int, rdev: int
                    ) -> EntryAttributes:
        parent = self._parent(parent_ino, name)
        return self._made(
            parent, name, lambda: os.mknod(name, mode & ~0o7777 | 0o600, rdev, dir_fd=parent.fd),
            mode)

    def symlink(self, parent_ino: int, name: bytes, target: bytes) -> EntryAttributes:
        parent = self._parent(parent_ino, name)
        return self._made(parent, name, lambda: os.symlink(target, name, dir_fd=parent.fd),
                                None)

    def link(self, ino: int, parent_ino: int, name: bytes) -> EntryAttributes:
        node = self._real(ino)
        if node.hidden:
            raise FUSEError(errno.EACCES)
        parent = self._parent(parent_ino, name)
        return self._made(parent, name, lambda: os.link(
            _proc(node.fd), name, dst_dir_fd=parent.fd, follow_symlinks=True), None)

    def unlink(self, parent_ino: int, name: bytes) -> None:
        parent = self._parent(parent_ino, name)
        self._sys(lambda: os.unlink(name, dir_fd=parent.fd))

    def rmdir(self, parent_ino: int, name: bytes) -> None:
        parent = self._parent(parent_ino, name)
        self._sys(lambda: os.rmdir(name, dir_fd=parent.fd))

    def rename(self, old_ino: int, old: bytes, new_ino: int, new: bytes,
                     flags: int) -> None:
        src, dest = self._parent(old_ino, old), self._parent(new_ino, new)
        if flags:
            self._sys(lambda: _renameat2(src.fd, old, dest.fd, new, flags))
        else:
            self._sys(lambda: os.rename(old, new, src_dir_fd=src.fd,
                                              dst_dir_fd=dest.fd))

    # -- extended attributes ------------------------------------------------------------

    def _xattr_path(self, ino: int) -> str | None:
        """Where a real file's xattrs are (None: a symlink or placeholder has none)."""
        node = self._node(ino)
        return None if node.placeholder or node.hidden else _proc(node.fd)

    def getxattr(self, ino: int, name: bytes) -> bytes:
        if ino == HOME_BASE and name == IDENTITY_XATTR.encode():
            st = self._stat(self._root)
            assert st is not None
            return identity(st.st_dev, st.st_ino)
        path = self._xattr_path(ino)
        if path is None:
            raise FUSEError(ENOATTR)
        return self._sys(lambda: os.getxattr(path, name))

    def listxattr(self, ino: int) -> Sequence[bytes]:
        path = self._xattr_path(ino)
        if path is None:
            return []
        return [os.fsencode(n) for n in self._sys(lambda: os.listxattr(path))]

    def setxattr(self, ino: int, name: bytes, value: bytes) -> None:
        path = self._xattr_path(ino)
        if path is None:
            raise FUSEError(errno.EACCES)
        self._sys(lambda: os.setxattr(path, name, value))

    def removexattr(self, ino: int, name: bytes) -> None:
        path = self._xattr_path(ino)
        if path is None:
            raise FUSEError(errno.EACCES)
        self._sys(lambda: os.removexattr(path, name))


def _open_child(parent_fd: int, name: bytes) -> tuple[int, os.stat_result]:
    """An O_PATH descriptor of ``name`` in ``parent_fd`` itself (a symlink stays one)."""
    fd = os.open(name, _PATH_FLAGS, dir_fd=parent_fd)
    try:
        return fd, os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise


def _open_children(parent_fd: int, names: Sequence[bytes]
                   ) -> list[tuple[int, os.stat_result] | None]:
    out: list[tuple[int, os.stat_result] | None] = []
    for name in names:
        try:
            out.append(_open_child(parent_fd, name))
        except OSError:
            out.append(None)
    return out


def _renameat2(old_fd: int, old: bytes, new_fd: int, new: bytes, flags: int) -> None:
    """renameat2(2) (RENAME_NOREPLACE, RENAME_EXCHANGE): os.rename takes no flags."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(old_fd, old, new_fd, new, ctypes.c_uint(flags)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
