"""The sandbox plan, compared whole: what is mounted where, in which order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from usersnap.dirs import Dirs
from usersnap.errors import SandboxError
from usersnap.meta.model import App, Hook, Plug, SnapInfo, frozen_map
from usersnap.sandbox.bwrap import MAX_PINNED, PINNED_FD
from usersnap.sandbox.ops import (
    Bind,
    DevBind,
    Dir,
    PinnedBind,
    Proc,
    RemountRo,
    RoBind,
    Symlink,
    Tmpfs,
)
from usersnap.sandbox.plan import Entry, EntryKind, HostFacts, plan_sandbox, plugged_interfaces

DIRS = Dirs(root=Path("/u/root"), runtime=Path("/run/user/1000/usersnap"),
            home=Path("/home/alice"), uid=1000)
BASE = Path("/run/user/1000/usersnap/snap/core22/1033")
INFO = SnapInfo(
    name="hello", version="2.10", base="core22",
    apps=frozen_map({
        "hello": App(name="hello", command="bin/hello --greet $SNAP_NAME"),
        "files": App(name="files", command="bin/files", plugs=("home",)),
    }),
    hooks=frozen_map({"install": Hook(name="install")}),
)
CORE22_TOP = (
    Entry("bin", "symlink", "usr/bin"), Entry("boot", "dir"), Entry("dev", "dir"),
    Entry("etc", "dir"), Entry("home", "dir"), Entry("lib", "symlink", "usr/lib"),
    Entry("lib64", "symlink", "usr/lib64"), Entry("media", "dir"), Entry("meta", "dir"),
    Entry("mnt", "dir"), Entry("opt", "dir"), Entry("proc", "dir"), Entry("root", "dir"),
    Entry("run", "dir"), Entry("sbin", "symlink", "usr/sbin"), Entry("snap", "dir"),
    Entry("srv", "dir"), Entry("sys", "dir"), Entry("tmp", "dir"), Entry("usr", "dir"),
    Entry("var", "dir"), Entry("writable", "dir"),
)
CORE22_VAR = (
    Entry("cache", "dir"), Entry("lib", "dir"), Entry("lock", "symlink", "/run/lock"),
    Entry("log", "dir"), Entry("run", "symlink", "/run"), Entry("snap", "dir"),
    Entry("tmp", "dir"),
)
FACTS = HostFacts(
    gid=1000, arch="amd64", root_entries=CORE22_TOP, var_entries=CORE22_VAR,
    base_etc=frozen_map({"/etc/alternatives": "dir", "/etc/nsswitch.conf": "file",
                         "/etc/ssl": "dir", "/etc/apparmor.d": "dir"}),
    host_etc=frozen_map({"/etc/alternatives": "dir", "/etc/nsswitch.conf": "file",
                         "/etc/ssl": "dir", "/etc/apparmor.d": "file"}),
    debian_like=False,
)
HOST_FACTS = HostFacts(
    gid=1000, arch="amd64",
    root_entries=(Entry("bin", "symlink", "usr/bin"), Entry("dev", "dir"), Entry("etc", "dir"),
                  Entry("home", "dir"), Entry("opt", "dir"), Entry("snap", "dir"),
                  Entry("tmp", "dir"), Entry("usr", "dir"), Entry("var", "dir"),
                  Entry("vmlinuz", "symlink", "boot/vmlinuz")),
    var_entries=(Entry("lib", "dir"), Entry("run", "symlink", "/run"), Entry("tmp", "dir")),
    host_etc=frozen_map({"/etc/alternatives": "dir"}),
    debian_like=True, resolv_dir="/run/systemd/resolve",
)

COMMON_TAIL = [
    Bind("/run/user/1000/usersnap/usersnapd-snap.socket", "/run/snapd-snap.socket",
         optional=True),
    Dir("/run/user/1000", 0o700),
    Bind("/run/user/1000/usersnap/xdg/snap.hello", "/run/user/1000/snap.hello"),
    Bind("/run/user/1000/usersnap/tmp/snap.hello", "/tmp"),
    Dir("/var"),
]
HOME_OPS = [
    Bind("/u/root/user-data/hello", "/home/alice/snap/hello"),
    RemountRo("/"),
]


def plan(**kwargs: object):  # type: ignore[no-untyped-def]
    options: dict[str, object] = {"facts": FACTS, "base_tree": BASE, "app": INFO.apps["hello"],
                                  "host_env": {"LANG": "C"}}
    options.update(kwargs)
    return plan_sandbox(INFO, "x1", DIRS, **options)  # type: ignore[arg-type]


def test_with_base() -> None:
    spec = plan()
    b = str(BASE)
    assert list(spec.ops) == [
        Symlink("usr/bin", "/bin"),
        Symlink("usr/lib", "/lib"),
        Symlink("usr/lib64", "/lib64"),
        RoBind(f"{b}/meta", "/meta"),
        RoBind(f"{b}/opt", "/opt"),
        Symlink("usr/sbin", "/sbin"),
        RoBind(f"{b}/srv", "/srv"),
        RoBind(f"{b}/usr", "/usr"),
        RoBind(f"{b}/writable", "/writable"),
        Dir("/home"), Dir("/mnt"), Dir("/media"), Dir("/root"),
        DevBind("/dev", "/dev"),
        Proc("/proc"),
        RoBind("/sys", "/sys"),
        RoBind("/etc", "/etc"),
        RoBind(f"{b}/etc/alternatives", "/etc/alternatives"),
        RoBind(f"{b}/etc/nsswitch.conf", "/etc/nsswitch.conf"),
        RoBind(f"{b}/etc/ssl", "/etc/ssl"),  # apparmor.d: file on the host, dir in the base
        Tmpfs("/run"),
        *COMMON_TAIL,
        RoBind(f"{b}/var/cache", "/var/cache"),
        RoBind(f"{b}/var/lib", "/var/lib"),
        Symlink("/run/lock", "/var/lock"),
        RoBind(f"{b}/var/log", "/var/log"),
        Symlink("/run", "/var/run"),
        Bind("/var/tmp", "/var/tmp", optional=True),
        Dir("/var/snap"),
        Bind("/u/root/data/hello", "/var/snap/hello"),
        RoBind("/run/user/1000/usersnap/snap", "/snap"),
        Dir("/home/alice"),
        *HOME_OPS,
    ]
    assert spec.notices == ()
    assert spec.argv == ("/snap/hello/x1/bin/hello", "--greet", "hello")
    assert spec.env["HOME"] == "/home/alice/snap/hello/x1"
    assert spec.env["LANG"] == "C"
    assert (spec.instance, spec.revision, spec.uid, spec.gid, spec.cwd) == (
        "hello", "x1", 1000, 1000, None)


def test_snapctl_is_bound_over_the_bases_usr_lib_snapd() -> None:
    facts = replace(FACTS, snapctl_dir="/u/root/cache/snapctl", snapctl_mount="/usr/lib/snapd")
    ops = list(plan(facts=facts).ops)
    at = ops.index(RoBind("/u/root/cache/snapctl", "/usr/lib/snapd"))
    assert ops[at + 1] == Tmpfs("/run")
    assert ops.index(RoBind(f"{BASE}/usr", "/usr")) < at


def test_host_as_base() -> None:
    spec = plan(facts=HOST_FACTS, base_tree=None)
    assert list(spec.ops) == [
        Symlink("usr/bin", "/bin"),
        RoBind("/opt", "/opt"),
        RoBind("/usr", "/usr"),
        Symlink("boot/vmlinuz", "/vmlinuz"),
        Dir("/home"), Dir("/mnt"), Dir("/media"), Dir("/root"),
        DevBind("/dev", "/dev"),
        Proc("/proc"),
        RoBind("/sys", "/sys"),
        RoBind("/etc", "/etc"),  # nothing put back: the host is the base
        Tmpfs("/run"),
        RoBind("/run/systemd/resolve", "/run/systemd/resolve"),
        *COMMON_TAIL,
        RoBind("/var/lib", "/var/lib"),
        Symlink("/run", "/var/run"),
        Bind("/var/tmp", "/var/tmp", optional=True),
        Dir("/var/snap"),
        Bind("/u/root/data/hello", "/var/snap/hello"),
        RoBind("/run/user/1000/usersnap/snap", "/snap"),
        Dir("/home/alice"),
        *HOME_OPS,
    ]
    assert spec.notices == (
        'base "core22" is not installed; using the host system as the base',
    )


HOME_TOP = (Entry(".bashrc", "file"), Entry(".dotlink", "symlink", "notes"),
            Entry(".ssh", "dir"), Entry("Documents", "dir"), Entry("keys", "symlink", ".ssh"),
            Entry("notes", "file"), Entry("snap", "dir"))
VIEW_COVER = [Tmpfs("/snap/.home", 0o000), RemountRo("/snap/.home")]


def test_home_plug_gets_the_home_view_with_visible_entries_bound_over_it() -> None:
    facts = replace(FACTS, home_entries=HOME_TOP, home_view="served")
    spec = plan(app=INFO.apps["files"], facts=facts)
    at = list(spec.ops).index(RoBind("/run/user/1000/usersnap/snap", "/snap"))
    assert list(spec.ops[at + 1:]) == [
        *VIEW_COVER,
        Bind("/run/user/1000/usersnap/snap/.home", "/home/alice"),
        PinnedBind("/home/alice/Documents", "/home/alice/Documents", optional=True, fd=16),
        Tmpfs("/home/alice/snap"),
        Bind("/u/root/user-data/hello", "/home/alice/snap/hello"),
        RemountRo("/home/alice/snap"),
        RemountRo("/"),
    ]
    assert spec.notices == ()
    # without home the view is covered all the same, and $HOME is empty
    spec = plan(facts=facts)
    assert list(spec.ops[at + 1:]) == [*VIEW_COVER, Dir("/home/alice"), *HOME_OPS]


@pytest.mark.parametrize("view", ["absent", "other"])
def test_home_plug_without_a_view_gets_a_read_only_top_level(view: str) -> None:
    facts = replace(FACTS, home_entries=HOME_TOP, home_view=view)  # type: ignore[arg-type]
    spec = plan(app=INFO.apps["files"], facts=facts)
    at = list(spec.ops).index(RoBind("/run/user/1000/usersnap/snap", "/snap"))
    assert list(spec.ops[at + 1:]) == [
        *(VIEW_COVER if view == "other" else []),
        Tmpfs("/home/alice"),
        PinnedBind("/home/alice/Documents", "/home/alice/Documents", optional=True, fd=16),
        PinnedBind("/home/alice/notes", "/home/alice/notes", optional=True, fd=17),
        Symlink("notes", "/home/alice/.dotlink"),
        Symlink(".ssh", "/home/alice/keys"),
        Bind("/u/root/user-data/hello", "/home/alice/snap/hello"),
        RemountRo("/home/alice"),
        RemountRo("/"),
    ]
    assert spec.notices == ('interface "home" is connected but the top level of $HOME is '
                            "read-only: usersnapd serves no view of it (usersnap runs rootless)",)


def test_hook_plan() -> None:
    spec = plan(app=None, hook=INFO.hooks["install"], cookie="k")
    assert spec.argv == ("/snap/hello/x1/meta/hooks/install",)
    assert spec.env["SNAP_COOKIE"] == "k"
    assert Dir("/home/alice") in spec.ops


def test_shell_plan() -> None:
    spec = plan(shell=True, args=("-c", "id"))
    assert spec.argv == ("/bin/bash", "-c", "id")


def test_bad_owner_arguments() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        plan(app=None)
    with pytest.raises(ValueError, match="hooks take no arguments"):
        plan(app=None, hook=INFO.hooks["install"], args=("x",))


def test_snap_without_base_falls_back_to_core_in_notice() -> None:
    info = SnapInfo(name="old", version="1", apps=frozen_map({"old": App(name="old", command="x")}))
    spec = plan_sandbox(info, "1", DIRS, facts=HOST_FACTS, base_tree=None,
                        app=info.apps["old"], host_env={})
    assert spec.notices == ('base "core" is not installed; using the host system as the base',)


def _etc_binds(base: str, debian_like: bool) -> list[str]:
    info = SnapInfo(name="n", version="1", base=base,
                    apps=frozen_map({"a": App(name="a", command="x")}))
    every = ("/etc/alternatives", "/etc/nsswitch.conf", "/etc/apparmor", "/etc/apparmor.d",
             "/etc/ssl", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
    kinds: Mapping[str, EntryKind] = frozen_map({
        p: ("file" if "cache" in p or p.endswith(("conf", ".conf")) else "dir") for p in every
    })
    facts = HostFacts(gid=0, arch="amd64", root_entries=(), var_entries=(), base_etc=kinds,
                      host_etc=kinds, debian_like=debian_like)
    spec = plan_sandbox(info, "1", DIRS, facts=facts, base_tree=Path("/b"), app=info.apps["a"],
                        host_env={})
    return [op.dest for op in spec.ops if isinstance(op, RoBind) and op.src.startswith("/b/etc")]


def test_etc_from_base_rules() -> None:
    assert _etc_binds("core22", debian_like=False) == [
        "/etc/alternatives", "/etc/nsswitch.conf", "/etc/apparmor", "/etc/apparmor.d", "/etc/ssl",
    ]
    # Debian-like hosts keep their CA setup with core* bases
    assert "/etc/ssl" not in _etc_binds("core24", debian_like=True)
    # bases after core24 also take the ld.so files (and ssl: not a core* name)
    assert _etc_binds("fedora42", debian_like=True)[-4:] == [
        "/etc/ssl", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    ]


def test_home_inside_a_base_directory_is_refused() -> None:
    dirs = Dirs(root=Path("/u"), runtime=Path("/r"), home=Path("/opt/alice"), uid=1000)
    with pytest.raises(SandboxError, match="inside /opt, which comes read-only from the base"):
        plan_sandbox(INFO, "1", dirs, facts=FACTS, base_tree=BASE, app=INFO.apps["hello"],
                     host_env={})


def test_plug_binding() -> None:
    info = SnapInfo(
        name="p", version="1",
        plugs=frozen_map({"everyone": Plug("everyone", "network"),
                          "mine": Plug("mine", "home"),
                          "dot-config": Plug("dot-config", "personal-files")}),
        apps=frozen_map({"a": App(name="a", command="x", plugs=("mine", "x11")),
                         "b": App(name="b", command="x", plugs=("dot-config",))}),
        hooks=frozen_map({"install": Hook(name="install")}),
    )
    assert plugged_interfaces(info, info.apps["a"]) == {"network", "home", "x11"}
    assert plugged_interfaces(info, info.apps["b"]) == {"network", "personal-files"}
    assert plugged_interfaces(info, info.hooks["install"]) == {"network"}


def test_home_entries_beyond_the_pinned_fds_are_left_to_the_view() -> None:
    many = tuple(Entry(f"e{i:03}", "dir") for i in range(MAX_PINNED + 10))
    facts = replace(FACTS, home_entries=many, home_view="served")
    pinned = [op for op in plan(app=INFO.apps["files"], facts=facts).ops
              if isinstance(op, PinnedBind)]
    assert len(pinned) == MAX_PINNED
    assert [op.fd for op in pinned] == list(range(PINNED_FD, PINNED_FD + MAX_PINNED))
    assert pinned[-1].to_args() == ["--bind-try", f"/proc/self/fd/{PINNED_FD + MAX_PINNED - 1}",
                                    f"/home/alice/e{MAX_PINNED - 1:03}"]
