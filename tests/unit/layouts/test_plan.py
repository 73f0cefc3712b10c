"""The layout planner: snapd's mount entries, snap-update-ns's order and decisions, the ops."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.layouts.fakefs import BASE_OPS, DISK, OWNED, FakeFs, snap
from usersnap.layouts.plan import (
    LayoutPlan,
    MountEntry,
    SourceCreate,
    apply_order,
    layout_entries,
    plan_layouts,
)
from usersnap.layouts.validate import LayoutError
from usersnap.layouts.view import Namespace
from usersnap.sandbox.ops import Bind, Dir, File, Mimic, RemountRo, RoBind, Symlink, Tmpfs

#: tests/lib/snaps/test-snapd-layout's layout
TEST_SNAPD_LAYOUT: dict[str, dict[str, Any]] = {
    "/etc/demo": {"bind": "$SNAP_COMMON/etc/demo"},
    "/etc/demo.conf": {"bind_file": "$SNAP_COMMON/etc/demo.conf"},
    "/etc/demo.cfg": {"symlink": "$SNAP_COMMON/etc/demo.conf"},
    "/usr/share/demo": {"bind": "$SNAP/usr/share/demo"},
    "/var/lib/demo": {"bind": "$SNAP_DATA/var/lib/demo"},
    "/var/cache/demo": {"bind": "$SNAP_DATA/var/cache/demo"},
    "/opt/demo": {"bind": "$SNAP/opt/demo"},
    "/var/spool/rsyslog/demo": {"bind": "$SNAP_DATA/var/spool/rsyslog/demo"},
    "/bin/very/weird/place": {"bind": "$SNAP/bin/very/weird/place"},
    "/bin/very/weird/space": {"bind": "$SNAP/bin/very/weird/space"},
}


def plan(layouts: dict[str, dict[str, Any]], disk: list[str] | None = None,
         **options: Any) -> LayoutPlan:
    fs = FakeFs(DISK if disk is None else disk)
    return plan_layouts(snap(layouts), "x1", BASE_OPS, fs, owned=OWNED, **options)


def failure(layouts: dict[str, dict[str, Any]], disk: list[str] | None = None,
            **options: Any) -> str:
    with pytest.raises(LayoutError) as err:
        plan(layouts, disk, **options)
    return err.value.message


# --- mount entries (spec §2.1, §2.2) --------------------------------------------------------


def test_fstab_lines_of_the_spec_examples() -> None:
    entries = layout_entries(snap(TEST_SNAPD_LAYOUT, name="test-snapd-layout"), "x1")
    lines = [e.fstab() for e in entries]
    assert lines[:3] == [
        "/snap/test-snapd-layout/x1/bin/very/weird/place /bin/very/weird/place none "
        "rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/test-snapd-layout/x1/bin/very/weird/space /bin/very/weird/space none "
        "rbind,rw,x-snapd.origin=layout 0 0",
        "/var/snap/test-snapd-layout/common/etc/demo /etc/demo none "
        "rbind,rw,x-snapd.origin=layout 0 0",
    ]
    assert "none /etc/demo.cfg none x-snapd.kind=symlink,x-snapd.symlink=/var/snap/"\
        "test-snapd-layout/common/etc/demo.conf,x-snapd.origin=layout 0 0" in lines
    assert "/var/snap/test-snapd-layout/common/etc/demo.conf /etc/demo.conf none "\
        "bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0" in lines
    # sorted by the target as written: demo.cfg < demo.conf < var
    assert [e.dir for e in entries][2:5] == ["/etc/demo", "/etc/demo.cfg", "/etc/demo.conf"]
    tmpfs = layout_entries(snap({"/var/test_tmpfs": {"type": "tmpfs"}}), "x1")
    assert [e.fstab() for e in tmpfs] == ["tmpfs /var/test_tmpfs tmpfs x-snapd.origin=layout 0 0"]


def test_fstab_mode_and_escapes() -> None:
    entries = layout_entries(snap({
        "/usr/share/a b": {"bind": "$SNAP/x\\y", "mode": 0o1777},
        "/opt/m": {"type": "tmpfs", "mode": 0},
        "/opt/n": {"type": "tmpfs", "mode": 0o755},
    }), "7")
    assert [e.fstab() for e in entries] == [
        "tmpfs /opt/m tmpfs x-snapd.mode=0,x-snapd.origin=layout 0 0",
        "tmpfs /opt/n tmpfs x-snapd.origin=layout 0 0",
        "/snap/demo/7/x\\134y /usr/share/a\\040b none "
        "rbind,rw,x-snapd.mode=01777,x-snapd.origin=layout 0 0",
    ]


def test_variables_sort_before_slashes_and_expand_to_the_revision() -> None:
    entries = layout_entries(snap({"/usr/x": {"symlink": "$SNAP/y"},
                                   "$SNAP/z": {"bind": "$SNAP_DATA/z"}}), "x3")
    assert entries == (
        MountEntry("/var/snap/demo/x3/z", "/snap/demo/x3/z", "",
                   ("rbind", "rw", "x-snapd.origin=layout")),
        MountEntry("", "/usr/x", "", ("x-snapd.kind=symlink", "x-snapd.symlink=/snap/demo/x3/y",
                                      "x-snapd.origin=layout")),
    )


# --- apply order (spec §2.5) ------------------------------------------------------------------


def test_existing_targets_first_then_by_the_directory_a_mimic_needs() -> None:
    ns = Namespace.from_ops(BASE_OPS, FakeFs(DISK), owned=OWNED)
    entries = layout_entries(snap({
        "/usr/share/doc": {"bind": "$SNAP/doc"},           # exists: independent
        "/usr/share/zz/deep": {"bind": "$SNAP/a"},          # mimic at /usr/share
        "/usr/share/aa": {"bind": "$SNAP/b"},               # mimic at /usr/share
        "/opt/x": {"bind": "$SNAP/c"},                      # mimic at /opt
        "/etc/passwd": {"bind_file": "$SNAP/etc/p"},        # exists: independent
        "/etc/foo.cfg": {"symlink": "$SNAP/f"},             # missing symlink: mimic at /etc
    }), "x1")
    order = [e.dir for e in apply_order(entries, ns)]
    assert order == ["/etc/passwd", "/usr/share/doc", "/etc/foo.cfg", "/opt/x",
                     "/usr/share/aa", "/usr/share/zz/deep"]


# --- what is done, and where ------------------------------------------------------------------


def test_test_snapd_layout_on_the_model() -> None:
    result = plan(TEST_SNAPD_LAYOUT, follow_top_symlinks=True)
    def created(layout: str, *paths: str) -> list[SourceCreate]:
        return [SourceCreate(layout, "/data/demo", path, "file" if path.endswith(".conf")
                             else "dir", f"/var/snap/demo/{path}") for path in paths]

    assert result.sources == (
        *created("/etc/demo.conf", "common/etc", "common/etc/demo.conf"),
        *created("/etc/demo", "common/etc/demo"),
        *created("/var/spool/rsyslog/demo", "x1/var", "x1/var/spool", "x1/var/spool/rsyslog",
                 "x1/var/spool/rsyslog/demo"),
        *created("/var/cache/demo", "x1/var/cache", "x1/var/cache/demo"),
        *created("/var/lib/demo", "x1/var/lib", "x1/var/lib/demo"),
    )
    assert result.ops == (
        # prepare, in apply order: all targets missing, grouped by the directory a mimic
        # would be needed in (/etc, /opt, /usr/bin, /usr/share, /var, /var/cache, /var/lib)
        Mimic("/etc"),
        Symlink("/var/snap/demo/common/etc/demo.conf", "/etc/demo.cfg"),
        File("/etc/demo.conf"),
        Dir("/etc/demo"),
        Mimic("/opt"), Dir("/opt/demo"),
        Mimic("/usr/bin"),  # /bin/... through the root's usr-merge symlink (host stand-in)
        Dir("/usr/bin/very"), Dir("/usr/bin/very/weird"), Dir("/usr/bin/very/weird/place"),
        Mimic("/snap/demo/x1/bin"),  # a missing $SNAP source: only in RAM
        Dir("/snap/demo/x1/bin/very"), Dir("/snap/demo/x1/bin/very/weird"),
        Dir("/snap/demo/x1/bin/very/weird/place"),
        Dir("/usr/bin/very/weird/space"), Dir("/snap/demo/x1/bin/very/weird/space"),
        Mimic("/usr/share"), Dir("/usr/share/demo"),
        # /var is the sandbox's own tmpfs: no mimic for /var/spool
        Dir("/var/spool"), Dir("/var/spool/rsyslog"), Dir("/var/spool/rsyslog/demo"),
        Mimic("/var/cache"), Dir("/var/cache/demo"),
        Mimic("/var/lib"), Dir("/var/lib/demo"),
        # mount, same order; $SNAP sources read-only, the data writable
        Bind("/var/snap/demo/common/etc/demo.conf", "/etc/demo.conf"),
        Bind("/var/snap/demo/common/etc/demo", "/etc/demo"),
        RoBind("/snap/demo/x1/opt/demo", "/opt/demo"),
        RoBind("/snap/demo/x1/bin/very/weird/place", "/usr/bin/very/weird/place"),
        RoBind("/snap/demo/x1/bin/very/weird/space", "/usr/bin/very/weird/space"),
        RoBind("/snap/demo/x1/usr/share/demo", "/usr/share/demo"),
        Bind("/var/snap/demo/x1/var/spool/rsyslog/demo", "/var/spool/rsyslog/demo"),
        Bind("/var/snap/demo/x1/var/cache/demo", "/var/cache/demo"),
        Bind("/var/snap/demo/x1/var/lib/demo", "/var/lib/demo"),
        # mimics of read-only directories become read-only again
        RemountRo("/etc"), RemountRo("/opt"), RemountRo("/usr/bin"),
        RemountRo("/snap/demo/x1/bin"), RemountRo("/usr/share"), RemountRo("/var/cache"),
        RemountRo("/var/lib"),
    )


def test_missing_targets_in_read_only_places_get_one_mimic_each() -> None:
    result = plan({"/opt/demo": {"bind": "$SNAP/opt/demo"},
                   "/opt/other/deeper": {"bind": "$SNAP/opt/demo"},
                   "/usr/share/java/stub/stub.txt": {"bind_file": "$SNAP/stub.txt"}})
    assert result.ops == (
        Mimic("/opt"), Dir("/opt/demo"), Dir("/opt/other"), Dir("/opt/other/deeper"),
        Mimic("/usr/share/java"), Dir("/usr/share/java/stub"),
        File("/usr/share/java/stub/stub.txt"),
        RoBind("/snap/demo/x1/opt/demo", "/opt/demo"),
        RoBind("/snap/demo/x1/opt/demo", "/opt/other/deeper"),
        RoBind("/snap/demo/x1/stub.txt", "/usr/share/java/stub/stub.txt"),
        RemountRo("/opt"), RemountRo("/usr/share/java"),
    )
    assert result.sources == ()


def test_existing_targets_need_nothing_but_the_mount() -> None:
    result = plan({"/usr/share/doc": {"bind": "$SNAP_COMMON/doc"},
                   "$SNAP/Gemfile.lock": {"bind_file": "$SNAP_DATA/Gemfile.lock"},
                   "/var/tmp": {"type": "tmpfs"}})
    assert result.ops == (
        Bind("/var/snap/demo/x1/Gemfile.lock", "/snap/demo/x1/Gemfile.lock"),
        Bind("/var/snap/demo/common/doc", "/usr/share/doc"),
        Tmpfs("/var/tmp", 0o1777),
    )
    assert [(s.path, s.kind) for s in result.sources] == [
        ("x1/Gemfile.lock", "file"), ("common/doc", "dir")]


def test_the_gemfile_case_with_a_missing_target_mimics_snap() -> None:
    result = plan({"$SNAP/Gemfile.lock2": {"bind_file": "$SNAP_DATA/Gemfile.lock2"}})
    assert result.ops == (
        Mimic("/snap/demo/x1"), File("/snap/demo/x1/Gemfile.lock2"),
        Bind("/var/snap/demo/x1/Gemfile.lock2", "/snap/demo/x1/Gemfile.lock2"),
        RemountRo("/snap/demo/x1"),
    )


def test_the_root_tmpfs_and_the_snaps_data_take_new_entries_without_a_mimic() -> None:
    result = plan({"/var/test_tmpfs": {"type": "tmpfs"},
                   "/var/fooo/deeper": {"bind": "$SNAP/usr/share/demo"},
                   "/var/lib/test_data": {"bind": "$SNAP_DATA/test_data"},
                   "/var/lib/test_common": {"bind": "$SNAP_COMMON/test_common"}})
    assert result.ops == (
        Dir("/var/fooo"), Dir("/var/fooo/deeper"), Dir("/var/test_tmpfs"),
        Mimic("/var/lib"), Dir("/var/lib/test_common"), Dir("/var/lib/test_data"),
        RoBind("/snap/demo/x1/usr/share/demo", "/var/fooo/deeper"),
        Tmpfs("/var/test_tmpfs", 0o1777),
        Bind("/var/snap/demo/common/test_common", "/var/lib/test_common"),
        Bind("/var/snap/demo/x1/test_data", "/var/lib/test_data"),
        RemountRo("/var/lib"),
    )
    assert [s.path for s in result.sources] == ["common/test_common", "x1/test_data"]


def test_the_hosts_writable_var_tmp_is_mimicked_and_stays_writable() -> None:
    result = plan({"/var/tmp/x": {"bind": "$SNAP_DATA/x"}})
    assert result.ops == (Mimic("/var/tmp"), Dir("/var/tmp/x"),
                          Bind("/var/snap/demo/x1/x", "/var/tmp/x"))


def test_nested_mimics_and_one_per_directory() -> None:
    result = plan({"/usr/lib/x86_64-linux-gnu/wpe/a": {"bind": "$SNAP/a"},
                   "/usr/lib/newdir/b": {"bind": "$SNAP/a"},
                   "/usr/lib/x86_64-linux-gnu/other": {"bind": "$SNAP/a"}})
    mimics = [op for op in result.ops if isinstance(op, Mimic)]
    assert mimics == [Mimic("/usr/lib"), Mimic("/usr/lib/x86_64-linux-gnu")]
    assert result.ops[-2:] == (RemountRo("/usr/lib"), RemountRo("/usr/lib/x86_64-linux-gnu"))


def test_etc_from_the_host_keeps_what_the_base_mounted_in_it() -> None:
    ns = Namespace.from_ops(BASE_OPS, FakeFs(DISK), owned=OWNED)
    ns.mimic("/etc")
    backing, rel = ns.backing_of("/etc/ssl/certs")
    assert (getattr(backing, "path", None), rel) == ("/base/etc/ssl", "certs")
    assert ns.node("/etc/passwd") is not None and ns.node("/etc/fifo") is None


def test_nested_layouts_inside_snap_lp_1831010() -> None:
    result = plan({"$SNAP/b/c": {"bind": "$SNAP/a"}, "$SNAP/d": {"bind": "$SNAP/b"}})
    # Both targets exist: the rbind of $SNAP/b onto $SNAP/d then carries b/c's mount.
    assert result.ops == (RoBind("/snap/demo/x1/a", "/snap/demo/x1/b/c"),
                          RoBind("/snap/demo/x1/b", "/snap/demo/x1/d"))


def test_symlinks_point_at_the_revision_and_are_made_once() -> None:
    result = plan({"/opt/runtime": {"symlink": "$SNAP/runtime"}})
    assert result.ops == (Mimic("/opt"), Symlink("/snap/demo/x1/runtime", "/opt/runtime"),
                          RemountRo("/opt"))
    same = plan({"/usr/lib/x86_64-linux-gnu/libc.so": {"symlink": "$SNAP/libc.so.6"}},
                disk=[*DISK, "/base/usr/lib/x86_64-linux-gnu/libc.so -> /snap/demo/x1/libc.so.6"])
    assert same.ops == ()


def test_a_source_inside_a_mimic_is_bound_read_only() -> None:
    result = plan({"/opt/place": {"bind": "$SNAP/made/up"}})
    assert result.ops == (
        Mimic("/opt"), Dir("/opt/place"),
        Mimic("/snap/demo/x1"), Dir("/snap/demo/x1/made"), Dir("/snap/demo/x1/made/up"),
        RoBind("/snap/demo/x1/made/up", "/opt/place"),
        RemountRo("/opt"), RemountRo("/snap/demo/x1"),
    )


def test_host_stand_in_follows_top_level_symlinks_only_when_asked() -> None:
    assert plan({"/bin/x": {"bind": "$SNAP/a"}}, follow_top_symlinks=True).ops[:2] == (
        Mimic("/usr/bin"), Dir("/usr/bin/x"))
    assert failure({"/bin/x": {"bind": "$SNAP/a"}}) == (
        'cannot set up layout "/bin/x": cannot open directory "/bin": '
        "not a directory")


def test_classic_errors_of_snap_update_ns() -> None:
    assert failure({"/etc/passwd": {"bind": "$SNAP/a"}}) == (
        'cannot set up layout "/etc/passwd": cannot use "/etc/passwd" as mount point: '
        "not a directory")
    assert failure({"/etc/ssl": {"bind_file": "$SNAP/etc/vtpath.ini"}}) == (
        'cannot set up layout "/etc/ssl": cannot use "/etc/ssl" as mount point: '
        "not a regular file")
    assert failure({"/etc/passwd": {"symlink": "$SNAP/a"}}) == (
        'cannot set up layout "/etc/passwd": cannot create symlink in "/etc/passwd": '
        "existing file in the way")
    assert failure({"/usr/lib/x86_64-linux-gnu/libc.so": {"symlink": "$SNAP/other"}}) == (
        'cannot set up layout "/usr/lib/x86_64-linux-gnu/libc.so": cannot create symbolic '
        'link "/usr/lib/x86_64-linux-gnu/libc.so": existing symbolic link in the way')
    assert failure({"/opt/x": {"bind": "$SNAP/Gemfile"}}) == (
        'cannot set up layout "/opt/x": cannot use "/snap/demo/x1/Gemfile" as bind-mount '
        "source: not a directory")
    assert failure({"/opt/x": {"bind_file": "$SNAP/a"}}) == (
        'cannot set up layout "/opt/x": cannot use "/snap/demo/x1/a" as bind-mount '
        "source: not a regular file")
    assert failure({"/etc/passwd/x": {"bind": "$SNAP/a"}}) == (
        'cannot set up layout "/etc/passwd/x": cannot open directory "/etc/passwd": '
        "not a directory")


def test_a_symlink_planted_in_the_snaps_data_is_refused() -> None:
    disk = [*DISK, "/data/demo/common/etc -> /etc"]
    assert failure({"/etc/demo": {"bind": "$SNAP_COMMON/etc/demo"}}, disk) == (
        'cannot set up layout "/etc/demo": cannot open directory '
        '"/var/snap/demo/common/etc": not a directory')
    disk = [*DISK, "/data/demo/common/conf -> /etc/passwd"]
    assert failure({"/etc/demo.conf": {"bind_file": "$SNAP_COMMON/conf"}}, disk) == (
        'cannot set up layout "/etc/demo.conf": cannot use "/var/snap/demo/common/conf" as '
        "bind-mount source: not a regular file")


def test_no_layouts_no_lookups() -> None:
    fs = FakeFs(DISK)
    assert plan_layouts(snap({}), "x1", BASE_OPS, fs, owned=OWNED) == LayoutPlan(())
    assert fs.asked == []
