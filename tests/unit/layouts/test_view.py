"""The namespace model: what bwrap's ops leave where, seen the way snap-update-ns sees it."""

from __future__ import annotations

import pytest

from tests.unit.layouts.fakefs import BASE_OPS, DISK, OWNED, FakeFs
from usersnap.layouts.view import DIR, FILE, HostTree, MemTree, Namespace, Node, PathError


def model() -> Namespace:
    return Namespace.from_ops(BASE_OPS, FakeFs(DISK), owned=OWNED)


def test_paths_resolve_through_the_mounts_bwrap_made() -> None:
    ns = model()
    assert ns.lstat("/usr/bin/sh") == FILE
    assert ns.lstat("/etc/ssl/certs") == DIR  # the base's /etc/ssl over the host's
    assert ns.lstat("/bin") == Node("symlink", "usr/bin")  # created in the root tmpfs
    assert ns.lstat("/var/run") == Node("symlink", "/run")
    assert ns.lstat("/var/snap/demo/x1") == DIR
    assert ns.lstat("/snap/demo/x1/Gemfile") == FILE
    assert ns.lstat("/home") == DIR and ns.lstat("/nothing") is None
    assert ns.lstat("/var/tmp") == DIR  # optional bind whose source exists


def test_lstat_refuses_to_cross_symlinks_and_files_stat_follows() -> None:
    ns = model()
    with pytest.raises(PathError) as err:
        ns.lstat("/bin/sh")
    assert (err.value.path, err.value.reason) == ("/bin", "not a directory")  # a symlink
    with pytest.raises(PathError) as err:
        ns.lstat("/etc/passwd/x")
    assert (err.value.path, err.value.reason) == ("/etc/passwd", "not a directory")
    assert ns.stat("/bin/sh") == FILE
    assert ns.stat("/usr/lib/x86_64-linux-gnu/libc.so") == FILE
    assert ns.stat("/var/run") == DIR  # /run: the tmpfs


def test_where_new_entries_may_go() -> None:
    ns = model()
    assert ns.can_create_in("/var")  # the sandbox's own tmpfs
    assert ns.can_create_in("/var/snap/demo/common")  # the snap's data
    assert not ns.can_create_in("/usr/share")  # the base, read-only
    assert not ns.can_create_in("/etc")  # the host's
    assert not ns.can_create_in("/var/tmp")  # the host's, writable
    assert not ns.can_create_in("/snap/demo/x1")  # $SNAP
    assert not ns.can_create_in("/proc")


def test_a_mimic_shows_the_originals_and_takes_new_entries() -> None:
    ns = model()
    tree = ns.mimic("/usr/lib/x86_64-linux-gnu")
    assert tree.origin is not None and tree.origin.path == "/base/usr/lib/x86_64-linux-gnu"
    assert ns.can_create_in("/usr/lib/x86_64-linux-gnu")
    assert ns.lstat("/usr/lib/x86_64-linux-gnu/libc.so.6") == FILE
    assert ns.lstat("/usr/lib/x86_64-linux-gnu/libc.so") == Node("symlink", "libc.so.6")
    backing, rel = ns.create("/usr/lib/x86_64-linux-gnu/new", DIR)
    assert backing is tree and rel == "new"
    assert ns.lstat("/usr/lib/x86_64-linux-gnu/new") == DIR
    # re-created entries are the originals, read-only: creating in them needs a mimic too
    assert not ns.can_create_in("/usr/lib")
    nested = ns.mimic("/usr/lib")
    assert nested.origin is not None and not nested.origin.writable
    assert ns.lstat("/usr/lib/x86_64-linux-gnu/new") == DIR  # the inner mimic stays


def test_mimics_keep_what_is_mounted_below_and_drop_special_files() -> None:
    ns = model()
    ns.mimic("/etc")
    backing, rel = ns.backing_of("/etc/ssl/certs")
    assert isinstance(backing, HostTree) and (backing.path, rel) == ("/base/etc/ssl", "certs")
    assert ns.lstat("/etc/passwd") == FILE and ns.lstat("/etc/fifo") is None


def test_data_entries_are_recorded_as_on_disk() -> None:
    ns = model()
    backing, rel = ns.create("/var/snap/demo/x1/new", FILE)
    assert isinstance(backing, HostTree) and backing.owned and rel == "x1/new"
    assert ns.host_created == {"/data/demo/x1/new": FILE}
    assert ns.lstat("/var/snap/demo/x1/new") == FILE


def test_a_mount_hides_what_was_below_it() -> None:
    ns = model()
    ns.mount("/etc", MemTree(setup_writable=False, writable=True))
    assert ns.lstat("/etc/passwd") is None
    assert "/etc/ssl" not in ns.mounts
