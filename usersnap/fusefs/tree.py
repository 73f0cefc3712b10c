"""The virtual top of the snap mount, and the FUSE inode number of everything in it.

The mount shows ``NAME/REVISION/...`` (the root of that revision's image) and a relative
``NAME/current -> REVISION`` symlink.  This module is bookkeeping only: no I/O; every
method returns at once, called by the FUSE session's handlers under :attr:`SnapTree.lock`
or by the daemon, whose changes take that lock too.

Inode numbers.  Slot 0 holds the virtual nodes: 1 (``ROOT_INODE``) is the mount root,
snap directories and ``current`` links take numbers from a counter.  Each added revision
gets a fresh slot ``s >= 1`` and squashfs inode ``n`` becomes ``(s << 32) | n``.  Slots
and virtual numbers are never reused, so a number the kernel still caches can never
start meaning something else, and hard links (one squashfs inode) share ``st_ino``.

Removing a revision.  ``remove_revision`` unlinks it from the tree at once and returns its
image, which the tree keeps owning (the caller must not close it): files already open
keep working, and so do lookups and listings inside the revision for as long as the
image stays open.  The image is closed when the last user lets go, which is at once if
no file is open.  Users are open files and image calls in flight (``hold``/``drop``), so
a session thread never reads from a closed (or reused) file descriptor.  Directories
are opened without a message (operations.py), so they hold nothing: a listing still
going when the image closes ends with ENOENT, unless the kernel kept it.  The numbers
the kernel still holds answer ``getattr`` until it forgets them.

Kernel caching.  Images never change, so their entries and attributes get a long
timeout.  The virtual top changes under the kernel (installs, removals, ``current``), so
its entries and attributes get none: the kernel asks again on every path walk through
it, a few cheap in-memory lookups, and never shows a removed revision.  Sandboxes bind
the revision directory itself and so never walk the virtual top.  A *mutable* revision
(a ``usersnap try`` directory, whose author edits it while apps run) gets no caching
either: every lookup and ``stat`` asks the directory, so an edit shows at once; the
kernel keeps a directory's listing only until that directory's mtime changes.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Concatenate, NamedTuple, ParamSpec, Protocol, TypeVar

from usersnap.fusefs.session import StateLock

if TYPE_CHECKING:
    from usersnap.snapfile.source import Inode, SnapSource

ROOT_INODE = 1  # the FUSE protocol's FUSE_ROOT_ID
SLOT_SHIFT = 32
SLOT_MASK = (1 << SLOT_SHIFT) - 1
#: Images are immutable: anything from an hour to forever is safe (performance-baseline §2).
IMAGE_TIMEOUT = 86400.0
#: The virtual top changes under the kernel; it must ask every time.
VIRTUAL_TIMEOUT = 0.0
#: Mutable revisions change under the kernel too.
LIVE_TIMEOUT = 0.0
#: The kinds whose attributes count 512-byte blocks of their size.
HAS_DATA = frozenset({stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK})
CURRENT = "current"
VIRTUAL_BLKSIZE = 4096


class Attr(NamedTuple):
    """What ``stat`` shows for one node, plus how long the kernel may trust it (a tuple:
    readdirplus builds one per entry, and a frozen dataclass cost three times more)."""

    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    rdev: int
    size: int
    mtime_ns: int
    blksize: int
    blocks: int
    entry_timeout: float
    attr_timeout: float


@dataclass(eq=False, slots=True)
class _Known:
    """An image inode the kernel holds: what it is, where it was found, how often."""

    inode: Inode
    parent: int
    name: bytes
    lookups: int = 0


@dataclass(eq=False)
class MountedRevision:
    """One revision in the tree: its slot, its image, and who still uses it."""

    snap: str
    revision: str
    slot: int
    image: SnapSource
    #: the image may change while shown (a tried directory): nothing may be cached
    mutable: bool = False
    known: dict[int, _Known] = field(default_factory=dict)
    links: dict[int, bytes] = field(default_factory=dict)
    users: int = 0
    removed: bool = False
    closed: bool = False

    def ino(self, inode: Inode) -> int:
        return (self.slot << SLOT_SHIFT) | inode.number

    @property
    def root(self) -> Inode:
        return self.image.root

    @property
    def label(self) -> str:
        return f"snap {self.snap} revision {self.revision}"


@dataclass(frozen=True, slots=True)
class VirtualDir:
    """The mount root (``snap`` is None) or a snap's directory."""

    ino: int
    snap: str | None


@dataclass(frozen=True, slots=True)
class CurrentLink:
    ino: int
    snap: str


@dataclass(frozen=True, slots=True)
class ImageNode:
    """An inode inside a revision, with the directory and name it was found under."""

    rev: MountedRevision
    inode: Inode
    parent: int
    name: bytes

    @property
    def ino(self) -> int:
        return self.rev.ino(self.inode)

    @property
    def is_revision_root(self) -> bool:
        return self.inode.number == self.rev.root.number


Node = VirtualDir | CurrentLink | ImageNode


@dataclass(eq=False, slots=True)
class _Snap:
    dir_ino: int
    link_ino: int
    revisions: dict[str, MountedRevision] = field(default_factory=dict)
    current: str | None = None
    mtime_ns: int = 0


def revision_key(revision: str) -> tuple[str, int, str]:
    """Order "x2" before "x10" and "9" before "10"."""
    match = re.fullmatch(r"(\D*)(\d*)(.*)", revision)
    assert match is not None  # the pattern matches every string
    prefix, digits, rest = match.groups()
    return (prefix, int(digits) if digits else -1, rest)


def check_name(what: str, value: str) -> None:
    if not value or value in (".", "..", CURRENT) or "/" in value or "\0" in value:
        raise ValueError(f"invalid {what} for the snap mount: {value!r}")


class RevisionTree(Protocol):
    """What the daemon's manager changes: this FUSE tree, or the extracted tree that
    stands in for it without FUSE (:mod:`usersnap.daemon.extracted`)."""

    uid: int
    gid: int

    def materialize(self, name: str, revision: str, image: SnapSource, *,
                    mutable: bool = False, source_dir: str | None = None) -> None: ...

    def add_revision(self, name: str, revision: str, image: SnapSource, *,
                     mutable: bool = False) -> None: ...

    def remove_revision(self, name: str, revision: str) -> SnapSource | None: ...

    def set_current(self, name: str, revision: str | None) -> None: ...


P = ParamSpec("P")
T = TypeVar("T")


def _locked(fn: Callable[Concatenate[SnapTree, P], T]) -> Callable[Concatenate[SnapTree, P], T]:
    """A change from the daemon: under the lock the mount's handlers hold."""

    @functools.wraps(fn)
    def run(self: SnapTree, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with self.lock:
            return fn(self, *args, **kwargs)

    return run


class SnapTree:
    """Every mounted revision under one mount root; see the module docstring."""

    def __init__(
        self, *, uid: int | None = None, gid: int | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:  # fmt: skip
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        self._clock = clock
        self._snaps: dict[str, _Snap] = {}
        self._virtual: dict[int, VirtualDir | CurrentLink] = {
            ROOT_INODE: VirtualDir(ROOT_INODE, None)
        }
        self._slots: dict[int, MountedRevision] = {}
        self._next_virtual = ROOT_INODE + 1
        self._next_slot = 1
        self._last_stamp = 0
        self._root_mtime_ns = self._stamp()
        #: held by the FUSE session's handlers; the daemon's changes take it too
        self.lock = StateLock()

    def _stamp(self) -> int:
        """A virtual directory's new mtime: later than any before, even if the clock
        stood still or stepped back, since the kernel keeps a directory's listing for
        as long as its mtime is the one it saw."""
        self._last_stamp = max(self._clock(), self._last_stamp + 1)
        return self._last_stamp

    # -- changes, from the daemon -------------------------------------------------------

    def materialize(self, name: str, revision: str, image: SnapSource, *,
                    mutable: bool = False, source_dir: str | None = None) -> None:
        """Nothing to prepare off the loop: the mount reads the image as it is asked."""

    @_locked
    def add_revision(
        self, name: str, revision: str, image: SnapSource, *, mutable: bool = False
    ) -> None:
        """Show ``image`` as ``NAME/REVISION``; the tree owns it from now on."""
        check_name("snap name", name)
        check_name("revision", revision)
        snap = self._snap(name)
        if revision in snap.revisions:
            raise ValueError(f"revision {revision} of snap {name} is already mounted")
        rev = MountedRevision(name, revision, self._next_slot, image, mutable=mutable)
        self._next_slot += 1
        rev.known[image.root.number] = _Known(image.root, snap.dir_ino, revision.encode())
        self._slots[rev.slot] = rev
        snap.revisions[revision] = rev
        snap.mtime_ns = self._stamp()

    @_locked
    def remove_revision(self, name: str, revision: str) -> SnapSource | None:
        """Unlink ``NAME/REVISION``; return its image (closed by the tree when unused).

        None if it is not mounted.  The caller must not close the image.
        """
        snap = self._snaps.get(name)
        rev = snap.revisions.pop(revision, None) if snap else None
        if snap is None or rev is None:
            return None
        snap.mtime_ns = self._stamp()
        self._drop_snap_if_empty(name)
        rev.removed = True
        root = rev.known.get(rev.root.number)
        if root is not None and root.lookups == 0:
            del rev.known[rev.root.number]  # only pinned while the revision was shown
        self._retire(rev)
        return rev.image

    @_locked
    def set_current(self, name: str, revision: str | None) -> None:
        """Point ``NAME/current`` at ``revision`` (which may not be mounted), or remove it."""
        if revision is not None:
            check_name("revision", revision)
            snap = self._snap(name)
        elif (found := self._snaps.get(name)) is not None:
            snap = found
        else:
            return
        snap.current = revision
        snap.mtime_ns = self._stamp()
        self._drop_snap_if_empty(name)

    @_locked
    def revisions(self) -> dict[str, list[str]]:
        return {
            name: sorted(snap.revisions, key=revision_key)
            for name, snap in sorted(self._snaps.items())
            if snap.revisions
        }

    def _snap(self, name: str) -> _Snap:
        snap = self._snaps.get(name)
        if snap is None:
            check_name("snap name", name)
            snap = _Snap(self._new_virtual(), self._new_virtual(), mtime_ns=self._stamp())
            self._snaps[name] = snap
            self._virtual[snap.dir_ino] = VirtualDir(snap.dir_ino, name)
            self._virtual[snap.link_ino] = CurrentLink(snap.link_ino, name)
            self._root_mtime_ns = self._stamp()
        return snap

    def _new_virtual(self) -> int:
        ino = self._next_virtual
        self._next_virtual += 1
        return ino

    def _drop_snap_if_empty(self, name: str) -> None:
        snap = self._snaps[name]
        if not snap.revisions and snap.current is None:
            del self._snaps[name]
            del self._virtual[snap.dir_ino], self._virtual[snap.link_ino]
            self._root_mtime_ns = self._stamp()

    # -- the kernel's view, from the FUSE handlers --------------------------------------

    def node(self, ino: int) -> Node:
        """The node behind a number the kernel holds; KeyError if there is none."""
        slot, number = ino >> SLOT_SHIFT, ino & SLOT_MASK
        if slot == 0:
            return self._virtual[ino]
        rev = self._slots[slot]
        known = rev.known[number]
        return ImageNode(rev, known.inode, known.parent, known.name)

    def child(self, parent: VirtualDir, name: bytes) -> Node | None:
        """Look ``name`` up in a virtual directory."""
        try:
            text = name.decode()
        except UnicodeDecodeError:
            return None
        if parent.snap is None:
            found = self._snaps.get(text)
            return None if found is None else self._virtual[found.dir_ino]
        snap = self._snaps.get(parent.snap)
        if snap is None or snap.dir_ino != parent.ino:
            return None
        if text == CURRENT:
            return None if snap.current is None else self._virtual[snap.link_ino]
        rev = snap.revisions.get(text)
        return None if rev is None else ImageNode(rev, rev.root, parent.ino, name)

    def children(self, parent: VirtualDir) -> list[tuple[bytes, Node]]:
        """A virtual directory's entries, in a stable order."""
        if parent.snap is None:
            return [(name.encode(), self._virtual[snap.dir_ino])
                    for name, snap in sorted(self._snaps.items())]  # fmt: skip
        snap = self._snaps.get(parent.snap)
        if snap is None or snap.dir_ino != parent.ino:
            return []
        out: list[tuple[bytes, Node]] = [
            (r.encode(), ImageNode(rev, rev.root, parent.ino, r.encode()))
            for r, rev in sorted(snap.revisions.items(), key=lambda kv: revision_key(kv[0]))
        ]
        if snap.current is not None:
            out.append((CURRENT.encode(), self._virtual[snap.link_ino]))
        return out

    def parent(self, node: VirtualDir | ImageNode) -> Node | None:
        """The directory ``node`` was found in (the root is its own); None once gone."""
        if isinstance(node, ImageNode):
            try:
                return self.node(node.parent)
            except KeyError:
                return None
        return self._virtual[ROOT_INODE]

    def link_target(self, link: CurrentLink) -> bytes | None:
        snap = self._snaps.get(link.snap)
        if snap is None or snap.link_ino != link.ino or snap.current is None:
            return None
        return snap.current.encode()

    def count(self, node: Node) -> None:
        """The kernel took one more reference to ``node`` (a lookup or readdirplus entry)."""
        if isinstance(node, ImageNode):
            self.count_images(node.rev, node.parent, [(node.name, node.inode)])

    @staticmethod
    def count_images(rev: MountedRevision, parent: int,
                     entries: Sequence[tuple[bytes, Inode]]) -> None:
        """:meth:`count` for each entry of directory ``parent`` that readdirplus returned,
        without making their ImageNodes, in one call (a cold walk returns thousands)."""
        known, mutable = rev.known, rev.mutable
        for name, inode in entries:
            found = known.get(inode.number)
            if found is None:
                known[inode.number] = _Known(inode, parent, name, 1)
                continue
            if mutable:  # the latest attributes, and where they were seen
                found.inode, found.parent, found.name = inode, parent, name
            found.lookups += 1

    def refresh(self, node: ImageNode, inode: Inode) -> ImageNode:
        """Remember newer attributes of a mutable revision's inode (same number)."""
        known = node.rev.known.get(node.inode.number)
        if known is not None:
            known.inode = inode
        return ImageNode(node.rev, inode, node.parent, node.name)

    def forget(self, ino: int, nlookup: int) -> None:
        """The kernel dropped ``nlookup`` references; virtual nodes need no count."""
        rev = self._slots.get(ino >> SLOT_SHIFT)
        if rev is None:
            return
        number = ino & SLOT_MASK
        known = rev.known.get(number)
        if known is None:
            return
        known.lookups = max(0, known.lookups - nlookup)
        if known.lookups == 0 and (rev.removed or number != rev.root.number):
            del rev.known[number]
        self._retire(rev)

    def hold(self, rev: MountedRevision) -> None:
        """Someone (an open file, an image call without the lock) uses ``rev``'s image."""
        rev.users += 1

    def drop(self, rev: MountedRevision) -> None:
        rev.users -= 1
        self._retire(rev)

    def _retire(self, rev: MountedRevision) -> None:
        """Close a removed revision's image once unused; forget its slot once unknown."""
        if not rev.removed or rev.users > 0:
            return
        if not rev.closed:
            rev.closed = True
            rev.links.clear()
            rev.image.close()
        if not rev.known:
            self._slots.pop(rev.slot, None)

    # -- attributes ---------------------------------------------------------------------

    def attr(self, node: Node) -> Attr:
        if isinstance(node, ImageNode):
            return self.image_attr(node.rev, node.inode, root=node.is_revision_root)
        if isinstance(node, CurrentLink):
            snap = self._snaps.get(node.snap)
            target = (snap.current or "") if snap else ""
            mtime = snap.mtime_ns if snap else self._root_mtime_ns
            return self._virtual_attr(node.ino, stat.S_IFLNK | 0o777, 1, len(target), mtime)
        if node.snap is None:
            return self._virtual_attr(
                node.ino, stat.S_IFDIR | 0o755, 2 + len(self._snaps), 0, self._root_mtime_ns
            )
        snap = self._snaps.get(node.snap)
        nlink = 2 + len(snap.revisions) if snap else 2
        mtime = snap.mtime_ns if snap else self._root_mtime_ns
        return self._virtual_attr(node.ino, stat.S_IFDIR | 0o755, nlink, 0, mtime)

    def _virtual_attr(self, ino: int, mode: int, nlink: int, size: int, mtime: int) -> Attr:
        return Attr(
            ino=ino, mode=mode, nlink=nlink, uid=self.uid, gid=self.gid, rdev=0, size=size,
            mtime_ns=mtime, blksize=VIRTUAL_BLKSIZE, blocks=0,
            entry_timeout=VIRTUAL_TIMEOUT, attr_timeout=VIRTUAL_TIMEOUT,
        )  # fmt: skip

    @staticmethod
    def image_attr(rev: MountedRevision, inode: Inode, *, root: bool) -> Attr:
        """The image's own metadata, uid/gid included (snapd's images are all root's);
        ``root``: the inode is the revision's root directory."""
        mode = inode.mode
        has_data = stat.S_IFMT(mode) in HAS_DATA
        timeout = LIVE_TIMEOUT if rev.mutable else IMAGE_TIMEOUT
        return Attr(
            rev.slot << SLOT_SHIFT | inode.number, mode, inode.nlink, inode.uid, inode.gid,
            inode.rdev, inode.size, inode.mtime_ns, rev.image.block_size,
            (inode.size + 511) // 512 if has_data else 0,
            VIRTUAL_TIMEOUT if root else timeout, timeout,
        )  # fmt: skip

    def statfs(self) -> tuple[int, int, int]:
        """(block size, blocks, inodes) over the revisions shown."""
        live = [rev for snap in self._snaps.values() for rev in snap.revisions.values()]
        block_size = max((rev.image.block_size for rev in live), default=131072)
        used = sum(rev.image.bytes_used for rev in live)
        inodes = sum(rev.image.inode_count for rev in live) + len(self._virtual)
        return block_size, -(-used // block_size), inodes

    def describe(self, node: ImageNode) -> str:
        """``snap NAME revision REV, /path (inode N)`` for one-line error reports."""
        rev = node.rev
        parts: list[bytes] = []
        known: _Known | None = _Known(node.inode, node.parent, node.name)
        while known is not None and known.inode.number != rev.root.number:
            parts.append(known.name)
            up = known.parent
            known = rev.known.get(up & SLOT_MASK) if up >> SLOT_SHIFT == rev.slot else None
            if known is None:
                parts.append(b"...")
        path = "/" + os.fsdecode(b"/".join(reversed(parts)))
        return f"{rev.label}, {path} (inode {node.inode.number})"
