"""What the FUSE tree and the loaders need from a revision's files, whatever holds them.

Two implementations: :class:`~usersnap.snapfile.squashfs.SquashfsImage` (an installed
.snap, immutable) and :class:`~usersnap.snapfile.dirsource.DirSource` (a ``usersnap try``
directory, live).  Both hand out the same :class:`Inode` records, so the tree, the
handlers and the container checks cannot tell them apart; only the tree's caching
differs, and the daemon chooses it when it adds the revision.
"""

from __future__ import annotations

from typing import Protocol

from usersnap.snapfile._squashfs_support import Inode

__all__ = ["Inode", "SnapSource"]


class SnapSource(Protocol):
    """Read access to one revision's tree; every method may be called from any thread."""

    @property
    def root(self) -> Inode: ...

    @property
    def block_size(self) -> int: ...

    @property
    def bytes_used(self) -> int: ...

    @property
    def inode_count(self) -> int: ...

    def listdir(self, dir: Inode) -> list[tuple[bytes, Inode]]: ...  # noqa: A002

    def lookup(self, dir: Inode, name: bytes) -> Inode | None: ...  # noqa: A002

    def resolve(self, path: str | bytes) -> Inode: ...

    def read(self, ino: Inode, offset: int, size: int) -> bytes: ...

    def read_ready(self, ino: Inode, offset: int, size: int) -> bytes | None:
        """``read``'s answer if it is in memory already (never blocks), else None."""

    def prefetch(self, files: list[Inode]) -> None:
        """Start reading the beginning of ``files`` in the background (a hint)."""

    def read_all(self, ino: Inode) -> bytes: ...

    def readlink(self, ino: Inode) -> bytes: ...

    def xattrs(self, ino: Inode) -> dict[bytes, bytes]: ...

    def close(self) -> None: ...
