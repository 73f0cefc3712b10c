from __future__ import annotations

import stat

import pytest

from tests.unit.fusefs.fakes import FakeImage, Hard, Link
from usersnap.fusefs.tree import (
    IMAGE_TIMEOUT,
    ROOT_INODE,
    VIRTUAL_TIMEOUT,
    CurrentLink,
    ImageNode,
    SnapTree,
    VirtualDir,
    revision_key,
)


def image() -> FakeImage:
    return FakeImage({"bin/app": b"#!/bin/sh\n", "bin/again": Hard("bin/app"),
                      "meta/snap.yaml": b"name: demo\n", "lib": Link(b"bin")})


def make_tree() -> SnapTree:
    ticks = iter(range(1, 1000))
    return SnapTree(uid=1000, gid=100, clock=lambda: next(ticks) * 10**9)


def snap_dir(tree: SnapTree, name: str) -> VirtualDir:
    found = tree.child(VirtualDir(ROOT_INODE, None), name.encode())  # type: ignore[arg-type]
    assert isinstance(found, VirtualDir)
    return found


def revision(tree: SnapTree, name: str, rev: str) -> ImageNode:
    found = tree.child(snap_dir(tree, name), rev.encode())
    assert isinstance(found, ImageNode)
    return found


def test_slots_give_every_revision_its_own_inode_numbers() -> None:
    tree = make_tree()
    one, two = image(), image()
    tree.add_revision("demo", "x1", one)  # type: ignore[arg-type]
    tree.add_revision("demo", "x2", two)  # type: ignore[arg-type]
    r1, r2 = revision(tree, "demo", "x1"), revision(tree, "demo", "x2")
    assert r1.ino == (1 << 32) | one.root.number
    assert r2.ino == (2 << 32) | two.root.number
    assert tree.node(r1.ino) == r1
    assert snap_dir(tree, "demo").ino >> 32 == 0
    app, again = one.by_path["bin/app"], one.by_path["bin/again"]
    assert app is again  # a hard link is one inode, so one st_ino
    assert r1.rev.ino(app) == r1.rev.ino(again) != r2.rev.ino(two.by_path["bin/app"])


def test_revisions_sort_naturally_and_names_are_checked() -> None:
    tree = make_tree()
    for rev in ("x10", "x2", "x1"):
        tree.add_revision("demo", rev, image())  # type: ignore[arg-type]
    tree.add_revision("aaa", "5", image())  # type: ignore[arg-type]
    assert tree.revisions() == {"aaa": ["5"], "demo": ["x1", "x2", "x10"]}
    assert sorted(["10", "9", "x3", "x20"], key=revision_key) == ["9", "10", "x3", "x20"]
    for name, rev in (("demo", "x1"), ("a/b", "x1"), ("demo", "current"), ("", "x1"),
                      ("demo", "..")):
        with pytest.raises(ValueError, match=r"invalid|already"):
            tree.add_revision(name, rev, image())  # type: ignore[arg-type]


def test_current_link_comes_and_goes_with_the_snap_directory() -> None:
    tree = make_tree()
    root = VirtualDir(ROOT_INODE, None)
    tree.add_revision("demo", "x1", image())  # type: ignore[arg-type]
    demo = snap_dir(tree, "demo")
    assert tree.child(demo, b"current") is None
    tree.set_current("demo", "x1")
    link = tree.child(demo, b"current")
    assert isinstance(link, CurrentLink)
    assert tree.link_target(link) == b"x1"
    assert [name for name, _ in tree.children(demo)] == [b"x1", b"current"]
    attr = tree.attr(link)
    assert (stat.S_IFMT(attr.mode), attr.size, attr.uid) == (stat.S_IFLNK, 2, 1000)
    tree.set_current("demo", None)
    assert tree.child(demo, b"current") is None
    tree.remove_revision("demo", "x1")
    assert tree.children(root) == []
    tree.set_current("gone", None)  # nothing to do
    tree.set_current("ghost", "x3")  # dangling, as snapd's can be
    ghost = snap_dir(tree, "ghost")
    assert ghost.ino > demo.ino  # virtual numbers are never reused
    assert tree.child(demo, b"x1") is None
    assert tree.revisions() == {}


def test_virtual_nodes_are_never_cached_and_images_long() -> None:
    tree = make_tree()
    img = image()
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    root_attr = tree.attr(tree.node(ROOT_INODE))
    assert (root_attr.entry_timeout, root_attr.attr_timeout) == (VIRTUAL_TIMEOUT, VIRTUAL_TIMEOUT)
    assert (root_attr.nlink, root_attr.uid, root_attr.gid) == (3, 1000, 100)
    top = revision(tree, "demo", "x1")
    top_attr = tree.attr(top)
    assert (top_attr.entry_timeout, top_attr.attr_timeout) == (VIRTUAL_TIMEOUT, IMAGE_TIMEOUT)
    app = ImageNode(top.rev, img.by_path["bin/app"], top.ino, b"app")
    attr = tree.attr(app)
    assert (attr.entry_timeout, attr.attr_timeout) == (IMAGE_TIMEOUT, IMAGE_TIMEOUT)
    assert (attr.uid, attr.gid, attr.nlink) == (0, 0, 2)  # as the image says
    assert attr.mtime_ns == img.by_path["bin/app"].mtime * 10**9
    assert (attr.blksize, attr.blocks) == (131072, 1)


def test_statfs_counts_shown_revisions() -> None:
    tree = make_tree()
    assert tree.statfs() == (131072, 0, 1)
    one, two = image(), image()
    tree.add_revision("demo", "x1", one)  # type: ignore[arg-type]
    tree.add_revision("demo", "x2", two)  # type: ignore[arg-type]
    used = one.bytes_used + two.bytes_used
    assert tree.statfs() == (131072, -(-used // 131072), one.inode_count * 2 + 3)


def test_removed_revision_closes_at_once_when_unused() -> None:
    tree = make_tree()
    img = image()
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    top = revision(tree, "demo", "x1")
    assert tree.remove_revision("demo", "x1") is img
    assert img.closed
    assert tree.remove_revision("demo", "x1") is None
    with pytest.raises(KeyError):
        tree.node(top.ino)  # never looked up by the kernel: nothing kept


def test_removed_revision_lives_while_used_and_known() -> None:
    tree = make_tree()
    img = image()
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    top = revision(tree, "demo", "x1")
    tree.count(top)
    app = ImageNode(top.rev, img.by_path["bin/app"], top.ino, b"app")
    tree.count(app)
    tree.count(app)
    tree.hold(top.rev)  # an open file
    tree.remove_revision("demo", "x1")
    assert not img.closed
    assert not top.rev.closed
    assert tree.node(app.ino).inode == app.inode
    tree.drop(top.rev)
    assert img.closed
    assert top.rev.closed
    tree.forget(app.ino, 1)
    assert tree.node(app.ino).inode == app.inode  # one reference left
    tree.forget(app.ino, 1)
    with pytest.raises(KeyError):
        tree.node(app.ino)
    tree.forget(top.ino, 1)
    with pytest.raises(KeyError):
        tree.node(top.ino)
    tree.forget(top.ino, 1)  # unknown by now: ignored


def test_forgotten_inodes_leave_but_a_shown_root_stays() -> None:
    tree = make_tree()
    img = image()
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    top = revision(tree, "demo", "x1")
    tree.count(top)
    tree.forget(top.ino, 5)
    assert tree.node(top.ino).inode == img.root
    app = ImageNode(top.rev, img.by_path["bin/app"], top.ino, b"app")
    tree.count(app)
    tree.forget(app.ino, 1)
    with pytest.raises(KeyError):
        tree.node(app.ino)


def test_parent_and_describe_follow_the_names_the_kernel_saw() -> None:
    tree = make_tree()
    img = image()
    tree.add_revision("demo", "x1", img)  # type: ignore[arg-type]
    top = revision(tree, "demo", "x1")
    tree.count(top)
    bin_dir = ImageNode(top.rev, img.by_path["bin"], top.ino, b"bin")
    tree.count(bin_dir)
    app = ImageNode(top.rev, img.by_path["bin/app"], bin_dir.ino, b"app")
    assert tree.parent(app) == bin_dir
    assert tree.parent(top) == snap_dir(tree, "demo")
    assert tree.parent(snap_dir(tree, "demo")) == tree.node(ROOT_INODE)
    number = img.by_path["bin/app"].number
    assert tree.describe(app) == f"snap demo revision x1, /bin/app (inode {number})"
    orphan = ImageNode(top.rev, img.by_path["bin/app"], (1 << 32) | 999, b"app")
    assert tree.describe(orphan) == f"snap demo revision x1, /.../app (inode {number})"
    assert tree.describe(top).startswith("snap demo revision x1, / (inode")


def test_virtual_directories_get_a_new_mtime_with_each_change() -> None:
    """The kernel keeps a directory's listing while its mtime stays the same."""
    tree = SnapTree(uid=1000, gid=100, clock=lambda: 5)  # a clock that stands still
    root = tree.node(ROOT_INODE)
    assert root is not None
    seen = [tree.attr(root).mtime_ns]
    tree.add_revision("demo", "x1", image())  # type: ignore[arg-type]
    seen.append(tree.attr(root).mtime_ns)
    demo = snap_dir(tree, "demo")
    seen.append(tree.attr(demo).mtime_ns)
    tree.set_current("demo", "x1")
    seen.append(tree.attr(demo).mtime_ns)
    tree.remove_revision("demo", "x1")
    seen.append(tree.attr(demo).mtime_ns)
    tree.set_current("demo", None)  # the snap goes from the root's listing
    seen.append(tree.attr(root).mtime_ns)
    assert seen == sorted(set(seen))  # strictly later each time
