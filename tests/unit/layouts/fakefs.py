"""A fake disk for the layout planner and a base sandbox shaped like the real one."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from usersnap.layouts.view import Node
from usersnap.meta.model import Layout, SnapInfo, frozen_map
from usersnap.sandbox.ops import Bind, Dir, Op, Proc, RoBind, Symlink, Tmpfs


class FakeFs:
    """``lstat`` over a set of paths: ``a/`` is a directory, ``a -> t`` a symlink, ``a`` a
    file, ``a|`` a fifo; parents are directories."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.nodes: dict[str, Node] = {"/": Node("dir")}
        self.asked: list[str] = []
        for spec in paths:
            if " -> " in spec:
                path, target = spec.split(" -> ")
                self._add(path, Node("symlink", target))
            elif spec.endswith("|"):
                self._add(spec[:-1], Node("other"))
            elif spec.endswith("/"):
                self._add(spec.rstrip("/"), Node("dir"))
            else:
                self._add(spec, Node("file"))

    def _add(self, path: str, node: Node) -> None:
        parent = posixpath.dirname(path)
        while parent not in self.nodes:
            self.nodes[parent] = Node("dir")
            parent = posixpath.dirname(parent)
        self.nodes[path] = node

    def __call__(self, path: str) -> Node | None:
        self.asked.append(path)
        return self.nodes.get(path)


#: The base sandbox in miniature: base /usr, /opt and /var entries read-only, host /etc
#: read-only with an entry from the base, the root's symlinks, the tmpfs /run, the host's
#: /var/tmp read-write, the snap's data and the FUSE tree.
BASE_OPS: tuple[Op, ...] = (
    Symlink("usr/bin", "/bin"),
    RoBind("/base/opt", "/opt"),
    RoBind("/base/usr", "/usr"),
    Dir("/home"),
    Proc("/proc"),
    RoBind("/host/etc", "/etc"),
    RoBind("/base/etc/ssl", "/etc/ssl"),
    Tmpfs("/run"),
    Dir("/var"),
    RoBind("/base/var/cache", "/var/cache"),
    RoBind("/base/var/lib", "/var/lib"),
    Symlink("/run", "/var/run"),
    Bind("/host/var/tmp", "/var/tmp", optional=True),
    Dir("/var/snap"),
    Bind("/data/demo", "/var/snap/demo"),
    RoBind("/mnt", "/snap"),
)
OWNED = ("/var/snap/demo",)

DISK = [
    "/base/opt/",
    "/base/usr/bin/sh",
    "/base/usr/bin/true",
    "/base/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/base/usr/lib/x86_64-linux-gnu/libc.so -> libc.so.6",
    "/base/usr/share/doc/README",
    "/base/usr/share/java/foo.jar",
    "/base/etc/ssl/certs/",
    "/base/var/cache/",
    "/base/var/lib/dpkg/",
    "/host/etc/passwd",
    "/host/etc/ssl/",
    "/host/etc/OpenCL/",
    "/host/etc/fifo|",
    "/host/var/tmp/",
    "/data/demo/x1/",
    "/data/demo/common/",
    "/mnt/demo/x1/bin/sh",
    "/mnt/demo/x1/usr/share/demo/file",
    "/mnt/demo/x1/opt/demo/file",
    "/mnt/demo/x1/a/.keep",
    "/mnt/demo/x1/b/c/.keep",
    "/mnt/demo/x1/d/.keep",
    "/mnt/demo/x1/etc/vtpath.ini",
    "/mnt/demo/x1/Gemfile",
    "/mnt/demo/x1/Gemfile.lock",
    "/mnt/demo/x1/stub.txt",
]


def snap(layouts: dict[str, dict[str, Any]], name: str = "demo", **fields: Any) -> SnapInfo:
    return SnapInfo(
        name=name, version="1",
        layout=frozen_map({path: Layout(path=path, **entry) for path, entry in layouts.items()}),
        **fields,
    )
