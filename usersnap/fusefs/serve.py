"""Mount the snap filesystem and serve it; clear what a dead daemon left mounted.

usersnapd serves every revision of every snap, and the home view, from one mount.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import trio

from usersnap.errors import MountError
from usersnap.fusefs.operations import SnapFS
from usersnap.fusefs.session import Session, mount, unmount

FUSE_DEVICE = "/dev/fuse"
NO_FUSE_VARIABLE = "USERSNAP_NO_FUSE"
#: Not ro, for the home view (``<mount>/.home``): the snap tree refuses writes itself
#: (EROFS); no allow_other: the mount is the user's alone (fusermount3 would refuse it
#: without user_allow_other anyway); nosuid/nodev as fusermount3 forces for users, so
#: that a daemon run as root is no different.
MOUNT_OPTIONS = frozenset(
    {"fsname=usersnap", "subtype=usersnap", "default_permissions", "nosuid", "nodev"}
)
#: Lazy unmounts needed at most, should mounts be stacked on one another.
MAX_STACKED = 8
#: glibc's M_MMAP_THRESHOLD, and the value to pin it at (its default start value).
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024
#: How long the session's threads get to see the unmount before the daemon goes on.
STOP_SECONDS = 5.0


async def serve_snapfs(
    mountpoint: Path, fs: SnapFS, *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:  # fmt: skip
    """Mount ``fs`` on ``mountpoint``, report readiness, serve until cancelled.

    Always unmounts on the way out.  An unmount by someone else ends the daemon's
    reason to live, so it raises MountError rather than returning quietly.
    """
    _check_can_mount(mountpoint)
    _pin_mmap_threshold()
    fd = await trio.to_thread.run_sync(mount, str(mountpoint), MOUNT_OPTIONS)
    session = Session(fs, fd)
    session.start()
    try:
        task_status.started()
        await trio.to_thread.run_sync(session.finished.wait, abandon_on_cancel=True)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_stop, mountpoint, session)
    raise MountError(f"{mountpoint} was unmounted while usersnapd was serving it")


def _stop(mountpoint: Path, session: Session) -> None:
    """Unmount (lazily if something still uses the mount) and let the threads end."""
    if not session.finished.is_set() and not unmount(str(mountpoint)):
        unmount(str(mountpoint), lazy=True)
    # a thread still serving (a lazy unmount waits for the mount's last user) keeps the
    # descriptor: closed now, its number could be reused by a file it would then write to
    if session.join(STOP_SECONDS):
        session.close()


def _pin_mmap_threshold() -> None:
    """Keep block-sized buffers (the codecs' 128 KiB+ windows and outputs) in mmap, as
    glibc does until the first is freed and then stops doing: from there on they come
    from the heap, which fragments and never shrinks.  Measured: reading every bench
    image grew the daemon by 107 MiB, by 68 MiB with this (docs/benchmarks.md)."""
    libc = ctypes.util.find_library("c")
    if libc is None:
        return
    mallopt = getattr(ctypes.CDLL(libc), "mallopt", None)  # glibc only
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def fuse_problem(env: Mapping[str, str]) -> str | None:
    """Why snaps cannot be served over FUSE here, or None: usersnapd then serves
    extracted copies instead (``usersnap.daemon.extracted``).  ``USERSNAP_NO_FUSE=1``
    forces that."""
    if env.get(NO_FUSE_VARIABLE) == "1":
        return f"{NO_FUSE_VARIABLE}=1"
    try:
        _check_fuse_device()
    except MountError as err:
        return str(err).removeprefix("cannot mount snaps: ")
    return None


def _check_fuse_device() -> None:
    try:
        fd = os.open(FUSE_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        raise MountError(
            f"cannot mount snaps: cannot open {FUSE_DEVICE}: {err.strerror} (install the "
            f"fuse3 package and make {FUSE_DEVICE} usable, e.g. chmod 666 {FUSE_DEVICE})"
        ) from None
    os.close(fd)
    if shutil.which("fusermount3") is None:
        raise MountError("cannot mount snaps: fusermount3 not found (install the fuse3 package)")


def _check_can_mount(mountpoint: Path) -> None:
    """Turn the usual set-up problems into one clear line before fusermount3 tries."""
    _check_fuse_device()
    if not mountpoint.is_dir():
        raise MountError(f"cannot mount snaps on {mountpoint}: not a directory")
    if is_mounted(mountpoint):
        raise MountError(f"cannot mount snaps on {mountpoint}: something is mounted there")


def is_mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point; reads /proc only, so a dead mount cannot hang it."""
    return bool(_mount_types(path))


def clear_stale_mount(mountpoint: Path) -> None:
    """Lazily unmount a FUSE mount left at ``mountpoint`` by a daemon that died.

    Call it holding the root lock: then no live daemon serves that mount.  A mount of
    another kind is not ours to remove and raises MountError.
    """
    for _ in range(MAX_STACKED):
        types = _mount_types(mountpoint)
        if not types and not _disconnected(mountpoint):
            return
        foreign = [t for t in types if t != "fuse" and not t.startswith("fuse.")]
        if foreign:
            raise MountError(
                f"cannot mount snaps on {mountpoint}: a {foreign[-1]} filesystem is "
                "mounted there"
            )
        _fusermount_unmount(mountpoint)
    raise MountError(f"cannot unmount {mountpoint}: still mounted after {MAX_STACKED} tries")


def _disconnected(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ENOTCONN
    return False


def _fusermount_unmount(mountpoint: Path) -> None:
    try:
        proc = subprocess.run(
            ["fusermount3", "-u", "-z", "--", str(mountpoint)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise MountError(
            f"cannot unmount stale {mountpoint}: fusermount3 not found (install the fuse3 "
            "package)"
        ) from None
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise MountError(f"cannot unmount stale {mountpoint}: {why[0]}")


def _mount_types(path: Path) -> list[str]:
    """Filesystem types mounted at ``path``, bottom first, from /proc/self/mountinfo."""
    target = os.fsencode(_absolute(path))
    try:
        with open("/proc/self/mountinfo", "rb") as mountinfo:
            lines = mountinfo.read().splitlines()
    except OSError:
        return []
    types = []
    for line in lines:
        fields = line.split(b" ")
        if len(fields) > 4 and _unescape(fields[4]) == target and b"-" in fields[6:]:
            types.append(os.fsdecode(fields[fields.index(b"-", 6) + 1]))
    return types


def _absolute(path: Path) -> str:
    """Resolve the parent only: ``path`` itself may be a dead mount that cannot be stat'ed."""
    path = Path(os.path.abspath(path))
    return str(Path(os.path.realpath(path.parent)) / path.name) if path.name else str(path)


def _unescape(field: bytes) -> bytes:
    r"""mountinfo escapes space, tab, newline and backslash as \ooo."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i : i + 1] == b"\\" and field[i + 1 : i + 4].isdigit():
            out.append(int(field[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return bytes(out)
