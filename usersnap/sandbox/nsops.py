"""The launcher's side of layouts: sources created in the snap's data, then the layouts
applied in the sandbox's namespace, as snap-update-ns applies them.

Missing ``$SNAP_DATA``/``$SNAP_COMMON`` sources are created on disk before the launch as
snap-update-ns creates them (directories and empty files, mode 0755; owned by the user
here), walking from the snap's data directory with ``O_NOFOLLOW``, so that a symlink the
app planted there never redirects the creation: a symlink on the way is an error naming
the layout.

The rest happens once bwrap has built the namespace and waits on ``--block-fd``: a
child of the launcher joins the sandbox's mount namespace and the user namespace that
owns it (the user owns that one, so it has every capability there; with
``--disable-userns`` the sandbox's process already sits in a nested user namespace
without any over the mounts, so the owner is asked of the mount namespace,
``NS_GET_USERNS``, not taken from the process), takes the sandbox's root as its own and
performs the :data:`~usersnap.sandbox.ops.NsOp` list with plain mount(2) calls.  A
failure comes back through a pipe; the launcher then kills the sandbox before the app
ever runs.  A writable mimic is snapd's: the directory bound aside (under /run, the
sandbox's own tmpfs, and removed after), a tmpfs with its mode over it, and everything
bound or re-created back from the copy aside, submounts and read-only-ness included.

bwrap says nothing when its namespace is ready (its status names the sandbox's pid 1
before the setup starts), so the launcher watches that process: the namespace is final
once its root is bwrap's ``newroot`` alone (pivoted into, the old root gone), and the
process sleeps on a pipe (``wchan``, when the kernel shows it).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import posixpath
import stat
import time
from collections.abc import Iterable, Sequence

from usersnap.errors import SandboxError
from usersnap.layouts.plan import SourceCreate
from usersnap.layouts.validate import LayoutError, go_quote
from usersnap.sandbox.ops import Bind, Dir, File, Mimic, NsOp, RemountRo, Symlink, Tmpfs

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
#: ioctl on a namespace fd: a new fd of the user namespace owning it (linux/nsfs.h)
NS_GET_USERNS = 0xB701
#: where a mimic's original is kept while it is re-created (snapd: /tmp/.snap)
KEEP_DIR = "/run/.usersnap-mimic"
#: bwrap builds a namespace in milliseconds; a slow disk or FUSE may take longer
BUILD_TIMEOUT = 30.0
BUILD_POLL = 0.0005
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2
#: openat2, open_tree and move_mount: numbered alike on every architecture (>= 424)
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_OPENAT2 = 437
RESOLVE_NO_SYMLINKS = 0x04
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100
#: statvfs flags a remount must repeat: the kernel refuses to drop those a more
#: privileged namespace locked (nosuid, nodev, noexec, the atime mode).
_KEPT_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)
#: snap-update-ns's mode for what it creates (``ModeForPath``, and MkFile's 0755 too).
CREATE_MODE = 0o755
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _reason(err: OSError) -> str:
    """The errno text in Go's lower-case style, as snapd prints it."""
    text = err.strerror or str(err)
    return text[:1].lower() + text[1:]


# --- sources -------------------------------------------------------------------------------


def create_sources(sources: Iterable[SourceCreate]) -> None:
    """Create each missing layout source, in order (parents come first)."""
    for source in sources:
        _create_source(source)


def _create_source(source: SourceCreate) -> None:
    def fail(path: str, err: OSError, what: str = "cannot open directory") -> LayoutError:
        return LayoutError(f"cannot set up layout {go_quote(source.layout)}: "
                           f"{what} {go_quote(path)}: {_reason(err)}")

    shown_root = source.shown[: len(source.shown) - len(source.path)].rstrip("/")
    *parents, leaf = source.path.split("/")
    try:
        fd = os.open(source.root, _DIR)
    except OSError as err:
        raise fail(shown_root, err) from None
    try:
        shown = shown_root
        for name in parents:
            shown = posixpath.join(shown, name)
            try:
                child = os.open(name, _DIR, dir_fd=fd)
            except OSError as err:
                raise fail(shown, err) from None
            os.close(fd)
            fd = child
        try:
            if source.kind == "dir":
                _make_dir(leaf, fd)
            else:
                _make_file(leaf, fd)
        except OSError as err:
            raise fail(source.shown, err, f"cannot create {source.kind}") from None
    finally:
        os.close(fd)


def _make_dir(name: str, parent: int) -> None:
    try:
        os.mkdir(name, CREATE_MODE, dir_fd=parent)
        made = True
    except FileExistsError:
        made = False  # an earlier layout (or a run racing us) made it
    fd = os.open(name, _DIR, dir_fd=parent)
    try:
        if made:
            os.fchmod(fd, CREATE_MODE)  # exactly, whatever the umask
    finally:
        os.close(fd)


def _make_file(name: str, parent: int) -> None:
    try:
        fd = os.open(name, _NEW_FILE, CREATE_MODE, dir_fd=parent)
    except FileExistsError:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=parent)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EEXIST, "not a regular file")
        finally:
            os.close(fd)
        return
    try:
        os.fchmod(fd, CREATE_MODE)
    finally:
        os.close(fd)


# --- in the sandbox's namespace ------------------------------------------------------------


class _NsError(Exception):
    pass


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None,
           flags: int, data: str | None = None) -> None:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        what = f"{fstype} on {target}" if fstype else f"{source or target} on {target}"
        raise _NsError(f"cannot mount {what}: {os.strerror(err)}")


def _remount_ro(libc: ctypes.CDLL, path: str) -> None:
    """Make the mount at ``path`` (not its submounts) read-only, nosuid and nodev."""
    have = os.statvfs(path).f_flag
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    for st_flag, ms_flag in _KEPT_FLAGS:
        if have & st_flag:
            flags |= ms_flag
    if not have & (os.ST_NOATIME | os.ST_RELATIME):
        flags |= MS_STRICTATIME
    _mount(libc, None, path, None, flags)


def _mimic(libc: ctypes.CDLL, path: str, keep: str) -> None:
    os.mkdir(keep, 0o700)
    _mount(libc, path, keep, None, MS_BIND | MS_REC)
    mode = os.lstat(keep).st_mode & 0o7777
    _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode:o}")
    try:
        with os.scandir(keep) as it:
            entries = sorted(it, key=lambda e: e.name)
    except PermissionError:
        # Not the user's to read (snap-update-ns runs as root): what the app could not
        # list stays out of sight; the layout's own entries will show.
        entries = []
    for entry in entries:
        here = posixpath.join(path, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), here)
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(here, CREATE_MODE)
            _mount(libc, entry.path, here, None, MS_BIND | MS_REC)
        elif entry.is_file(follow_symlinks=False):
            os.close(os.open(here, _NEW_FILE, 0o644))
            _mount(libc, entry.path, here, None, MS_BIND)
        # devices, sockets, fifos: dropped, as snapd drops them
    if libc.umount2(os.fsencode(keep), MNT_DETACH) != 0:
        raise _NsError(f"cannot unmount {keep}: {os.strerror(ctypes.get_errno())}")
    os.rmdir(keep)


def _perform(libc: ctypes.CDLL, op: NsOp, keep: str) -> None:
    if isinstance(op, Mimic):
        _mimic(libc, op.dest, keep)
    elif isinstance(op, Dir):
        os.mkdir(op.dest, CREATE_MODE)
        os.chmod(op.dest, CREATE_MODE)
    elif isinstance(op, File):
        fd = os.open(op.dest, _NEW_FILE, CREATE_MODE)
        os.fchmod(fd, CREATE_MODE)
        os.close(fd)
    elif isinstance(op, Symlink):
        os.symlink(op.target, op.dest)
    elif isinstance(op, Tmpfs):
        mode = "" if op.mode is None else f"mode={op.mode:o}"
        _mount(libc, "tmpfs", op.dest, "tmpfs", MS_NOSUID | MS_NODEV, mode)
    elif isinstance(op, RemountRo):
        _remount_ro(libc, op.dest)
    else:
        _bind_by_fd(libc, op.src, op.dest)
        if not isinstance(op, Bind):
            _remount_ro(libc, op.dest)


class _OpenHow(ctypes.Structure):
    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64))


def _bind_by_fd(libc: ctypes.CDLL, src: str, dest: str) -> None:
    """Bind ``src`` (recursively) on ``dest`` as snap-update-ns does: the source opened
    with no symlink anywhere on its path (openat2 RESOLVE_NO_SYMLINKS), then the mount
    cloned from that very fd (open_tree, move_mount).  A source the app swapped for a
    symlink (in $SNAP_DATA, say) is refused instead of followed, and nothing can swap it
    between the check and the mount (Flatpak's CVE-2024-42472)."""
    how = _OpenHow(os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS)
    fd = libc.syscall(SYS_OPENAT2, AT_FDCWD, os.fsencode(src), ctypes.byref(how),
                      ctypes.sizeof(how))
    if fd < 0:
        err = ctypes.get_errno()
        if err == errno.ELOOP:
            raise _NsError(f"cannot bind {src} on {dest}: a symlink is on its path "
                           "(layout sources must not be symlinks)")
        if err == errno.ENOSYS:  # kernel < 5.6: the path, as before
            _mount(libc, src, dest, None, MS_BIND | MS_REC)
            return
        raise _NsError(f"cannot open {src}: {os.strerror(err)}")
    try:
        tree = libc.syscall(SYS_OPEN_TREE, fd, b"",
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE)
        if tree < 0:
            raise _NsError(f"cannot bind {src} on {dest}: {os.strerror(ctypes.get_errno())}")
        try:
            if libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, os.fsencode(dest),
                            MOVE_MOUNT_F_EMPTY_PATH) != 0:
                raise _NsError(f"cannot bind {src} on {dest}: "
                               f"{os.strerror(ctypes.get_errno())}")
        finally:
            os.close(tree)
    finally:
        os.close(fd)


def _apply(libc: ctypes.CDLL, user_ns: int, mount_ns: int, root: int, ops: Sequence[NsOp]
           ) -> None:
    for fd, kind in ((user_ns, CLONE_NEWUSER), (mount_ns, CLONE_NEWNS)):
        if libc.setns(fd, kind) != 0:
            raise _NsError(f"cannot join the sandbox's namespaces: "
                           f"{os.strerror(ctypes.get_errno())}")
    os.fchdir(root)
    os.chroot(".")
    os.chdir("/")
    mimics = any(isinstance(op, Mimic) for op in ops)
    if mimics:
        os.mkdir(KEEP_DIR, 0o700)
    for index, op in enumerate(ops):
        try:
            _perform(libc, op, f"{KEEP_DIR}/{index}")
        except OSError as err:
            raise _NsError(f"cannot set up {err.filename or op}: {err.strerror}") from None
    if mimics:
        os.rmdir(KEEP_DIR)


def _built(pid: int, own_ns: int) -> bool | None:
    """Whether bwrap's setup process ``pid`` has finished the namespace; None: it is gone."""
    try:
        if os.stat(f"/proc/{pid}/ns/mnt").st_ino == own_ns:
            return False
        with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as f:
            mounts = [line.split() for line in f]
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return False
    if [fields[3] for fields in mounts if fields[4] == "/"] != ["/newroot"]:
        return False
    if any(fields[4].split("/")[1] in ("newroot", "oldroot") for fields in mounts):
        return False
    try:
        with open(f"/proc/{pid}/wchan", encoding="ascii", errors="replace") as f:
            wchan = f.read()
    except OSError:
        wchan = ""
    return wchan in ("", "0") or "pipe" in wchan


def wait_built(pid: int, timeout: float = BUILD_TIMEOUT) -> bool:
    """Wait until bwrap's sandbox ``pid`` is built and waiting; False if it went away."""
    own_ns = os.stat("/proc/self/ns/mnt").st_ino
    deadline = time.monotonic() + timeout
    while (built := _built(pid, own_ns)) is not True:
        if built is None:
            return False
        if time.monotonic() > deadline:
            raise SandboxError("bubblewrap did not finish building the sandbox in "
                               f"{timeout:.0f} s")
        time.sleep(BUILD_POLL)
    return True


def apply_in_namespace(pid: int, ops: Sequence[NsOp]) -> bool:
    """Perform ``ops`` in the namespaces of ``pid``, bwrap's sandbox init waiting on its
    block fd; False when the sandbox went away first (bwrap failed: its status says why).
    """
    if not wait_built(pid):
        return False
    opened: list[int] = []
    try:
        for name, flags in (("ns/mnt", os.O_RDONLY), ("root", os.O_PATH | os.O_DIRECTORY)):
            opened.append(os.open(f"/proc/{pid}/{name}", flags | os.O_CLOEXEC))
        opened.insert(0, fcntl.ioctl(opened[0], NS_GET_USERNS))
    except OSError as err:
        for fd in opened:
            os.close(fd)
        if isinstance(err, (FileNotFoundError, ProcessLookupError)):
            return False
        raise SandboxError(f"cannot reach the sandbox to apply its layouts: {err.strerror}"
                           ) from err
    libc = ctypes.CDLL(None, use_errno=True)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child; tests see its effects
        try:
            os.close(read_end)
            user_ns, mount_ns, root = opened
            _apply(libc, user_ns, mount_ns, root, ops)
            code = 0
        except BaseException as err:  # everything goes back to the launcher
            with contextlib.suppress(OSError):
                os.write(write_end, (str(err) or type(err).__name__).encode(errors="replace"))
            code = 1
        os._exit(code)
    for fd in (write_end, *opened):
        os.close(fd)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(child, 0)
    if message or status != 0:
        raise SandboxError(f"cannot apply the layouts: {message or 'the helper failed'}")
    return True
