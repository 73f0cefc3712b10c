"""The FUSE request handlers: thin, read-only, and speaking only errno.

Each handler resolves the kernel's number through :class:`SnapTree` and answers from
memory when it can.  Handlers run on the session's threads (:mod:`usersnap.fusefs.session`)
holding the tree's lock, which they let go while they call the image (it may read the
disk and decompress): two reads decompress in parallel on two cores while metadata
requests keep being answered.

A handler raises only ``FUSEError``: image errors become EIO and are logged once per
inode as one line naming the snap, the revision and the path; anything unexpected is
logged with its traceback and also becomes EIO.

Ownership is shown as stored in the image.  snapd packs snaps ``-all-root`` and mounts
them root-owned, so files show as root's, which is what apps expect; the default
0755/0644 modes make them readable and executable by the user all the same (the kernel
checks them, ``default_permissions``), and inside the sandbox's user namespace uid 0
shows as nobody, as for any file of the real root.  The virtual top belongs to the user.

The home view (:mod:`usersnap.fusefs.home`) lives in the same session, at ``.home``
under the root (never listed; one mount serves both): each handler
hands requests about its inode and handle numbers to it.  So the mount is no longer
mounted ``ro``: the snap tree refuses every write itself, with EROFS.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from usersnap.errors import SnapFileError
from usersnap.fusefs.described import DescribedFiles
from usersnap.fusefs.home import HomeView
from usersnap.fusefs.listings import PassListings
from usersnap.fusefs.protocol import (
    DIRENTPLUS,
    ENOATTR,
    NAME_PADDING,
    PLAIN_DIRENTPLUS,
    EntryAttributes,
    FileInfo,
    FUSEError,
    Operations,
    ReaddirToken,
    RequestContext,
    SetattrFields,
    StatvfsData,
    dirent,
    readdir_reply,
    split_time,
)
from usersnap.fusefs.tree import (
    HAS_DATA,
    IMAGE_TIMEOUT,
    LIVE_TIMEOUT,
    ROOT_INODE,
    SLOT_MASK,
    SLOT_SHIFT,
    Attr,
    CurrentLink,
    ImageNode,
    MountedRevision,
    Node,
    SnapTree,
    VirtualDir,
)

if TYPE_CHECKING:
    from usersnap.snapfile.source import Inode, SnapSource

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: Directory entries kept as name indexes so that repeated lookups need no image call.
INDEX_ENTRIES = 32768
#: A pass over a cold directory also lists its subdirectories, breadth first, up to this
#: many entries, in the same image call: a walk (find, tar, ls -R) reads them next, and
#: an image call per directory made a cold find slower (A/B: 0 or 8192 entries, slower).
LIST_AHEAD_ENTRIES = 2048
#: Image inodes whose lookup and getattr replies are kept ready (~200 B each).
ATTR_ENTRIES = 16384
#: A walk (tar, cp -r, rsync) reads a directory's files in stored order: a first read at
#: most this many entries after the previous one in the same directory counts as one.
WALK_SLACK = 3
#: Files after the one a walk reads whose first block is decompressed meanwhile, on the
#: cores the walk leaves idle (a C filesystem reads them one after another).
WALK_AHEAD_FILES = 6
#: Directories whose walk position is remembered.
WALKS = 1024
#: SquashFS's "no xattrs" index (SQUASHFS_INVALID_XATTR): answer without an image call.
NO_XATTR = 0xFFFFFFFF
NAME_MAX = 255
_S_IFMT = 0o170000  # stat.S_IFMT's mask, without its call per entry
#: Where the home view is, under the root (``Dirs.home_view``).
HOME_VIEW = b".home"


def _handler(fn: Callable[P, T]) -> Callable[P, T]:
    """Let only FUSEError out: it is the reply."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except FUSEError:
            raise
        except Exception:
            log.exception("unexpected error in FUSE handler %s", fn.__name__)
            raise FUSEError(errno.EIO) from None

    return run


#: a directory's entries in stored order, and each name's position among them
_Listing = tuple[list[tuple[bytes, "Inode"]], dict[bytes, int]]


class _IndexCache:
    """Listings (in order, and by name) of recently used image directories, bounded by
    entries: a directory listed or looked up again is answered from memory, with no image
    call."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._size = 0
        self._maps: OrderedDict[tuple[int, int], _Listing] = OrderedDict()

    def get(self, key: tuple[int, int]) -> _Listing | None:
        found = self._maps.get(key)
        if found is not None:
            self._maps.move_to_end(key)
        return found

    def put(self, key: tuple[int, int], listing: list[tuple[bytes, Inode]]) -> _Listing:
        found = self._maps.get(key)
        if found is not None:
            return found
        found = self._maps[key] = (listing, {name: i for i, (name, _) in enumerate(listing)})
        self._size += len(listing) + 1
        while self._size > self._capacity and len(self._maps) > 1:
            _, (old, _names) = self._maps.popitem(last=False)
            self._size -= len(old) + 1
        return found


def _list_ahead(image: SnapSource, inode: Inode, budget: int
                ) -> list[tuple[int, list[tuple[bytes, Inode]]]]:
    """``inode``'s listing, then those of the directories below it, breadth first, while
    they fit in ``budget`` entries; a subdirectory that cannot be listed is left for
    when it is opened (and reports its damage then)."""
    out = [(inode.number, image.listdir(inode))]
    budget -= len(out[0][1])
    queue = deque(child for _, child in out[0][1] if child.is_dir)
    while queue and budget > 0:
        child = queue.popleft()
        try:
            listing = image.listdir(child)
        except (SnapFileError, OSError):
            continue
        out.append((child.number, listing))
        budget -= len(listing) + 1
        queue.extend(grandchild for _, grandchild in listing if grandchild.is_dir)
    return out


class SnapFS(Operations):
    """Every revision of every installed snap, read-only, from one FUSE session."""

    def __init__(self, tree: SnapTree, *, home: HomeView | None = None) -> None:
        self.tree = tree
        #: the home view at ``<mount>/.home``, if this mount serves one
        self.home = home
        #: held by the session around each handler (the daemon takes it to change the tree)
        self.lock = tree.lock
        if home is not None:
            home.lock = self.lock  # one lock: the view's handlers run under it too
        self._index = _IndexCache(INDEX_ENTRIES)
        self._attrs: dict[tuple[int, int], EntryAttributes] = {}
        self._files: dict[int, ImageNode] = {}
        self._passes: PassListings[tuple[bytes, Inode]] = PassListings()
        self._described = DescribedFiles()
        self._next_fh = 1
        self._walks: dict[tuple[int, int], int] = {}
        self._reported: set[tuple[int, int]] = set()

    def open_handles(self) -> int:
        """Files open on the mount (the daemon stays while any are); directories are
        opened without a message, so the kernel does not say which are."""
        home = self.home.open_handles() if self.home is not None else 0
        return len(self._files) + home

    def _home(self, number: int) -> HomeView | None:
        """The home view, if ``number`` (an inode or handle) is one of its own."""
        return self.home if self.home is not None and self.home.owns(number) else None

    # -- helpers ------------------------------------------------------------------------

    def _node(self, ino: int) -> Node:
        try:
            return self.tree.node(ino)
        except KeyError:
            raise FUSEError(errno.ENOENT) from None

    def _entry(self, node: Node) -> EntryAttributes:
        if isinstance(node, ImageNode):
            return self._image_entry(node.rev, node.inode, root=node.is_revision_root)
        return _entry_attributes(self.tree.attr(node))

    def _image_entry(self, rev: MountedRevision, inode: Inode, *, root: bool = False
                     ) -> EntryAttributes:
        if rev.mutable:
            return _entry_attributes(self.tree.image_attr(rev, inode, root=root))
        key = (rev.slot, inode.number)  # slots are never reused
        found = self._attrs.get(key)
        if found is None:
            if len(self._attrs) >= ATTR_ENTRIES:
                self._attrs.clear()  # cheap to rebuild; a bound matters more than an LRU
            attr = self.tree.image_attr(rev, inode, root=root)
            found = self._attrs[key] = _entry_attributes(attr).freeze()
        return found

    def _new_fh(self) -> int:
        fh = self._next_fh
        self._next_fh += 1
        return fh

    def _io(self, node: ImageNode, call: Callable[[], T]) -> T:
        """Call the image without the lock (other requests go on meanwhile), holding
        the image open."""
        rev = node.rev
        if rev.closed:
            raise FUSEError(errno.ENOENT)
        self.tree.hold(rev)
        try:
            with self.lock.released():
                return call()
        except SnapFileError as err:
            self._report(node, err)
            raise FUSEError(errno.EIO) from None
        except OSError as err:
            raise FUSEError(err.errno or errno.EIO) from None
        finally:
            self.tree.drop(rev)

    def _report(self, node: ImageNode, err: SnapFileError) -> None:
        """One line per damaged inode, however often the kernel retries it."""
        key = (node.rev.slot, node.inode.number)
        if key not in self._reported:
            self._reported.add(key)
            log.error("%s: %s", self.tree.describe(node), err)

    def _image_child(self, parent: ImageNode, name: bytes) -> Inode | None:
        if not parent.inode.is_dir:
            raise FUSEError(errno.ENOTDIR)
        if parent.rev.mutable:  # a tried directory: ask it every time
            image, inode = parent.rev.image, parent.inode
            return self._io(parent, lambda: image.lookup(inode, name))
        entries, positions = self._listing(parent)
        position = positions.get(name)
        return None if position is None else entries[position][1]

    def _listing(self, node: ImageNode, *, ahead: bool = False) -> _Listing:
        """An immutable directory's listing, from memory when it was used lately;
        ``ahead`` (readdir: a walk) also lists the directories below (``_list_ahead``),
        which a path lookup (an app opening its files) does not need."""
        if node.rev.closed:
            raise FUSEError(errno.ENOENT)
        key = (node.rev.slot, node.inode.number)
        found = self._index.get(key)
        if found is None:
            image, inode = node.rev.image, node.inode
            budget = LIST_AHEAD_ENTRIES if ahead else 0
            listings = self._io(node, lambda: _list_ahead(image, inode, budget))
            found = self._index.put(key, listings[0][1])
            for number, listing in listings[1:]:
                self._index.put((node.rev.slot, number), listing)
        return found

    def _walk_ahead(self, node: ImageNode) -> None:
        """When this file's first read continues a walk of its directory
        (``WALK_SLACK``), have the image decompress the first blocks of the next files
        in the background.  Reads, not opens: a walk served by the page cache opens
        files but reads nothing, and must not make the image decompress anything."""
        parent = node.parent
        if parent >> SLOT_SHIFT != node.rev.slot:
            return
        key = (node.rev.slot, parent & SLOT_MASK)
        found = self._index.get(key)
        position = found[1].get(node.name) if found is not None else None
        if found is None or position is None:
            return
        last = self._walks.pop(key, None)
        if len(self._walks) >= WALKS:
            self._walks.clear()
        self._walks[key] = position
        if last is not None and 0 < position - last <= WALK_SLACK:
            upcoming = found[0][position + 1 : position + 1 + WALK_AHEAD_FILES]
            files = [inode for _, inode in upcoming if inode.is_reg and inode.size]
            if files:
                node.rev.image.prefetch(files)

    # -- lookups and attributes ---------------------------------------------------------

    @_handler
    def lookup(
        self, parent_inode: int, name: bytes, ctx: RequestContext
    ) -> EntryAttributes:
        if (home := self._home(parent_inode)) is not None:
            return home.lookup(parent_inode, name)
        if parent_inode == ROOT_INODE and name == HOME_VIEW and self.home is not None:
            return self.home.root_entry()
        parent = self._node(parent_inode)
        found: Node | None
        if isinstance(parent, CurrentLink):
            raise FUSEError(errno.ENOTDIR)
        if name == b".":
            found = parent
        elif name == b"..":
            found = self.tree.parent(parent)
        elif isinstance(parent, VirtualDir):
            found = self.tree.child(parent, name)
        else:
            if parent.rev.closed:
                raise FUSEError(errno.ENOENT)
            inode = self._image_child(parent, name)
            if parent.rev.closed:  # removed and let go while we looked
                raise FUSEError(errno.ENOENT)
            if inode is None:  # images never change: let the kernel remember
                return _negative_entry(LIVE_TIMEOUT if parent.rev.mutable else IMAGE_TIMEOUT)
            if not inode.is_dir:
                self._described.looked_up(parent_inode)
            found = ImageNode(parent.rev, inode, parent_inode, name)
        if found is None:
            raise FUSEError(errno.ENOENT)
        self.tree.count(found)
        return self._entry(found)

    def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        try:
            for ino, nlookup in inode_list:
                if (home := self._home(ino)) is not None:
                    home.forget(ino, nlookup)
                else:
                    self.tree.forget(ino, nlookup)
        except Exception:  # forget has no reply: an error can only be logged
            log.exception("cannot forget inodes")

    @_handler
    def getattr(self, inode: int, ctx: RequestContext) -> EntryAttributes:
        if (home := self._home(inode)) is not None:
            return home.getattr(inode)
        node = self._node(inode)
        if isinstance(node, ImageNode) and node.rev.mutable and not node.is_revision_root:
            node = self._refresh(node)
        return self._entry(node)

    def _refresh(self, node: ImageNode) -> ImageNode:
        """A tried directory's inode as it is now, looked up again where it was found;
        the attributes known stay when the name holds something else by now."""
        parent = self.tree.parent(node)
        if not isinstance(parent, ImageNode) or node.rev.closed:
            return node
        image, directory, name = node.rev.image, parent.inode, node.name
        try:
            fresh = self._io(node, lambda: image.lookup(directory, name))
        except FUSEError:
            return node
        if fresh is None or fresh.number != node.inode.number:
            return node
        return self.tree.refresh(node, fresh)

    @_handler
    def readlink(self, inode: int, ctx: RequestContext) -> bytes:
        if (home := self._home(inode)) is not None:
            return home.readlink(inode)
        node = self._node(inode)
        if isinstance(node, CurrentLink):
            target = self.tree.link_target(node)
            if target is None:
                raise FUSEError(errno.ENOENT)
            return target
        if not isinstance(node, ImageNode) or not node.inode.is_symlink:
            raise FUSEError(errno.EINVAL)
        rev, link = node.rev, node.inode
        cached = rev.links.get(link.number)
        if cached is None:
            cached = self._io(node, lambda: rev.image.readlink(link))
            if not rev.mutable:
                rev.links[link.number] = cached
        return cached

    @_handler
    def access(self, inode: int, mode: int, ctx: RequestContext) -> bool:
        """Only asked without ``default_permissions``; answers as the kernel would."""
        attr = self.tree.attr(self._node(inode))
        if mode & os.W_OK:
            raise FUSEError(errno.EROFS)
        if ctx.uid == 0:
            return not mode & os.X_OK or bool(attr.mode & 0o111) or stat.S_ISDIR(attr.mode)
        if ctx.uid == attr.uid:
            granted = attr.mode >> 6
        elif ctx.gid == attr.gid:
            granted = attr.mode >> 3
        else:
            granted = attr.mode
        return mode & 0o7 & ~granted == 0

    @_handler
    def statfs(self, inode: int, ctx: RequestContext) -> StatvfsData:
        """$HOME's file system inside the home view; the images' sizes elsewhere."""
        if (home := self._home(inode)) is not None:
            return home.statfs()
        block_size, blocks, inodes = self.tree.statfs()
        st = StatvfsData()
        st.f_bsize = st.f_frsize = block_size
        st.f_blocks = blocks
        st.f_bfree = st.f_bavail = 0
        st.f_files = inodes
        st.f_ffree = st.f_favail = 0
        st.f_namemax = NAME_MAX
        return st

    # -- directories --------------------------------------------------------------------

    # Directories are opened without a message: ``opendir`` is left to answer ENOSYS,
    # after which the kernel sends neither OPENDIR nor RELEASEDIR, gives every directory
    # FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, and revalidates a kept listing against the
    # directory's mtime when a pass starts (AUTO_INVAL_DATA; iversion for changes made
    # through the mount).  That halves a cold walk's requests and serves a warm one from
    # the kernel.  Virtual directories change mtime with each change to them (attribute
    # timeout 0), tried revisions and the home view have their real directories' mtimes.

    @_handler
    def readdir(self, inode: int, start_id: int, token: ReaddirToken) -> None:
        """Offsets: 1 after ".", 2 after "..", 2 + k after the k-th entry."""
        if (home := self._home(inode)) is not None:
            home.readdir(inode, start_id, token)
            return
        node = self._node(inode)
        virtual: list[tuple[bytes, Node]] = []
        listing: list[tuple[bytes, Inode]] = []
        if isinstance(node, VirtualDir):
            virtual = self.tree.children(node)  # few: listed anew for each page
        elif isinstance(node, ImageNode) and node.inode.is_dir:
            if node.rev.mutable:  # a tried directory: a pass sees it as it was at its start
                image, dir_inode = node.rev.image, node.inode
                listing = self._passes.get(
                    inode, start_id, lambda: self._io(node, lambda: image.listdir(dir_inode))
                )
            else:
                listing = self._listing(node, ahead=True)[0]
        else:
            raise FUSEError(errno.ENOTDIR)
        if start_id >= 2 + len(virtual) + len(listing):
            self._passes.end(inode)
            return
        # the kernel holds what readdirplus returns (not . and ..): each counts a lookup
        plus = token.plus
        for index in range(start_id, 2 + len(virtual)):
            entry: Node
            if index == 0:
                name, entry = b".", node
            elif index == 1:
                name, entry = b"..", self.tree.parent(node) or node
            else:
                name, entry = virtual[index - 2]
            if not readdir_reply(token, name, self._entry(entry), index + 1):
                return
            if plus and index >= 2:
                self.tree.count(entry)
        if isinstance(node, ImageNode):
            self._image_entries(node, listing, max(start_id, 2), token)

    def _image_entries(self, node: ImageNode, listing: list[tuple[bytes, Inode]],
                       start_id: int, token: ReaddirToken) -> None:
        """readdir's image entries from ``start_id`` on.  Most of a cold walk is here,
        so a readdirplus record is one pack straight from the listing's inode (0.6 µs,
        against 2.4 through an Attr and an EntryAttributes): the same attributes as
        :meth:`SnapTree.image_attr`, which test_readdirplus_agrees_with_lookup holds
        it to.  Files are described only when a walk wants them (:mod:`described`)."""
        rev = node.rev
        base = rev.slot << SLOT_SHIFT
        if not token.plus:
            for index in range(start_id, 2 + len(listing)):
                name, inode = listing[index - 2]
                if not token.add(dirent(base | inode.number, inode.mode, name, index + 1)):
                    return
            return
        files = self._described.listing(node.ino, node.parent)
        pack, plain, padding = DIRENTPLUS.pack, PLAIN_DIRENTPLUS.pack, NAME_PADDING
        seconds, nanos = split_time(LIVE_TIMEOUT if rev.mutable else IMAGE_TIMEOUT)
        blksize, used, size, parts = rev.image.block_size, token.used, token.size, token.parts
        end = start_id  # after the last entry added
        for index in range(start_id, 2 + len(listing)):
            name, inode = listing[index - 2]
            ino, mode, length = base | inode.number, inode.mode, len(name)
            if files or mode & _S_IFMT == stat.S_IFDIR:
                mtime, m_ns, data = inode.mtime, inode.mtime_nsec, inode.size
                blocks = (data + 511) // 512 if mode & _S_IFMT in HAS_DATA else 0
                record = pack(
                    ino, 0, seconds, seconds, nanos, nanos,
                    ino, data, blocks, mtime, mtime, mtime, m_ns, m_ns, m_ns, mode,
                    inode.nlink, inode.uid, inode.gid, inode.rdev, blksize, 0,
                    ino, index + 1, length, (mode & _S_IFMT) >> 12,
                ) + name + padding[length & 7]  # fmt: skip
            else:
                head = plain(ino, index + 1, length, (mode & _S_IFMT) >> 12)
                record = head + name + padding[length & 7]
            if used + len(record) > size:
                break
            parts.append(record)
            used += len(record)
            end = index + 1
        token.used = used
        # the kernel holds each entry readdirplus described: one lookup each
        added = listing[start_id - 2 : end - 2]
        if not files:
            added = [entry for entry in added if entry[1].mode & _S_IFMT == stat.S_IFDIR]
        self.tree.count_images(rev, node.ino, added)

    # -- files --------------------------------------------------------------------------

    @_handler
    def open(self, inode: int, flags: int, ctx: RequestContext) -> FileInfo:
        if (home := self._home(inode)) is not None:
            return home.open(inode, flags)
        if flags & os.O_ACCMODE != os.O_RDONLY or flags & os.O_TRUNC:
            raise FUSEError(errno.EROFS)
        node = self._node(inode)
        if isinstance(node, VirtualDir) or (isinstance(node, ImageNode) and node.inode.is_dir):
            raise FUSEError(errno.EISDIR)
        if not isinstance(node, ImageNode) or not node.inode.is_reg:
            raise FUSEError(errno.EINVAL)  # the kernel opens devices and fifos itself
        if node.rev.closed:
            raise FUSEError(errno.ENOENT)
        self.tree.hold(node.rev)
        fh = self._new_fh()
        self._files[fh] = node
        # keep_cache: the page cache outlives each open (images never change; a tried
        # directory does, so each open of its files starts from what is on disk now)
        return FileInfo(fh=fh, keep_cache=not node.rev.mutable, direct_io=False)

    @_handler
    def read(self, fh: int, off: int, size: int) -> bytes:
        if (home := self._home(fh)) is not None:
            return home.read(fh, off, size)
        node = self._files.get(fh)
        if node is None:
            raise FUSEError(errno.EBADF)
        image, inode = node.rev.image, node.inode
        if off == 0 and not node.rev.mutable:
            self._walk_ahead(node)
        if not node.rev.closed:
            try:  # decompressed ahead already: answered under the lock, no hand-over
                ready = image.read_ready(inode, off, size)
            except SnapFileError:
                ready = None  # the read below reports it
            if ready is not None:
                return ready
        return self._io(node, lambda: image.read(inode, off, size))

    @_handler
    def release(self, fh: int) -> None:
        if (home := self._home(fh)) is not None:
            home.release(fh)
            return
        node = self._files.pop(fh, None)
        if node is not None:
            self.tree.drop(node.rev)

    # -- extended attributes ------------------------------------------------------------

    def _xattrs(self, inode: int) -> dict[bytes, bytes]:
        node = self._node(inode)
        if not isinstance(node, ImageNode) or node.inode.xattr == NO_XATTR:
            return {}
        image, found = node.rev.image, node.inode
        return self._io(node, lambda: image.xattrs(found))

    @_handler
    def getxattr(self, inode: int, name: bytes, ctx: RequestContext) -> bytes:
        if (home := self._home(inode)) is not None:
            return home.getxattr(inode, name)
        value = self._xattrs(inode).get(name)
        if value is None:
            raise FUSEError(ENOATTR)
        return value

    @_handler
    def listxattr(self, inode: int, ctx: RequestContext) -> Sequence[bytes]:
        if (home := self._home(inode)) is not None:
            return home.listxattr(inode)
        return list(self._xattrs(inode))

    # -- everything that writes: the home view's, or EROFS ------------------------------

    @_handler
    def setattr(
        self, inode: int, attr: EntryAttributes, fields: SetattrFields,
        fh: int | None, ctx: RequestContext,
    ) -> EntryAttributes:  # fmt: skip
        if (home := self._home(inode)) is not None:
            return home.setattr(inode, attr, fields, fh)
        raise FUSEError(errno.EROFS)

    @_handler
    def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: RequestContext
    ) -> EntryAttributes:
        if (home := self._home(parent_inode)) is not None:
            return home.mknod(parent_inode, name, mode, rdev)
        raise FUSEError(errno.EROFS)

    @_handler
    def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: RequestContext
    ) -> EntryAttributes:
        if (home := self._home(parent_inode)) is not None:
            return home.mkdir(parent_inode, name, mode)
        raise FUSEError(errno.EROFS)

    @_handler
    def unlink(self, parent_inode: int, name: bytes, ctx: RequestContext) -> None:
        if (home := self._home(parent_inode)) is not None:
            return home.unlink(parent_inode, name)
        raise FUSEError(errno.EROFS)

    @_handler
    def rmdir(self, parent_inode: int, name: bytes, ctx: RequestContext) -> None:
        if (home := self._home(parent_inode)) is not None:
            return home.rmdir(parent_inode, name)
        raise FUSEError(errno.EROFS)

    @_handler
    def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: RequestContext
    ) -> EntryAttributes:
        if (home := self._home(parent_inode)) is not None:
            return home.symlink(parent_inode, name, target)
        raise FUSEError(errno.EROFS)

    @_handler
    def rename(
        self, parent_inode_old: int, name_old: bytes, parent_inode_new: int,
        name_new: bytes, flags: int, ctx: RequestContext,
    ) -> None:  # fmt: skip
        home = self._home(parent_inode_old)
        if home is not None and self._home(parent_inode_new) is not None:
            return home.rename(parent_inode_old, name_old, parent_inode_new, name_new, flags)
        raise FUSEError(errno.EXDEV if home is not None else errno.EROFS)

    @_handler
    def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: RequestContext
    ) -> EntryAttributes:
        home = self._home(new_parent_inode)
        if home is not None and self._home(inode) is not None:
            return home.link(inode, new_parent_inode, new_name)
        raise FUSEError(errno.EXDEV if home is not None else errno.EROFS)

    @_handler
    def write(self, fh: int, off: int, buf: bytes) -> int:
        if (home := self._home(fh)) is not None:
            return home.write(fh, off, buf)
        raise FUSEError(errno.EROFS)

    @_handler
    def fsync(self, fh: int, datasync: bool) -> None:
        if (home := self._home(fh)) is not None:
            return home.fsync(fh, datasync)
        raise FUSEError(errno.ENOSYS)  # nothing to sync: the kernel stops asking

    @_handler
    def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int,
        ctx: RequestContext,
    ) -> tuple[FileInfo, EntryAttributes]:  # fmt: skip
        if (home := self._home(parent_inode)) is not None:
            return home.create(parent_inode, name, mode, flags)
        raise FUSEError(errno.EROFS)

    @_handler
    def setxattr(
        self, inode: int, name: bytes, value: bytes, ctx: RequestContext
    ) -> None:
        if (home := self._home(inode)) is not None:
            return home.setxattr(inode, name, value)
        raise FUSEError(errno.EROFS)

    @_handler
    def removexattr(self, inode: int, name: bytes, ctx: RequestContext) -> None:
        if (home := self._home(inode)) is not None:
            return home.removexattr(inode, name)
        raise FUSEError(errno.EROFS)


def _entry_attributes(attr: Attr) -> EntryAttributes:
    entry = EntryAttributes()
    entry.st_ino = attr.ino
    entry.st_mode = attr.mode
    entry.st_nlink = attr.nlink
    entry.st_uid = attr.uid
    entry.st_gid = attr.gid
    entry.st_rdev = attr.rdev
    entry.st_size = attr.size
    entry.st_blksize = attr.blksize
    entry.st_blocks = attr.blocks
    # images keep one time stamp; atime and ctime repeat it, as the kernel's squashfs does
    entry.st_atime_ns = entry.st_ctime_ns = entry.st_mtime_ns = attr.mtime_ns
    entry.entry_timeout = attr.entry_timeout
    entry.attr_timeout = attr.attr_timeout
    return entry


def _negative_entry(timeout: float) -> EntryAttributes:
    entry = EntryAttributes()
    entry.st_ino = 0
    entry.entry_timeout = timeout
    return entry
