"""``usersnap debug layout``'s text: snapd's fstab lines, then (``--ops``) what is done."""

from __future__ import annotations

from usersnap.cli.commands.debug import describe, layout_lines
from usersnap.layouts.plan import LayoutPlan, MountEntry, SourceCreate
from usersnap.sandbox.ops import Bind, Dir, File, Mimic, RemountRo, RoBind, Symlink, Tmpfs

PLAN = LayoutPlan(
    entries=(MountEntry("/var/snap/x/common/etc/demo", "/etc/demo", "",
                        ("rbind", "rw", "x-snapd.origin=layout")),
             MountEntry("tmpfs", "/var/t", "tmpfs", ("x-snapd.origin=layout",))),
    sources=(SourceCreate("/etc/demo", "/data/x", "common/etc/demo", "dir",
                          "/var/snap/x/common/etc/demo"),),
    ops=(Mimic("/etc"), Dir("/etc/demo"), Dir("/var/t"),
         Bind("/var/snap/x/common/etc/demo", "/etc/demo"), Tmpfs("/var/t", 0o1777),
         RemountRo("/etc")),
)


def test_the_profile_alone_by_default() -> None:
    assert layout_lines(PLAN, ops=False) == [
        "/var/snap/x/common/etc/demo /etc/demo none rbind,rw,x-snapd.origin=layout 0 0",
        "tmpfs /var/t tmpfs x-snapd.origin=layout 0 0",
    ]


def test_ops_follow_the_profile() -> None:
    assert layout_lines(PLAN, ops=True)[2:] == [
        "# created in the snap's data before the launch",
        "dir /var/snap/x/common/etc/demo",
        "# applied in the sandbox, in this order",
        "mimic /etc", "mkdir /etc/demo", "mkdir /var/t",
        "bind /var/snap/x/common/etc/demo /etc/demo", "tmpfs /var/t mode=1777",
        "remount-ro /etc",
    ]
    assert layout_lines(PLAN, ops=True, classic=True)[2:] == [
        "# classic confinement: layouts are not applied"]


def test_every_op_has_words() -> None:
    assert [describe(op) for op in (File("/a"), Symlink("/t", "/a"), RoBind("/s", "/a"),
                                    Tmpfs("/a"))] == [
        "touch /a", "symlink /t /a", "bind-ro /s /a", "tmpfs /a"]
