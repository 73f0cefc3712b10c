"""A model of the sandbox's mount namespace, so layouts can be planned without building it.

snap-update-ns decides what to create, where a writable mimic is needed and which mount
hides which by probing the real namespace as it changes it.  usersnap must decide all of
that before bubblewrap starts, so :class:`Namespace` replays the base sandbox's ops
(:mod:`usersnap.sandbox.ops`) into a table of mounts and answers the same questions:
what is at a path (``lstat``-like, and ``stat``-like for snapd's ordering), and which
filesystem a new entry would land on.

The only reads of the disk go through the injected :data:`Lookup` (an ``lstat`` of a
path in the launcher's namespace: host directories, the base and ``$SNAP`` served by
FUSE, the snap's data directories); everything else is in memory, so the model is pure
and unit tests drive it with a dictionary.

Filesystems are of three sorts:

* :class:`HostTree`: a bind of a launcher-namespace path.  Read-only (the base, ``$SNAP``,
  the host's /etc...), writable but not the snap's (host /var/tmp), or the snap's own
  data (``owned``), where layout sources are created on disk as snapd creates them.
* :class:`MemTree`: a tmpfs.  The sandbox's root and /run, a writable mimic (whose
  ``origin`` entries all stay visible, re-created) or a ``type: tmpfs`` layout.
* :class:`Alias`: a layout's bind mount; lookups below it go to its source.

Paths are sandbox paths except in :class:`HostTree` (what bwrap bound there).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from usersnap.sandbox.ops import Bind, DevBind, Dir, Op, Proc, RoBind, Symlink, Tmpfs
from usersnap.sandbox.ops import Dev as DevOp

Kind = Literal["dir", "file", "symlink", "other"]
#: Linux's limit on symlinks followed while resolving one path (MAXSYMLINKS).
MAX_SYMLINKS = 40


@dataclass(frozen=True, slots=True)
class Node:
    """What ``lstat`` says about one path: its type and, for a symlink, its target."""

    kind: Kind
    target: str = ""


#: ``lstat`` of a path in the launcher's mount namespace; None when nothing is there.
Lookup = Callable[[str], "Node | None"]

DIR = Node("dir")
FILE = Node("file")


class PathError(Exception):
    """A component of a path is not a directory; snapd never follows a symlink there."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(eq=False, slots=True)
class HostTree:
    """A bind of ``path`` (a directory or a file of the launcher's namespace)."""

    path: str
    writable: bool
    #: the snap's own data: missing layout sources are created here, on disk
    owned: bool = False


@dataclass(eq=False, slots=True)
class MemTree:
    """A tmpfs and the entries created in it (relative path -> node, in creation order)."""

    #: entries may be created in it while the sandbox is set up
    setup_writable: bool
    #: the app may write in it (a ``type: tmpfs`` layout)
    writable: bool = False
    #: a writable mimic: every entry of this directory is re-created in the tmpfs
    origin: HostTree | None = None
    nodes: dict[str, Node] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Alias:
    """A layout's bind of ``source`` (a sandbox path)."""

    source: str
    writable: bool


Backing = HostTree | MemTree | Alias


@dataclass(eq=False, slots=True)
class Mount:
    dest: str
    backing: Backing


def is_below(path: str, top: str) -> bool:
    """``path`` is strictly inside ``top``."""
    return path != top and (top == "/" or path.startswith(top + "/"))


def at_or_below(path: str, top: str) -> bool:
    return path == top or is_below(path, top)


def join(top: str, rel: str) -> str:
    return posixpath.join(top, rel) if rel else top


def relative(path: str, top: str) -> str:
    """``path`` relative to ``top`` ("" for ``top`` itself); ``path`` must be at/below it."""
    if path == top:
        return ""
    return path[len(top):].lstrip("/")


def components(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def parents(path: str) -> Iterator[str]:
    """``path`` then each of its ancestors up to ``/``."""
    while True:
        yield path
        if path == "/":
            return
        path = posixpath.dirname(path)


class Namespace:
    """The sandbox's mounts: the base ops replayed, then changed by the layout planner."""

    def __init__(self, lookup: Lookup, *, owned: Iterable[str] = ()) -> None:
        self._lookup = lookup
        self._cache: dict[str, Node | None] = {}
        self.owned = frozenset(owned)
        #: visible mounts by destination (a mount hides everything below its destination)
        self.mounts: dict[str, Mount] = {"/": Mount("/", MemTree(setup_writable=True))}
        #: host paths the plan creates on disk (they exist for every later lookup)
        self.host_created: dict[str, Node] = {}

    @classmethod
    def from_ops(cls, ops: Iterable[Op], lookup: Lookup, *, owned: Iterable[str] = ()
                 ) -> Namespace:
        ns = cls(lookup, owned=owned)
        for op in ops:
            ns.apply(op)
        return ns

    # --- replaying bwrap ops ----------------------------------------------------------

    def apply(self, op: Op) -> None:
        """What bwrap does for ``op`` (it creates missing mount points and parents)."""
        if isinstance(op, (Bind, RoBind, DevBind)):
            source = self.host_node(op.src)
            if source is None and op.optional:
                return
            self._ensure(op.dest, FILE if source is not None and source.kind == "file" else DIR)
            writable = not isinstance(op, RoBind)
            self.mount(op.dest, HostTree(op.src, writable, writable and op.dest in self.owned))
        elif isinstance(op, Tmpfs):
            self._ensure(op.dest, DIR)
            self.mount(op.dest, MemTree(setup_writable=True))
        elif isinstance(op, (Proc, DevOp)):
            self._ensure(op.dest, DIR)
            self.mount(op.dest, MemTree(setup_writable=False))
        elif isinstance(op, Dir):
            self._ensure(op.dest, DIR)
        elif isinstance(op, Symlink):
            self._ensure(posixpath.dirname(op.dest), DIR)
            if self.node(op.dest) is None:
                self.create(op.dest, Node("symlink", op.target))
        # Chmod, RemountRo, SetEnv change nothing the planner looks at.

    def _ensure(self, path: str, leaf: Node) -> None:
        current = "/"
        parts = components(path)
        for index, name in enumerate(parts):
            current = join(current, name)
            if self.node(current) is None:
                self.create(current, leaf if index == len(parts) - 1 else DIR)

    # --- queries ----------------------------------------------------------------------

    def host_node(self, path: str) -> Node | None:
        if path in self.host_created:
            return self.host_created[path]
        if path not in self._cache:
            self._cache[path] = self._lookup(path)
        return self._cache[path]

    def covering(self, path: str) -> tuple[Mount, str]:
        """The visible mount ``path`` lies on, and ``path`` relative to its root."""
        for top in parents(path):
            mount = self.mounts.get(top)
            if mount is not None:
                return mount, relative(path, top)
        raise AssertionError("the root mount is always there")

    def backing_of(self, path: str) -> tuple[Backing, str]:
        """The filesystem ``path`` lies on, seeing through a mimic to its re-created entries."""
        mount, rel = self.covering(path)
        backing = mount.backing
        if isinstance(backing, MemTree) and backing.origin is not None and rel:
            first, _, rest = rel.partition("/")
            if first not in backing.nodes:
                origin = backing.origin
                node = self.host_node(join(origin.path, first))
                if node is not None and node.kind in ("dir", "file"):
                    return HostTree(join(origin.path, first), origin.writable), rest
        if isinstance(backing, Alias) and rel:
            return self.backing_of(join(backing.source, rel))
        return backing, rel

    def node(self, path: str) -> Node | None:
        """``lstat`` of ``path``, whose parent components must already be directories."""
        mount = self.mounts.get(path)
        if mount is not None:
            return self._root_node(mount.backing)
        backing, rel = self.backing_of(path)
        if isinstance(backing, HostTree):
            return self.host_node(join(backing.path, rel))
        if isinstance(backing, Alias):
            return self.node(backing.source)
        if rel in backing.nodes:
            return backing.nodes[rel]
        if backing.origin is not None and "/" not in rel:
            node = self.host_node(join(backing.origin.path, rel))
            if node is not None and node.kind == "symlink":
                return node  # mimics re-create symlinks (other special files are dropped)
        return None

    def _root_node(self, backing: Backing) -> Node:
        if isinstance(backing, HostTree):
            # A bind's source exists when bwrap runs (the launcher creates the data dirs).
            return self.host_node(backing.path) or DIR
        if isinstance(backing, Alias):
            return self.node(backing.source) or DIR
        return DIR

    def lstat(self, path: str) -> Node | None:
        """``lstat`` walking from ``/``; a symlink or a non-directory on the way is an error."""
        current = "/"
        node: Node | None = DIR
        parts = components(path)
        for index, name in enumerate(parts):
            current = join(current, name)
            node = self.node(current)
            if node is None:
                return None
            if index < len(parts) - 1 and node.kind != "dir":
                # What openat(O_DIRECTORY|O_NOFOLLOW) says of a symlink too.
                raise PathError(current, "not a directory")
        return node

    def stat(self, path: str) -> Node | None:
        """``stat``: symlinks followed anywhere (snapd's ordering looks at paths this way)."""
        return self._stat(path, 0)

    def _stat(self, path: str, depth: int) -> Node | None:
        current = "/"
        node: Node | None = DIR
        parts = components(path)
        for index, name in enumerate(parts):
            nxt = join(current, name)
            node = self.node(nxt)
            if node is None:
                return None
            if node.kind == "symlink":
                if depth >= MAX_SYMLINKS:
                    return None
                target = posixpath.join(current, node.target)
                return self._stat(posixpath.normpath(posixpath.join(target, *parts[index + 1:])),
                                  depth + 1)
            if index < len(parts) - 1 and node.kind != "dir":
                return None
            current = nxt
        return node

    # --- changes ----------------------------------------------------------------------

    def mount(self, dest: str, backing: Backing) -> None:
        for other in [d for d in self.mounts if at_or_below(d, dest)]:
            del self.mounts[other]
        self.mounts[dest] = Mount(dest, backing)

    def create(self, path: str, node: Node) -> tuple[Backing, str]:
        """Record ``node`` at ``path`` on the filesystem it lands on; return that filesystem
        and the path in it.  The caller has checked that it accepts new entries
        (:meth:`can_create_in`)."""
        backing, rel = self.backing_of(path)
        if isinstance(backing, MemTree):
            backing.nodes[rel] = node
        elif isinstance(backing, HostTree):
            self.host_created[join(backing.path, rel)] = node
        else:
            raise AssertionError("entries are never created through a layout bind")
        return backing, rel

    def can_create_in(self, directory: str) -> bool:
        """snap-update-ns would create entries in ``directory`` without a mimic.

        It writes to tmpfs it mounted itself, and to the snap's own data; anything else
        is read-only or belongs to the host (its trespassing rule).
        """
        backing, _ = self.backing_of(directory)
        if isinstance(backing, MemTree):
            return backing.setup_writable
        return isinstance(backing, HostTree) and backing.owned

    def mimic(self, directory: str) -> MemTree:
        """Cover ``directory`` with a tmpfs that re-creates all its entries.

        Mounts below it stay where they are, as snapd's recursive binds from the
        safe-keeping copy keep them.
        """
        backing, rel = self.backing_of(directory)
        if not isinstance(backing, HostTree):
            raise PathError(directory, "not a filesystem a mimic can be made of")
        kept = [m for d, m in sorted(self.mounts.items()) if is_below(d, directory)]
        tree = MemTree(setup_writable=True,
                       origin=HostTree(join(backing.path, rel), backing.writable))
        self.mount(directory, tree)
        for mount in kept:
            self.mounts[mount.dest] = mount
        return tree
