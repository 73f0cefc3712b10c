"""Write a snap image's tree to disk, read-only: what usersnap serves when FUSE is not
available (see :mod:`usersnap.daemon.extracted`), as AppImage's extract-and-run does.

The image is read through our own bounds-checked reader, never unsquashfs, so a hostile
image fails here the way it fails on the mount.  Every entry is created relative to its
parent's descriptor with one name and no symlink followed, so no name in the image can
place anything outside ``dest``.  The tree is built under a temporary name and renamed
into place: a crash leaves a ``.partial`` directory, never a half tree at ``dest``.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

from usersnap.errors import SnapFileError
from usersnap.snapfile.source import Inode, SnapSource

log = logging.getLogger(__name__)

#: how much of a file is read from the image at once
CHUNK = 1 << 20
PARTIAL = ".partial"


def extract(source: SnapSource, dest: Path, label: str) -> None:
    """Extract ``source`` to ``dest`` (which must not exist yet); ``label`` names the
    revision in errors.  Files and directories keep the image's permission bits without
    the write, setuid, setgid and sticky ones; device nodes, fifos and sockets are left
    out (an unprivileged user cannot make device nodes, and the mount's are nodev)."""
    partial = dest.with_name(dest.name + PARTIAL)
    remove_tree(partial)
    os.mkdir(partial, 0o700)
    try:
        root_fd = os.open(partial, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            _fill(source, source.root, root_fd, label)
            os.fchmod(root_fd, _mode(source.root))
        finally:
            os.close(root_fd)
        os.rename(partial, dest)
    except BaseException:
        remove_tree(partial)
        raise


def _fill(source: SnapSource, top: Inode, top_fd: int, label: str) -> None:
    """Depth first, with an explicit stack: directories get their final (read-only)
    mode once everything below them is written."""
    stack: list[tuple[Inode, int, list[tuple[bytes, Inode]]]] = [
        (top, top_fd, source.listdir(top))]
    while stack:
        directory, fd, pending = stack[-1]
        if not pending:
            stack.pop()
            if fd != top_fd:
                os.fchmod(fd, _mode(directory))
                os.close(fd)
            continue
        name, inode = pending.pop()
        if not name or name in (b".", b"..") or b"/" in name or b"\0" in name:
            raise SnapFileError(f"{label}: invalid file name {name!r} in the image")
        if inode.is_dir:
            os.mkdir(name, 0o700, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=fd)
            stack.append((inode, child, source.listdir(inode)))
        elif inode.is_reg:
            _write_file(source, inode, name, fd)
        elif inode.is_symlink:
            os.symlink(source.readlink(inode), name, dir_fd=fd)
        else:
            log.info("%s: %s left out: not a file, directory or symlink", label,
                     os.fsdecode(name))
    for _, fd, _ in stack:  # only on an error above
        if fd != top_fd:
            os.close(fd)


def _write_file(source: SnapSource, inode: Inode, name: bytes, dir_fd: int) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dir_fd)
    try:
        offset = 0
        while offset < inode.size:
            data = source.read(inode, offset, min(CHUNK, inode.size - offset))
            if not data:
                break
            os.write(fd, data)
            offset += len(data)
        os.fchmod(fd, _mode(inode))
        os.utime(fd, ns=(inode.mtime_ns, inode.mtime_ns))
    finally:
        os.close(fd)


def _mode(inode: Inode) -> int:
    """The image's permission bits, read-only; the owner can always read (and list)."""
    mode = stat.S_IMODE(inode.mode) & 0o555
    return mode | (0o500 if inode.is_dir else 0o400)


def remove_tree(path: Path) -> None:
    """Delete an extracted tree, whose directories are read-only."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    for here, dirs, _ in os.walk(path):
        for name in dirs:
            sub = os.path.join(here, name)
            if not os.path.islink(sub):
                os.chmod(sub, 0o700)
    os.chmod(path, 0o700)
    shutil.rmtree(path)
