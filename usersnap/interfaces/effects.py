"""What an app's connected plugs change in its sandbox: mounts, environment, network.

One function per interface in :data:`MOUNTS` (the seccomp side is the snippet file of the
same name, see :mod:`usersnap.seccomp.profiles`).  The planner calls :func:`plan_effects`
with the connections of the plugs bound to the app or hook being run.

``opengl``: the device nodes, and the host's NVIDIA libraries as :mod:`.gpu` plans them, on
a tmpfs at /var/lib/snapd/lib (or /var/lib/snapd when the base has no lib/ there, so
``opengl`` goes right after ``home``: ``desktop`` binds fonts into /var/lib/snapd/hostfs).

``home``: the planner builds $HOME itself (``plan._home_ops``: usersnapd's home view,
which hides top-level hidden entries and refuses to make new ones, with the visible
entries bound over it).  In the view a hidden top-level directory is an empty mode-0
placeholder nothing can be made in, so a bind another interface puts below one
(``personal-files``: ``$HOME/.config/app``) gets a tmpfs there first, made read-only
once every bind is done.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from usersnap.interfaces.connect import Conn
from usersnap.interfaces.gpu import ENV as GPU_ENV
from usersnap.interfaces.gpu import EXTRA_LIB_DIR, DriverFile
from usersnap.interfaces.registry import INTERFACES
from usersnap.meta.model import Plug
from usersnap.sandbox.ops import Bind, DevBind, Dir, Op, RemountRo, RoBind, Symlink, Tmpfs

_MOUNTS = (Bind, RoBind, DevBind, Tmpfs, Dir, Symlink)

#: The sandbox's $SNAP_MOUNT_DIR (``usersnap.sandbox.environment.SNAP_MOUNT_DIR``).
SNAP_DIR = "/snap"


@dataclass(frozen=True, slots=True)
class Host:
    """What the effects depend on outside the connections (gathered by sandbox.facts)."""

    snap: str
    revision: str
    home: str
    uid: int
    #: the FUSE tree holding every installed snap (``Dirs.mount``)
    mount: str
    #: the host directory backing every /var/snap/NAME (``Dirs.data_dir``'s parent)
    data: str
    #: the caller's environment (XDG_RUNTIME_DIR, DISPLAY, WAYLAND_DISPLAY)
    host_env: Mapping[str, str]
    #: $HOME is usersnapd's home view (``home``) ...
    home_view: bool = False
    #: ... where these top-level hidden directories are placeholders
    home_hidden_dirs: tuple[str, ...] = ()
    #: /dev/video* nodes present on the host
    video_devices: tuple[str, ...] = ()
    #: the host's NVIDIA driver files (``gpu.plan_driver``) and where the tmpfs holding
    #: them goes ("": the sandbox's tree has no place for it)
    gpu_files: tuple[DriverFile, ...] = ()
    gpu_mount: str = ""


@dataclass(frozen=True, slots=True)
class Effects:
    ops: tuple[Op, ...]
    interfaces: frozenset[str]
    #: ``network`` or ``network-bind`` is connected: the host's network is kept
    share_net: bool
    notices: tuple[str, ...]
    #: variables the connections add to the app's environment
    env: Mapping[str, str]


Mounts = Callable[[Conn, Host], list[Op]]


def _mount_point(op: Op, host: Host) -> str:
    """The hidden top-level directory of the home view ``op`` mounts below, or ""."""
    if not isinstance(op, _MOUNTS) or not op.dest.startswith(host.home + "/"):
        return ""
    top, sep, _ = op.dest[len(host.home) + 1:].partition("/")
    return posixpath.join(host.home, top) if sep and top in host.home_hidden_dirs else ""


def _removable_media(conn: Conn, host: Host) -> list[Op]:
    return [Bind(p, p, optional=True) for p in ("/media", "/mnt", "/run/media")]


def _expand(path: str, host: Host) -> str:
    if path == "$HOME" or path.startswith("$HOME/"):
        return host.home + path[len("$HOME"):]
    return path


def _str_list(attrs: Mapping[str, Any], key: str) -> list[str]:
    value = attrs.get(key) or []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _files(conn: Conn, host: Host) -> list[Op]:
    """personal-files / system-files: ``read`` paths read-only, ``write`` read-write;
    missing ones are skipped (snapd's AppArmor rules do not create them either)."""
    ops: list[Op] = []
    for key, kind in (("read", RoBind), ("write", Bind)):
        for raw in _str_list(conn.plug_attrs, key):
            path = _expand(raw, host).rstrip("/") or "/"
            ops.append(kind(path, path, optional=True))
    return ops


def _snap_path(path: str, snap: str, revision: str) -> str:
    """$SNAP, $SNAP_DATA, $SNAP_COMMON in a content path, as the sandbox sees them."""
    for var, value in (("$SNAP_COMMON", f"/var/snap/{snap}/common"),
                       ("$SNAP_DATA", f"/var/snap/{snap}/{revision}"),
                       ("$SNAP", f"{SNAP_DIR}/{snap}/{revision}")):
        if path == var or path.startswith(var + "/"):
            return value + path[len(var):]
    return path


def _content(conn: Conn, host: Host) -> list[Op]:
    """The provider's ``read``/``write`` directories at the consumer's ``target``
    (``interfaces/builtin/content.go``: legacy lists go at the target itself,
    ``source`` entries at target/<basename>).  The provider's $SNAP is its current
    revision, resolved when bwrap binds it."""
    target = conn.plug_attrs.get("target")
    if not isinstance(target, str) or not target:
        return []
    target = _snap_path(target, host.snap, host.revision)
    if not target.startswith("/"):  # relative targets are under $SNAP
        target = f"{SNAP_DIR}/{host.snap}/{host.revision}/{target}"

    def source(path: str) -> str:
        for var, base in (("$SNAP_COMMON", f"/var/snap/{conn.slot_snap}/common"),
                          ("$SNAP_DATA", f"/var/snap/{conn.slot_snap}/current"),
                          ("$SNAP", f"{SNAP_DIR}/{conn.slot_snap}/current")):
            if path == var or path.startswith(var + "/"):
                return base + path[len(var):]
        return f"{SNAP_DIR}/{conn.slot_snap}/current/{path.lstrip('/')}"

    ops: list[Op] = []
    src = conn.slot_attrs.get("source")
    nested = src if isinstance(src, Mapping) else None
    for key, kind in (("read", RoBind), ("write", Bind)):
        paths = _str_list(nested, key) if nested is not None else _str_list(conn.slot_attrs,
                                                                             key)
        for path in paths:
            dest = posixpath.join(target, posixpath.basename(path)) if nested else target
            ops.append(kind(_host_path(source(path), host), dest))
    return ops


def _host_path(sandbox_path: str, host: Host) -> str:
    """Where a /snap/... or /var/snap/... path of the sandbox is on the host."""
    if sandbox_path.startswith("/var/snap/"):
        return host.data + sandbox_path[len("/var/snap"):]
    return host.mount + sandbox_path[len(SNAP_DIR):]


def _runtime_socket(name: str) -> Callable[[Conn, Host], list[Op]]:
    """A socket in the caller's XDG_RUNTIME_DIR, at the same place in the sandbox's
    /run/user/UID."""
    def mounts(conn: Conn, host: Host) -> list[Op]:
        runtime = host.host_env.get("XDG_RUNTIME_DIR", "")
        rel = host.host_env.get(name, "") if name.isupper() else name
        if not runtime or not rel:
            return []
        src = rel if rel.startswith("/") else posixpath.join(runtime, rel)
        dest = posixpath.join(f"/run/user/{host.uid}", posixpath.basename(src)) \
            if rel.startswith("/") else posixpath.join(f"/run/user/{host.uid}", rel)
        return [Bind(src, dest, optional=True)]
    return mounts


def _x11(conn: Conn, host: Host) -> list[Op]:
    ops: list[Op] = [RoBind("/tmp/.X11-unix", "/tmp/.X11-unix", optional=True)]
    xauth = host.host_env.get("XAUTHORITY", "")
    if xauth.startswith("/"):
        ops.append(RoBind(xauth, xauth, optional=True))
    return ops


def _desktop(conn: Conn, host: Host) -> list[Op]:
    return [*_runtime_socket("bus")(conn, host),
            RoBind("/usr/share/fonts", "/var/lib/snapd/hostfs/usr/share/fonts", optional=True),
            RoBind("/var/cache/fontconfig", "/var/cache/fontconfig", optional=True)]


def _opengl(conn: Conn, host: Host) -> list[Op]:
    ops: list[Op] = [DevBind(p, p, optional=True)
                     for p in ("/dev/dri", "/dev/nvidiactl", "/dev/nvidia0")]
    if host.gpu_files and host.gpu_mount:
        # snap-confine's extra lib dirs exist (empty) even where no file goes
        ops += [Tmpfs(host.gpu_mount),
                *(Dir(f"{EXTRA_LIB_DIR}/{d}") for d in ("gl", "gl32", "vulkan", "glvnd"))]
        ops += [Symlink(f.link, f.dest) if f.link else RoBind(f.src, f.dest)
                for f in host.gpu_files]
        ops.append(RemountRo(host.gpu_mount))
    return ops


def _camera(conn: Conn, host: Host) -> list[Op]:
    return [DevBind(p, p, optional=True) for p in host.video_devices]


def _none(conn: Conn, host: Host) -> list[Op]:
    return []


#: Mounts of each known interface (registry.INTERFACES has the same keys).
MOUNTS: dict[str, Mounts] = {
    "audio-playback": _runtime_socket("pulse/native"),
    "camera": _camera,
    "content": _content,
    "desktop": _desktop,
    "hardware-observe": _none,
    "home": _none,
    "mount-observe": _none,
    "network": _none,
    "network-bind": _none,
    "opengl": _opengl,
    "personal-files": _files,
    "process-control": _none,
    "pulseaudio": _runtime_socket("pulse/native"),
    "removable-media": _removable_media,
    "system-files": _files,
    "system-observe": _none,
    "wayland": _runtime_socket("WAYLAND_DISPLAY"),
    "x11": _x11,
}


def plan_effects(conns: Iterable[Conn], bound: Iterable[str], plugs: Mapping[str, Plug],
                 host: Host) -> Effects:
    """The sandbox changes of ``conns`` (the snap's established plug connections) for an
    app or hook bound to the plugs ``bound``; ``plugs`` (all the snap's plugs) lets
    unsupported ones be reported."""
    names = set(bound)
    mine = [c for c in conns if c.plug in names and not c.undesired]
    ops: list[Op] = []
    late: list[Op] = []
    notices: list[str] = []
    for conn in sorted(mine, key=lambda c: (c.interface != "home", c.interface != "opengl",
                                            c.key)):
        for op in MOUNTS.get(conn.interface, _none)(conn, host):
            # the covers' remounts come after every bind that may land below them
            (late if isinstance(op, RemountRo) else ops).append(op)
        limitation = INTERFACES[conn.interface].limitation \
            if conn.interface in INTERFACES else ""
        if conn.interface == "opengl" and host.gpu_files and not host.gpu_mount:
            limitation = ("the host's NVIDIA libraries are not shown: the base has no "
                          "/var/lib/snapd to hold them")
        if limitation:
            notices.append(f'interface "{conn.interface}" is connected but {limitation} '
                           "(usersnap runs rootless)")
    for name in sorted(names):
        plug = plugs.get(name)
        if plug is not None and plug.interface not in INTERFACES:
            notices.append(f'plug "{name}" ("{plug.interface}" interface) is not supported '
                           "by usersnap and stays disconnected")
    interfaces = frozenset(c.interface for c in mine)
    if "home" in interfaces and host.home_view:
        covered: list[Op] = []
        for op in ops:
            top = _mount_point(op, host)
            if top and RemountRo(top) not in late:
                covered.append(Tmpfs(top, 0o755))
                late.append(RemountRo(top))
            covered.append(op)
        ops = covered
    gpu = "opengl" in interfaces and bool(host.gpu_files and host.gpu_mount)
    return Effects(ops=(*ops, *late), interfaces=interfaces,
                   share_net=bool(interfaces & {"network", "network-bind"}),
                   notices=tuple(notices), env=GPU_ENV if gpu else {})

