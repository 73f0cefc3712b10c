"""Layouts in the sandbox spec: where their ops go, and what bwrap is told."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.layouts.fakefs import FakeFs
from tests.unit.sandbox.test_plan import BASE, DIRS, FACTS, HOST_FACTS, INFO
from usersnap.layouts.plan import SourceCreate
from usersnap.meta.model import Layout, frozen_map
from usersnap.sandbox.bwrap import BLOCK_FD, bwrap_options
from usersnap.sandbox.ops import Bind, Dir, Mimic, RemountRo, RoBind, Symlink
from usersnap.sandbox.plan import plan_sandbox

LAYOUT = frozen_map({
    "/usr/share/foo": Layout("/usr/share/foo", bind="$SNAP_DATA/foo"),
    "/etc/foo.conf": Layout("/etc/foo.conf", symlink="$SNAP/foo.conf"),
})
WITH_LAYOUT = replace(INFO, layout=LAYOUT)
B = str(BASE)
DISK = FakeFs([f"{B}/usr/share/doc/", "/etc/passwd", "/u/root/data/hello/x1/",
               "/run/user/1000/usersnap/snap/hello/x1/meta/snap.yaml"])


def plan(info=WITH_LAYOUT, **kwargs: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {"facts": FACTS, "base_tree": BASE, "app": INFO.apps["hello"],
                                  "host_env": {}, "layout_lookup": DISK}
    options.update(kwargs)
    return plan_sandbox(info, "x1", DIRS, **options)  # type: ignore[arg-type]


def test_layouts_run_in_the_namespace_before_the_final_remount() -> None:
    without = plan(INFO)
    spec = plan()
    assert spec.ops == without.ops[:-1] and without.ops[-1] == RemountRo("/")
    assert spec.layout_ops == (
        Mimic("/etc"), Symlink("/snap/hello/x1/foo.conf", "/etc/foo.conf"),
        Mimic("/usr/share"), Dir("/usr/share/foo"),
        Bind("/var/snap/hello/x1/foo", "/usr/share/foo"),
        RemountRo("/etc"), RemountRo("/usr/share"),
        RemountRo("/"),
    )
    assert spec.sources == (SourceCreate("/usr/share/foo", "/u/root/data/hello", "x1/foo",
                                         "dir", "/var/snap/hello/x1/foo"),)
    options = bwrap_options(spec)
    assert options[options.index("--block-fd") + 1] == str(BLOCK_FD)
    assert "--block-fd" not in bwrap_options(without)


def test_classic_snaps_and_snaps_without_layouts_are_untouched() -> None:
    classic = plan(replace(WITH_LAYOUT, confinement="classic"), layout_lookup=None)
    assert classic.layout_ops == () and classic.sources == ()
    assert classic.ops == plan(INFO).ops


def test_a_layout_needs_to_see_the_disk() -> None:
    with pytest.raises(ValueError, match="layout_lookup"):
        plan(layout_lookup=None)


def test_the_host_stand_in_follows_its_usr_merge_symlinks() -> None:
    info = replace(INFO, layout=frozen_map({"/bin/tool": Layout("/bin/tool", bind="$SNAP/t")}))
    fs = FakeFs(["/usr/bin/sh", "/run/user/1000/usersnap/snap/hello/x1/t/"])
    spec = plan(info, facts=HOST_FACTS, base_tree=None, layout_lookup=fs)
    assert spec.layout_ops[:3] == (Mimic("/usr/bin"), Dir("/usr/bin/tool"),
                                   RoBind("/snap/hello/x1/t", "/usr/bin/tool"))
