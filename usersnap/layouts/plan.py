"""From ``layout:`` to mount entries (snapd's fstab) and to the ops that realise them.

Two results, both pure:

* :func:`layout_entries`: the mount entries snapd writes to
  ``/var/lib/snapd/mount/snap.NAME.fstab`` for the layouts (``interfaces/mount/spec.go``:
  mountEntryFromLayout, in sorted key order), printable with :meth:`MountEntry.fstab`.
* :func:`plan_layouts`: what snap-update-ns would do with them in a namespace built by
  the base ops, decided on a :class:`~usersnap.layouts.view.Namespace` model:

  1. the apply order (``cmd/snap-update-ns/change.go``: neededChanges): entries whose
     target already exists with the right kind first, then the others grouped by the
     nearest existing ancestor of the target's parent; by mount point within a group;
  2. the prepare pass, entry by entry: target then source (``ensureTarget``,
     ``ensureSource``): wrong kinds are errors, missing ones are created.  An entry is
     created where snap-update-ns may write (a tmpfs it mounted, the sandbox's root
     tmpfs, the snap's data); anywhere else its parent first becomes a writable mimic;
  3. the mount pass (snapd master's order: every mimic is in place before any layout is
     mounted): binds (recursive), bind-files and tmpfs.

  The result is what the launcher does: sources created on disk (``$SNAP_DATA``,
  ``$SNAP_COMMON``) before the launch, then namespace ops (:data:`~usersnap.sandbox.ops.NsOp`)
  performed in the sandbox's namespace once bwrap has built it, in snap-update-ns's
  order, ending with mimics made read-only where their original was.

Everything that can go wrong before the app runs is found here and raised as one
:class:`~usersnap.layouts.validate.LayoutError` line naming the layout.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from usersnap.layouts.validate import LayoutError, expand_snap_variables, go_octal, go_quote
from usersnap.layouts.view import (
    DIR,
    FILE,
    Alias,
    HostTree,
    Lookup,
    MemTree,
    Namespace,
    Node,
    PathError,
    components,
    join,
    parents,
)
from usersnap.meta.model import Layout, SnapInfo
from usersnap.sandbox.ops import Bind, Dir, File, Mimic, NsOp, Op, RemountRo, RoBind, Symlink, Tmpfs

#: snapd's default layout mode; ``x-snapd.mode`` is written only when another is given.
DEFAULT_MODE = 0o755
#: A ``type: tmpfs`` layout is mounted with the kernel's default mode (snapd ignores mode:).
TMPFS_MODE = 0o1777
_ESCAPES = str.maketrans({" ": "\\040", "\t": "\\011", "\n": "\\012", "\\": "\\134"})


@dataclass(frozen=True, slots=True)
class MountEntry:
    """One line of a snapd mount profile (``osutil.MountEntry``)."""

    name: str
    dir: str
    type: str = ""
    options: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """``x-snapd.kind``: "" (a directory), ``file`` or ``symlink``."""
        return self._option("x-snapd.kind=")

    @property
    def symlink(self) -> str:
        return self._option("x-snapd.symlink=")

    @property
    def is_bind(self) -> bool:
        return "bind" in self.options or "rbind" in self.options

    def _option(self, prefix: str) -> str:
        for option in self.options:
            if option.startswith(prefix):
                return option[len(prefix):]
        return ""

    def fstab(self) -> str:
        """snapd's text form: six fields, empty ones as ``none``/``defaults``, escaped."""
        fields = (
            self.name or "none", self.dir or "none", self.type or "none",
            ",".join(self.options) or "defaults",
        )
        return " ".join(f.translate(_ESCAPES) for f in fields) + " 0 0"


@dataclass(frozen=True, slots=True)
class SourceCreate:
    """A missing layout source created on disk: a directory or an empty file, mode 0755,
    at ``path`` below ``root`` (a data directory of the snap, which must exist)."""

    layout: str
    root: str
    path: str
    kind: Literal["dir", "file"]
    #: where the app sees it (for messages)
    shown: str


@dataclass(frozen=True, slots=True)
class LayoutPlan:
    #: the desired mount profile, as snapd writes it
    entries: tuple[MountEntry, ...]
    #: created on disk before the launch, in order
    sources: tuple[SourceCreate, ...] = ()
    #: performed in the sandbox's namespace, in order
    ops: tuple[NsOp, ...] = ()


def mount_entry(layout: Layout, snap_name: str, revision: str) -> MountEntry:
    """snapd's ``mountEntryFromLayout``."""

    def expand(text: str) -> str:
        return expand_snap_variables(text, snap_name, revision)

    name, fstype = "", ""
    options: list[str] = []
    if layout.bind:
        name, options = expand(layout.bind), ["rbind", "rw"]
    if layout.bind_file:
        name, options = expand(layout.bind_file), ["bind", "rw", "x-snapd.kind=file"]
    if layout.type == "tmpfs":
        name = fstype = "tmpfs"
    if layout.symlink:
        options = ["x-snapd.kind=symlink", f"x-snapd.symlink={expand(layout.symlink)}"]
    # x-snapd.user / x-snapd.group would follow, but only root validates.
    if layout.mode != DEFAULT_MODE:
        options.append(f"x-snapd.mode={go_octal(layout.mode)}")
    options.append("x-snapd.origin=layout")
    return MountEntry(name, expand(layout.path), fstype, tuple(options))


def layout_entries(info: SnapInfo, revision: str) -> tuple[MountEntry, ...]:
    """The layout part of snapd's desired profile (``AddLayout``: sorted by target key)."""
    return tuple(mount_entry(info.layout[key], info.name, revision)
                 for key in sorted(info.layout))


def _dir_key(entry: MountEntry) -> str:
    """snapd's byOriginAndMountPoint within one origin: the mount point plus a slash."""
    return entry.dir if entry.dir.endswith("/") else entry.dir + "/"


def apply_order(entries: Iterable[MountEntry], ns: Namespace) -> list[MountEntry]:
    """snap-update-ns's order for a fresh namespace (neededChanges, every entry new)."""
    independent: list[MountEntry] = []
    by_mimic: dict[str, list[MountEntry]] = {}
    for entry in entries:
        if entry.kind == "symlink":
            node = _lstat_loose(ns, entry.dir)
            exists = node is not None and node.kind == "symlink"
        elif entry.kind == "file":
            exists = ns.stat(entry.dir) is not None
        else:
            exists = ns.stat(entry.dir) == DIR
        if exists:
            independent.append(entry)
        else:
            by_mimic.setdefault(_first_existing_dir(ns, posixpath.dirname(entry.dir)),
                                []).append(entry)
    ordered = sorted(independent, key=_dir_key)
    for mimic_dir in sorted(by_mimic):
        ordered += sorted(by_mimic[mimic_dir], key=_dir_key)
    seen: set[str] = set()
    unique = []
    for entry in ordered:
        if entry.dir not in seen:
            seen.add(entry.dir)
            unique.append(entry)
    return unique


def _lstat_loose(ns: Namespace, path: str) -> Node | None:
    try:
        return ns.lstat(path)
    except PathError:
        return None


def _first_existing_dir(ns: Namespace, path: str) -> str:
    """snap-update-ns's findFirstRootDirectoryThatExists."""
    for top in parents(path):
        if ns.stat(top) == DIR:
            return top
    return "/"


def plan_layouts(
    info: SnapInfo,
    revision: str,
    base_ops: Sequence[Op],
    lookup: Lookup,
    *,
    owned: Iterable[str],
    follow_top_symlinks: bool = False,
) -> LayoutPlan:
    """Plan ``info``'s layouts in the namespace ``base_ops`` build.

    ``lookup`` is an ``lstat`` of the paths the base ops bind (host, FUSE, data);
    ``owned`` the destinations of the snap's data binds, where missing sources are
    created on disk.  ``follow_top_symlinks`` resolves top-level symlinks of the root in
    targets: set when the host stands in for a missing base, whose own /bin, /lib... are
    directories (``core``), not the host's usr-merge symlinks, which snap-update-ns
    would refuse to cross.
    """
    entries = layout_entries(info, revision)
    if not entries:
        return LayoutPlan(entries)
    ns = Namespace.from_ops(base_ops, lookup, owned=owned)
    keys: dict[str, str] = {}
    work = []
    for key, entry in zip(sorted(info.layout), entries, strict=True):
        if follow_top_symlinks:
            entry = dataclasses.replace(entry, dir=_through_top_symlink(ns, entry.dir))
        keys.setdefault(entry.dir, key)
        work.append(entry)
    ordered = apply_order(work, ns)
    planner = _Planner(ns)
    for entry in ordered:
        planner.key = keys[entry.dir]
        planner.prepare(entry)
    for entry in ordered:
        planner.key = keys[entry.dir]
        planner.mount(entry)
    return LayoutPlan(entries, tuple(planner.sources), planner.finish())


def _through_top_symlink(ns: Namespace, path: str) -> str:
    parts = components(path)
    node = ns.node("/" + parts[0]) if parts else None
    if node is None or node.kind != "symlink":
        return path
    return posixpath.normpath(posixpath.join("/", node.target, *parts[1:]))


class _Planner:
    """snap-update-ns's prepare and mount passes, run on the model, recording the ops."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.key = ""
        self.sources: list[SourceCreate] = []
        self.ops: list[NsOp] = []
        #: mimics of read-only directories, made read-only once everything is in place
        self.read_only: list[str] = []

    def fail(self, reason: str) -> LayoutError:
        return LayoutError(f"cannot set up layout {go_quote(self.key)}: {reason}")

    def lstat(self, path: str) -> Node | None:
        try:
            return self.ns.lstat(path)
        except PathError as err:
            raise self.fail(f"cannot open directory {go_quote(err.path)}: {err.reason}"
                            ) from None

    # --- the prepare pass -------------------------------------------------------------

    def prepare(self, entry: MountEntry) -> None:
        """``ensureTarget`` then ``ensureSource``."""
        target, kind = entry.dir, entry.kind
        node = self.lstat(target)
        if node is None:
            leaf = Node("symlink", entry.symlink) if kind == "symlink" else (
                FILE if kind == "file" else DIR)
            self.create_path(target, leaf)
        elif kind == "" and node.kind != "dir":
            raise self.fail(f"cannot use {go_quote(target)} as mount point: not a directory")
        elif kind == "file" and node.kind != "file":
            raise self.fail(
                f"cannot use {go_quote(target)} as mount point: not a regular file")
        elif kind == "symlink" and node.kind != "symlink":
            raise self.fail(
                f"cannot create symlink in {go_quote(target)}: existing file in the way")
        elif kind == "symlink" and node.target != entry.symlink:
            raise self.fail(f"cannot create symbolic link {go_quote(target)}: "
                            "existing symbolic link in the way")
        if entry.is_bind:
            self.ensure_source(entry)

    def ensure_source(self, entry: MountEntry) -> None:
        source, kind = entry.name, entry.kind
        node = self.lstat(source)
        if node is None:
            self.create_path(source, FILE if kind == "file" else DIR)
        elif kind == "" and node.kind != "dir":
            raise self.fail(
                f"cannot use {go_quote(source)} as bind-mount source: not a directory")
        elif kind == "file" and node.kind != "file":
            raise self.fail(
                f"cannot use {go_quote(source)} as bind-mount source: not a regular file")

    def create_path(self, path: str, leaf: Node) -> None:
        """Create the missing components of ``path`` (its existing ones are directories)."""
        current = "/"
        parts = components(path)
        for index, name in enumerate(parts):
            child = join(current, name)
            if self.ns.node(child) is None:
                self.create(current, child, leaf if index == len(parts) - 1 else DIR)
            current = child

    def create(self, parent: str, path: str, node: Node) -> None:
        if not self.ns.can_create_in(parent):
            try:
                tree = self.ns.mimic(parent)
            except PathError:
                raise self.fail(f"cannot write to {go_quote(path)} because it would affect "
                                f"the host in {go_quote(parent)}") from None
            self.ops.append(Mimic(parent))
            if tree.origin is not None and not tree.origin.writable:
                self.read_only.append(parent)
        backing, rel = self.ns.create(path, node)
        if isinstance(backing, HostTree):
            if node.kind == "symlink":
                raise self.fail(f"cannot create symlink {go_quote(path)} in the snap's data")
            self.sources.append(SourceCreate(self.key, backing.path, rel,
                                             "file" if node.kind == "file" else "dir", path))
        elif node.kind == "symlink":
            self.ops.append(Symlink(node.target, path))
        else:
            self.ops.append(File(path) if node.kind == "file" else Dir(path))

    # --- the mount pass ---------------------------------------------------------------

    def mount(self, entry: MountEntry) -> None:
        target = entry.dir
        if entry.kind == "symlink":
            return  # made by the prepare pass
        if not entry.is_bind:
            self.ops.append(Tmpfs(target, TMPFS_MODE))
            self.ns.mount(target, MemTree(setup_writable=False, writable=True))
            return
        source = entry.name
        if self.lstat(source) is None:
            raise self.fail(f"cannot bind-mount {go_quote(source)}: no such file or directory")
        writable = self._writable(source)
        self.ops.append((Bind if writable else RoBind)(source, target))
        self.ns.mount(target, Alias(source, writable))

    def _writable(self, source: str) -> bool:
        """Whether the app may write below ``source`` (so through its bind)."""
        backing, _ = self.ns.backing_of(source)
        if isinstance(backing, MemTree):
            return backing.writable or (backing.origin is not None and backing.origin.writable)
        return backing.writable

    def finish(self) -> tuple[NsOp, ...]:
        return (*self.ops, *(RemountRo(path) for path in self.read_only))
