"""An in-memory stand-in for SquashfsImage: the tree and the handlers need no real image."""

from __future__ import annotations

import stat
from dataclasses import dataclass

from usersnap.snapfile.squashfs import Inode

NO_XATTR = 0xFFFFFFFF


@dataclass(frozen=True)
class Link:
    target: bytes


@dataclass(frozen=True)
class Hard:
    """Another name for the file at ``path`` (same inode)."""

    path: str


def make_inode(number: int, mode: int, size: int = 0, nlink: int = 1, xattr: int = NO_XATTR,
               uid: int = 0, gid: int = 0) -> Inode:
    return Inode(ref=number * 32, number=number, mode=mode, uid=uid, gid=gid,
                 mtime=1_600_000_000 + number, size=size, nlink=nlink, rdev=0, xattr=xattr)


class FakeImage:
    """``files`` maps "dir/name" to bytes (a file), Link, Hard, or None (a directory)."""

    block_size = 131072

    def __init__(self, files: dict[str, bytes | Link | Hard | None],
                 xattrs: dict[str, dict[bytes, bytes]] | None = None) -> None:
        self.closed = False
        self.calls: list[str] = []
        self.ready: dict[int, bytes] = {}  # what read_ready answers without a thread
        self.prefetched: list[list[int]] = []
        self.failures: dict[int, BaseException] = {}
        self.data: dict[int, bytes] = {}
        self.targets: dict[int, bytes] = {}
        self.extended: dict[int, dict[bytes, bytes]] = {}
        self.by_path: dict[str, Inode] = {}
        children: dict[str, list[str]] = {"": []}
        for path in sorted(files):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in children:
                    children[parent] = []
                    children["/".join(parts[: depth - 1])].append(parent)
            children["/".join(parts[:-1])].append(path)
            if files[path] is None:
                children.setdefault(path, [])
        links = {p: v.path for p, v in files.items() if isinstance(v, Hard)}
        counts = {p: 1 + sum(1 for t in links.values() if t == p) for p in files}
        number = 0
        for path in sorted(set(children) | set(files), key=lambda p: (p.count("/"), p)):
            value = files.get(path)
            if isinstance(value, Hard):
                continue
            number += 1
            xattr_index = NO_XATTR
            if xattrs and path in xattrs:
                xattr_index = len(self.extended)
                self.extended[number] = xattrs[path]
            if path in children:
                inode = make_inode(number, stat.S_IFDIR | 0o755, 3, 2, xattr_index)
            elif isinstance(value, Link):
                inode = make_inode(number, stat.S_IFLNK | 0o777, len(value.target))
                self.targets[number] = value.target
            else:
                assert isinstance(value, bytes)
                inode = make_inode(number, stat.S_IFREG | 0o644, len(value), counts[path],
                                   xattr_index)
                self.data[number] = value
            self.by_path[path] = inode
        for path, target in links.items():
            self.by_path[path] = self.by_path[target]
        self.root = self.by_path[""]
        self.listings = {
            self.by_path[d].number: sorted(
                (c.rsplit("/", 1)[-1].encode(), self.by_path[c]) for c in kids
            )
            for d, kids in children.items()
        }
        self.inode_count = number
        self.bytes_used = 4096 * number

    def _call(self, what: str, inode: Inode) -> None:
        self.calls.append(what)
        assert not self.closed, "image used after close"
        failure = self.failures.get(inode.number)
        if failure is not None:
            raise failure

    def listdir(self, dir: Inode) -> list[tuple[bytes, Inode]]:  # noqa: A002
        self._call("listdir", dir)
        return self.listings[dir.number]

    def lookup(self, dir: Inode, name: bytes) -> Inode | None:  # noqa: A002
        return dict(self.listdir(dir)).get(name)

    def read(self, ino: Inode, offset: int, size: int) -> bytes:
        self._call("read", ino)
        return self.data[ino.number][offset : offset + size]

    def read_ready(self, ino: Inode, offset: int, size: int) -> bytes | None:
        assert not self.closed, "image used after close"
        found = self.ready.get(ino.number)
        return None if found is None else found[offset : offset + size]

    def prefetch(self, files: list[Inode]) -> None:
        assert not self.closed, "image used after close"
        self.prefetched.append([ino.number for ino in files])

    def readlink(self, ino: Inode) -> bytes:
        self._call("readlink", ino)
        return self.targets[ino.number]

    def xattrs(self, ino: Inode) -> dict[bytes, bytes]:
        self._call("xattrs", ino)
        return self.extended.get(ino.number, {})

    def close(self) -> None:
        self.closed = True
