"""From snap metadata and a revision to a complete, inert description of the sandbox.

The mount namespace follows snap-confine's (``cmd/snap-confine/mount-support.c``,
snap-semantics §2.4) with the rootless substitutions usersnap needs:

====================  =================================================================
/                     tmpfs; each top-level entry of the base bound (dirs, files) or
                      recreated (symlinks); remounted read-only as the last step
/dev /proc /sys       host /dev, a procfs of the new pid namespace, host /sys read-only
/etc                  host /etc read-only, then alternatives, nsswitch.conf, apparmor,
                      apparmor.d, ssl (not on Debian-like hosts with core* bases) and,
                      for bases after core24, the ld.so files, from the base
/run                  tmpfs with /run/user/UID (0700) and XDG_RUNTIME_DIR bound in it
/tmp                  the snap's private tmp (``Dirs.private_tmp``)
/var                  the base's /var entries, host /var/tmp (as snapd binds it),
                      /var/snap/NAME = ``Dirs.data_dir`` read-write
/snap                 the FUSE tree (``Dirs.mount``) read-only
/home, /root,         empty directories; $HOME is filled only when the snap plugs
/mnt, /media          ``home`` (auto-connected on classic), ~/snap/NAME is always bound
====================  =================================================================

With ``home``, $HOME is usersnapd's home view (``Dirs.home_view``, :mod:`usersnap.fusefs.home`),
a writable passthrough of the real $HOME that neither shows nor lets anyone make
top-level hidden entries, with each existing visible directory of the real $HOME bound
straight over it (the kernel serves what is below them at full speed; top-level files
and new entries go through usersnapd) and ``~/snap`` a tmpfs holding ~/snap/NAME.  The
view itself is covered in the sandbox's /snap.  Without a view of this $HOME (an older
usersnapd, another $HOME), $HOME is a tmpfs with the visible directories and files
bound and the top-level symlinks recreated, then read-only: nothing new can be made at
the top level.

When the base is not installed the host's own / stands in for it (read-only, entry by
entry, never whole) and a notice says so.

Layouts (:mod:`usersnap.layouts.plan`) come last, before / is remounted read-only:
the launcher creates their missing sources in the snap's data (``SandboxSpec.sources``)
and, once bwrap has built the namespace, applies them in it as snap-update-ns would
(``SandboxSpec.layout_ops``, which then end with that remount).  Classic snaps get none,
as under snapd (no mount namespace of their own).

Connected interfaces (:mod:`usersnap.interfaces.effects`) add their mounts after the
home directory, before that final remount; without ``network`` (or ``network-bind``)
the sandbox gets a network namespace of its own with only loopback.

The working directory is left to bwrap (``cwd=None``): it keeps the caller's directory
when that path exists inside the sandbox, else moves to $HOME.  snap-confine tries the
same path too but falls back to /var/lib/snapd/void, a mode-0111 directory nothing can
be done in; $HOME (= $SNAP_USER_DATA) is friendlier and equally private.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from usersnap.dirs import Dirs
from usersnap.errors import SandboxError
from usersnap.fusefs.homepolicy import RESERVED, bound_directly, classify
from usersnap.interfaces.connect import Conn, auto_connect, bound_plugs, plugs_of
from usersnap.interfaces.effects import Host as EffectsHost
from usersnap.interfaces.effects import plan_effects
from usersnap.interfaces.gpu import HostDriver, plan_driver
from usersnap.meta.model import App, Hook, SnapInfo, frozen_map
from usersnap.sandbox.bwrap import MAX_PINNED, PINNED_FD
from usersnap.sandbox.command import app_argv, hook_argv, shell_argv
from usersnap.sandbox.environment import (
    SNAP_MOUNT_DIR,
    build_environment,
    go_join,
    user_snap_dir,
)
from usersnap.sandbox.ops import (
    Bind,
    DevBind,
    Dir,
    NsOp,
    Op,
    PinnedBind,
    Proc,
    RemountRo,
    RoBind,
    Symlink,
    Tmpfs,
)

if TYPE_CHECKING:  # imported when a snap has layouts: most never pay for it at start-up
    from usersnap.layouts.plan import LayoutPlan, SourceCreate
    from usersnap.layouts.view import Lookup

EntryKind = Literal["dir", "file", "symlink"]
#: ``Dirs.home_view`` is missing, serves another directory, or serves $HOME.
HomeViewState = Literal["absent", "other", "served"]

#: Entries snap-confine binds from the base back over the host's /etc (mount-support.c).
ETC_FROM_BASE = (
    "/etc/alternatives", "/etc/nsswitch.conf", "/etc/apparmor", "/etc/apparmor.d", "/etc/ssl",
)
#: Where snapctl finds snapd (dirs.SnapSocket).
SNAP_SOCKET = "/run/snapd-snap.socket"
#: Added for bases newer than core24 (snapd master; absent from 2.57.6).
ETC_FROM_NEW_BASES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry; snap-confine only knows directories, files and symlinks."""

    name: str
    kind: EntryKind
    target: str = ""


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the planner must know about the disk; ``facts.gather_host_facts`` reads it."""

    gid: int
    arch: str
    #: top level of the tree used as / (the base snap, or the host when it is missing)
    root_entries: tuple[Entry, ...]
    #: that tree's /var
    var_entries: tuple[Entry, ...]
    #: kind of each ETC_FROM_BASE/ETC_FROM_NEW_BASES path that exists in the base ...
    base_etc: Mapping[str, EntryKind] = field(default_factory=lambda: frozen_map())
    #: ... and on the host (the host /etc is what the sandbox's /etc starts as)
    host_etc: Mapping[str, EntryKind] = field(default_factory=lambda: frozen_map())
    #: /etc/os-release says ID=debian or ID_LIKE=debian (snap-confine's sc_is_debian_like)
    debian_like: bool = False
    #: the /run directory holding the host's resolv.conf when /etc/resolv.conf points there
    resolv_dir: str = ""
    #: usersnap's snapctl directory and where to bind it: /usr/lib/snapd, as snap-confine
    #: binds the host's (core bases link /usr/bin/snapctl there), else /usr/local/bin,
    #: empty in bases and on PATH ("" when there is no snapctl or neither directory)
    snapctl_dir: str = ""
    snapctl_mount: str = ""
    #: the top level of $HOME (``home``)
    home_entries: tuple[Entry, ...] = ()
    #: whether usersnapd's home view serves $HOME
    home_view: HomeViewState = "absent"
    #: the host's /dev/video* nodes (``camera``)
    video_devices: tuple[str, ...] = ()
    #: the host's NVIDIA driver (``opengl``)
    gpu: HostDriver = field(default_factory=HostDriver)


#: Top-level names never taken from the base: set up explicitly below.
NOT_FROM_BASE = frozenset({
    "dev", "proc", "sys", "tmp", "home", "run", "snap", "var", "root", "mnt", "media", "boot",
    "lost+found", "etc",
})
#: Created empty so the tree looks like snapd's (snapd binds the host's; nothing grants
#: them to a strict snap by default).
EMPTY_TOP_DIRS = ("/home", "/mnt", "/media", "/root")
#: /var entries set up explicitly.
NOT_FROM_BASE_VAR = frozenset({"snap", "tmp"})
#: Bases whose /etc ld.so files stay the host's (snap-confine's ``bases_before_26``).
BASES_BEFORE_26 = frozenset({"core", "core18", "core20", "core22", "core24"})


@dataclass(frozen=True, slots=True)
class SeccompPlan:
    """Where the launcher finds (or compiles) the filter, and whether it only logs."""

    cache_dir: str
    #: devmode: what the allow-list lacks is logged, not denied (snapd's ``@complain``)
    complain: bool = False


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    """Everything needed to start one sandboxed process; no I/O has happened yet."""

    instance: str
    revision: str
    uid: int
    gid: int
    ops: tuple[Op, ...]
    env: Mapping[str, str]
    argv: tuple[str, ...]
    #: None: bwrap keeps the caller's directory if it exists inside, else goes to $HOME
    cwd: str | None = None
    #: one-line messages for stderr before the launch (e.g. the missing-base fallback)
    notices: tuple[str, ...] = ()
    #: layout sources the launcher creates in the snap's data before anything starts
    sources: tuple[SourceCreate, ...] = ()
    #: performed by the launcher in the sandbox's namespace after bwrap's ``ops``, before
    #: the app starts (bwrap then waits for them on ``--block-fd``)
    layout_ops: tuple[NsOp, ...] = ()
    #: interfaces connected to the owner: their seccomp snippets join the template
    interfaces: frozenset[str] = frozenset()
    #: the seccomp filter to load; None loads none (classic, ``@unrestricted``)
    seccomp: SeccompPlan | None = None
    #: keep the host's network (``network`` connected); else bwrap --unshare-net
    share_net: bool = True


def base_name(info: SnapInfo) -> str:
    """The base a snap runs on; snaps without ``base:`` use ``core``."""
    return info.base or "core"


def plugged_interfaces(info: SnapInfo, owner: App | Hook) -> frozenset[str]:
    """Interfaces of the plugs bound to ``owner``.

    snapd binds a top-level plug that no app or hook names to every app and hook
    (``snap/info_snap_yaml.go``: bindUnscopedPlugs); a plug named only in an app is
    its own interface.
    """
    named = {p for a in info.apps.values() for p in a.plugs}
    named.update(p for h in info.hooks.values() for p in h.plugs)
    bound = set(owner.plugs) | {p for p in info.plugs if p not in named}
    return frozenset(info.plugs[p].interface if p in info.plugs else p for p in bound)


def plan_sandbox(
    info: SnapInfo,
    revision: str,
    dirs: Dirs,
    *,
    facts: HostFacts,
    base_tree: Path | None,
    app: App | None = None,
    hook: Hook | None = None,
    args: Sequence[str] = (),
    host_env: Mapping[str, str],
    shell: bool = False,
    cookie: str = "",
    layout_lookup: Lookup | None = None,
    connections: Sequence[Conn] | None = None,
) -> SandboxSpec:
    """Plan ``app`` (with ``args``; ``shell`` for ``snap run --shell``) or ``hook``.

    ``base_tree`` is the installed base's tree (``<mount>/<base>/<rev>``) or None to
    use the host; ``facts`` must have been gathered for that same tree.
    ``layout_lookup`` (``facts.lookup``) lets the layout planner see what exists; it is
    needed when the snap has layouts.  ``connections`` are the snap's stored plug
    connections; None plans what install would auto-connect to the system's slots.
    """
    if (app is None) == (hook is None):
        raise ValueError("exactly one of app and hook must be given")
    home = str(dirs.home)
    env = build_environment(
        info, revision, app=app, hook=hook, host_env=host_env, uid=dirs.uid, home=home,
        arch=facts.arch, cookie=cookie,
    )
    if app is not None:
        argv = shell_argv(info, revision, app, args) if shell else app_argv(
            info, revision, app, env, args
        )
        owner: App | Hook = app
    else:
        assert hook is not None
        if shell or args:
            raise ValueError("hooks take no arguments and have no shell")
        argv = hook_argv(info, revision, hook)
        owner = hook
    notices: tuple[str, ...] = ()
    if base_tree is None:
        notices = (
            f'base "{base_name(info)}" is not installed; using the host system as the base',
        )
    if connections is None:
        connections = auto_connect(info.name, {info.name: info}, ())
    effects = plan_effects(
        connections, bound_plugs(info, owner), plugs_of(info),
        EffectsHost(snap=info.name, revision=revision, home=home, uid=dirs.uid,
                    mount=str(dirs.mount), data=str(dirs.data_dir(info.name).parent),
                    host_env=host_env, home_view=facts.home_view == "served",
                    home_hidden_dirs=tuple(e.name for e in facts.home_entries
                                           if e.kind == "dir" and classify(e.name) == "hidden"),
                    video_devices=facts.video_devices, gpu_mount=facts.gpu.mount_at,
                    gpu_files=plan_driver(facts.gpu, arch=facts.arch, base=base_name(info))),
    )
    plugged = "home" in effects.interfaces
    *base_ops, last = sandbox_ops(info, dirs, facts=facts, base_tree=base_tree,
                                  home_plugged=plugged)
    # $HOME's own remount (see _home_ops) waits for the binds the interfaces add below it
    late = [base_ops.pop()] if isinstance(base_ops[-1], RemountRo) else []
    ops = (*base_ops, *effects.ops, *late, last)
    if plugged and facts.home_view != "served":
        notices += ('interface "home" is connected but the top level of $HOME is read-only: '
                    "usersnapd serves no view of it (usersnap runs rootless)",)
    spec = SandboxSpec(
        instance=info.name, revision=revision, uid=dirs.uid, gid=facts.gid, ops=ops,
        # what snap-confine sets, which the snap's own ``environment:`` overrides
        env=frozen_map({**env, **{key: value for key, value in effects.env.items()
                                  if key not in dict((*info.environment, *owner.environment))}}),
        argv=tuple(argv),
        notices=(*notices, *effects.notices),
        interfaces=effects.interfaces,
        # classic and devmode snaps are not confined to their interfaces (snapd: no or
        # complain-mode AppArmor)
        share_net=effects.share_net or info.confinement in ("classic", "devmode"),
        seccomp=None if info.confinement == "classic" else SeccompPlan(
            str(dirs.cache / "seccomp"), complain=info.confinement == "devmode"),
    )
    if not info.layout or info.confinement == "classic":
        return spec
    if layout_lookup is None:
        raise ValueError("a snap with layouts needs layout_lookup")
    *base, last = ops
    if not isinstance(last, RemountRo):
        raise AssertionError("the sandbox ops end with the root's remount")
    layouts = sandbox_layouts(info, base_ops=base, revision=revision, base_tree=base_tree,
                              lookup=layout_lookup)
    if not layouts.ops:
        return replace(spec, sources=layouts.sources)
    return replace(spec, ops=tuple(base), sources=layouts.sources,
                   layout_ops=(*layouts.ops, last))


def sandbox_layouts(
    info: SnapInfo, *, base_ops: Sequence[Op], revision: str, base_tree: Path | None,
    lookup: Lookup,
) -> LayoutPlan:
    """``info``'s layouts in the namespace ``base_ops`` build (:func:`sandbox_ops` without
    its final remount)."""
    from usersnap.layouts.plan import plan_layouts

    return plan_layouts(
        info, revision, base_ops, lookup, owned=(go_join("/var/snap", info.name),),
        follow_top_symlinks=base_tree is None,
    )


def sandbox_ops(
    info: SnapInfo, dirs: Dirs, *, facts: HostFacts, base_tree: Path | None, home_plugged: bool
) -> tuple[Op, ...]:
    """The mount namespace, in the order bwrap must build it (see the module docstring)."""
    instance = info.name
    root = "/" if base_tree is None else str(base_tree)
    home = str(dirs.home)
    _check_home(home, facts.root_entries)
    ops: list[Op] = [
        *_replicate(root, "/", facts.root_entries, NOT_FROM_BASE),
        *(Dir(path) for path in EMPTY_TOP_DIRS),
        DevBind("/dev", "/dev"),
        Proc("/proc"),
        RoBind("/sys", "/sys"),
        RoBind("/etc", "/etc"),
    ]
    if base_tree is not None:
        ops += (RoBind(go_join(root, path), path) for path in _etc_from_base(info, facts))
    if facts.snapctl_dir and facts.snapctl_mount:
        ops.append(RoBind(facts.snapctl_dir, facts.snapctl_mount))
    ops.append(Tmpfs("/run"))
    if facts.resolv_dir:
        ops.append(RoBind(facts.resolv_dir, facts.resolv_dir))
    # snapctl's socket (snapd's /run/snapd-snap.socket); absent when no daemon serves it
    ops.append(Bind(str(dirs.snap_socket), SNAP_SOCKET, optional=True))
    ops += [
        Dir(f"/run/user/{dirs.uid}", 0o700),
        Bind(str(dirs.xdg_runtime(instance)), f"/run/user/{dirs.uid}/snap.{instance}"),
        Bind(str(dirs.private_tmp(instance)), "/tmp"),
        Dir("/var"),
        *_replicate(go_join(root, "var"), "/var", facts.var_entries, NOT_FROM_BASE_VAR),
        Bind("/var/tmp", "/var/tmp", optional=True),
        Dir("/var/snap"),
        Bind(str(dirs.data_dir(instance)), go_join("/var/snap", instance)),
        RoBind(str(dirs.mount), SNAP_MOUNT_DIR),
    ]
    if facts.home_view != "absent":  # $HOME's view is for $HOME only
        view = go_join(SNAP_MOUNT_DIR, dirs.home_view.name)
        ops += [Tmpfs(view, 0o000), RemountRo(view)]
    ops += [
        *_home_ops(dirs, instance, facts, home_plugged),
        # Last: nothing may be created in the root tmpfs from now on (snapd's / is root's).
        RemountRo("/"),
    ]
    return tuple(ops)


def _home_ops(dirs: Dirs, instance: str, facts: HostFacts, plugged: bool) -> list[Op]:
    """$HOME and ~/snap/NAME (see the module docstring).  A remount of $HOME's tmpfs
    comes last, for plan_sandbox to move after the interfaces' binds."""
    home = str(dirs.home)
    own = Bind(str(dirs.user_data_dir(instance)), user_snap_dir(home, instance))
    if not plugged:
        return [Dir(home), own]
    # pinned: opened without following a symlink at each start (a snap with home could
    # have swapped one for a link to ~/.ssh); beyond MAX_PINNED, left to the view.  Over
    # the view, directories only: a mount point cannot be renamed or replaced, and an
    # editor saving ~/notes.txt atomically renames a new file over it.
    view = facts.home_view == "served"
    names = [e.name for e in facts.home_entries
             if bound_directly(e.name, e.kind) and (e.kind == "dir" or not view)]
    direct: list[Op] = [PinnedBind(go_join(home, name), go_join(home, name), optional=True,
                                   fd=PINNED_FD + index)
                        for index, name in enumerate(names[:MAX_PINNED])]
    if view:
        snap = go_join(home, RESERVED)
        return [Bind(str(dirs.home_view), home), *direct, Tmpfs(snap), own, RemountRo(snap)]
    links = [Symlink(e.target, go_join(home, e.name)) for e in facts.home_entries
             if e.kind == "symlink" and classify(e.name) != "reserved"]
    return [Tmpfs(home), *direct, *links, own, RemountRo(home)]


def _replicate(
    src_dir: str, dest_dir: str, entries: Iterable[Entry], skip: frozenset[str]
) -> list[Op]:
    """snap-confine's sc_replicate_base_rootfs: bind dirs and files, recreate symlinks."""
    ops: list[Op] = []
    for entry in entries:
        if entry.name in skip:
            continue
        dest = go_join(dest_dir, entry.name)
        if entry.kind == "symlink":
            ops.append(Symlink(entry.target, dest))
        else:
            ops.append(RoBind(go_join(src_dir, entry.name), dest))
    return ops


def _etc_from_base(info: SnapInfo, facts: HostFacts) -> list[str]:
    """The /etc entries snap-confine puts back from the base over the host's."""
    base = base_name(info)
    paths = list(ETC_FROM_BASE)
    if base not in BASES_BEFORE_26:
        paths += ETC_FROM_NEW_BASES
    return [
        path for path in paths
        # Debian-like hosts keep their own CA setup with core* bases.
        if not (path == "/etc/ssl" and facts.debian_like and base.startswith("core"))
        and path in facts.base_etc
        and facts.host_etc.get(path) == facts.base_etc[path]
    ]


def _check_home(home: str, root_entries: Iterable[Entry]) -> None:
    """A home inside a read-only top-level directory of the base cannot get a mount point."""
    if not posixpath.isabs(home) or home == "/":
        raise SandboxError(f"home directory {home!r} must be an absolute path below /")
    top = home.lstrip("/").split("/", 1)[0]
    if top not in NOT_FROM_BASE and any(e.name == top for e in root_entries):
        raise SandboxError(
            f"home directory {home} is inside /{top}, which comes read-only from the base; "
            "usersnap supports homes under /home, /root, /tmp, /var, /mnt or /media"
        )
