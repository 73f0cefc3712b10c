"""Start bubblewrap and stand in for the app until it ends.

``snap run`` execs into the app, so the shell waits on the app itself.  usersnap cannot
just exec bwrap: bwrap's outer (monitor) process neither forwards signals nor survives
terminal ones.  So the launcher stays, and:

* blocks the signals it cares about and takes them with ``sigwaitinfo``;
* forwards SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 *sent with kill()*
  (``si_code`` <= 0: SI_USER, SI_QUEUE, SI_TKILL) to the app, found as the child of
  bwrap's pid 1 that is pid 2 inside, through a pidfd.  Signals from the terminal
  (SI_KERNEL: Ctrl-C, Ctrl-\\, hang-up) already reached the app, which shares our
  process group (no ``--new-session``), so they are not sent twice;
* is a child subreaper instead of passing ``--die-with-parent``.  A terminal signal
  also hits bwrap's monitor, which has no handler and dies; with ``--die-with-parent``
  the whole sandbox would then be SIGKILLed, so a program that handles Ctrl-C (a shell,
  a REPL, an editor, anything that cleans up) would be killed instead.  The monitor
  also exits as soon as the app does, so the option would kill what the app left in
  the background too (a forking service's daemon, say).  As a subreaper we inherit
  bwrap's pid 1, which exits with the app's status once the sandbox is empty, and
  return that;
* returns the app's exit status.  bwrap reports an app killed by signal N as 128+N
  (``propagate_exit_status``, checked with 0.8.0: SIGKILL gives 137), indistinguishable
  from ``exit(128+N)``, so we return that number rather than re-raising a signal: the
  shell's ``$?`` is what it is under ``snap run``, only the shell's "Killed" note is
  missing.

Lifetime: the shared run lock is held by us and, through ``--sync-fd``, by bwrap's pid
1, i.e. until the last process in the sandbox is gone, so the daemon keeps the FUSE
mount for background processes the app leaves behind (they outlive the app, as under
snapd).  If the launcher itself is SIGKILLed, a watchdog it forked SIGKILLs the app
(:func:`_start_watchdog`).

This module is the whole launch path of a cached ``usersnap run`` (see
``sandbox.runcache``): it takes plain values (a :class:`Launch`, the environment, the
command) and imports nothing beyond the standard library's C modules and ``bwrap``'s
constants, so a warm start costs no planning imports.
"""

# contextlib is not imported on the launch path (it costs a millisecond there).
# ruff: noqa: SIM105
from __future__ import annotations

import fcntl
import os
import select
import sys
import time

from usersnap.errors import SEE_DOCTOR, SandboxError
from usersnap.sandbox.bwrap import (
    ARGS_FD,
    BLOCK_FD,
    FIRST_FREE_FD,
    SECCOMP_FD,
    STATUS_FD,
    SYNC_FD,
    bwrap_command,
    pack_args,
    tail_options,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable, Iterator, Mapping, Sequence
else:
    try:  # signal is _signal plus enums, and enum costs 7 ms when site has not loaded it
        import _signal as signal
    except ImportError:  # not CPython
        import signal

FORWARDED = frozenset({
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2,
})
_WAITED = FORWARDED | {signal.SIGCHLD}
#: Python ignores these; exec would pass the ignoring on to the app.
_RESET_IN_CHILD = (signal.SIGPIPE, signal.SIGXFSZ)
PR_SET_CHILD_SUBREAPER = 36
_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_PATH_NOFOLLOW = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
#: The app may not exist yet when the first signal comes: look for it this long.
_FIND_APP_TRIES = 200
_FIND_APP_PAUSE = 0.005


class Launch:
    """What the launcher does for one planned sandbox, as plain values (the run cache
    stores it): bwrap's options up to the environment, the filter's programs and the
    notices; the environment and the command come separately, per run."""

    __slots__ = ("bwrap", "cwd", "head", "instance", "notices", "pins", "seccomp")

    def __init__(self, instance: str, bwrap: str, head: Sequence[str], cwd: str | None,
                 seccomp: Sequence[str], notices: Sequence[str],
                 pins: Sequence[tuple[int, str]] = ()) -> None:
        self.instance = instance
        self.bwrap = bwrap
        #: bwrap's options before ``--setenv`` (see ``bwrap.head_options``)
        self.head = tuple(head)
        self.cwd = cwd
        #: the compiled seccomp programs, in load order
        self.seccomp = tuple(seccomp)
        #: one-line messages for stderr before the launch
        self.notices = tuple(notices)
        #: (fd, host path) of each ``ops.PinnedBind``: opened at each start
        self.pins = tuple(pins)

    def to_data(self) -> tuple[str, str, tuple[str, ...], str | None, tuple[str, ...],
                               tuple[str, ...], tuple[tuple[int, str], ...]]:
        return (self.instance, self.bwrap, self.head, self.cwd, self.seccomp, self.notices,
                self.pins)

    @classmethod
    def from_data(cls, data: tuple[str, str, tuple[str, ...], str | None, tuple[str, ...],
                                   tuple[str, ...], tuple[tuple[int, str], ...]]) -> Launch:
        return cls(*data)


def start(launch: Launch, env: Mapping[str, str], argv: Sequence[str], *, run_lock: str,
          apply_layouts: Callable[[int], bool] | None = None) -> int:
    """Run ``argv`` in ``launch``'s sandbox with ``env``; return the app's exit status
    (128+N if killed by N).

    ``apply_layouts(pid1)`` is called with bwrap waiting on ``--block-fd`` (its options
    must include it), its namespace built; it returns False when bwrap failed first.
    """
    for notice in launch.notices:
        sys.stderr.write(f"usersnap: {notice}\n")
    sys.stderr.flush()
    blob = pack_args([*launch.head, *tail_options(env, launch.cwd)])
    seccomp_fds = _open_programs(launch.seccomp)
    try:
        pinned = _open_pinned(launch.pins)
        try:
            fds = {**{SECCOMP_FD + i: fd for i, fd in enumerate(seccomp_fds)}, **pinned}
            return _run(launch, bwrap_command(argv), blob, run_lock, fds, apply_layouts)
        finally:
            for fd in pinned.values():
                os.close(fd)
    finally:
        for fd in seccomp_fds:
            os.close(fd)


def _open_pinned(pins: Sequence[tuple[int, str]]) -> dict[int, int]:
    """The sources of ``ops.PinnedBind`` by target fd: each opened O_PATH, relative to
    its directory, without following a symlink; kept only if a directory or a file
    (the others are left out, and bwrap skips their binds)."""
    opened: dict[int, int] = {}
    parents: dict[str, int] = {}
    try:
        for target, path in pins:
            parent, _, name = path.rpartition("/")
            try:
                if parent not in parents:
                    parents[parent] = os.open(parent or "/", _PATH_DIR)
                fd = os.open(name, _PATH_NOFOLLOW, dir_fd=parents[parent])
            except OSError:
                continue
            if os.fstat(fd).st_mode & 0o170000 in (0o040000, 0o100000):
                opened[target] = fd
            else:
                os.close(fd)
    except BaseException:
        for fd in opened.values():
            os.close(fd)
        raise
    finally:
        for fd in parents.values():
            os.close(fd)
    return opened

def _open_programs(paths: Sequence[str]) -> list[int]:
    fds: list[int] = []
    try:
        for path in paths:
            fds.append(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except OSError as err:
        for fd in fds:
            os.close(fd)
        raise SandboxError(f"cannot open the seccomp filter {err.filename}: {err.strerror}"
                           ) from err
    return fds


# --- host directories ---------------------------------------------------------------------


def _mkdir(path: str, mode: int) -> None:
    """Create with exactly ``mode`` (snapd sets umask 0); existing directories are left alone."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return
    os.chmod(path, mode)


def _point_current(root: str, revision: str) -> None:
    """``root/current`` -> ``revision``, replaced atomically when it points elsewhere."""
    link = f"{root}/current"
    try:
        if os.readlink(link) == revision:
            return
    except OSError:
        pass
    tmp = f"{root}/.current.{os.getpid()}"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(revision, tmp)
    os.replace(tmp, link)


def make_host_dirs(user: str, data: str, private_tmp: str, xdg_runtime: str,
                   revision: str) -> None:
    """What ``snap run`` and snap-confine create before the app starts.

    ``user`` and ``data`` back ``$HOME/snap/NAME`` and ``/var/snap/NAME``.  User data
    (``createUserDataDirs``): ``REV/`` and ``common/`` 0755 and ``current`` re-pointed on
    every run.  System data: ``REV/`` and ``common/`` if missing, and ``current`` only if
    missing (install and refresh own it; a hook of the previous revision must not move
    it).  The private /tmp is 1777 like snap-confine's; nobody else can reach it because
    the runtime directory above it is 0700.  The XDG_RUNTIME_DIR is 0700.
    """
    try:
        os.makedirs(os.path.dirname(os.path.dirname(user)), exist_ok=True)
        _mkdir(os.path.dirname(user), 0o700)  # like ~/snap
        for root in (user, data):
            os.makedirs(os.path.dirname(root), exist_ok=True)
            _mkdir(root, 0o755)
            _mkdir(f"{root}/{revision}", 0o755)
            _mkdir(f"{root}/common", 0o755)
        _point_current(user, revision)
        if not os.path.lexists(f"{data}/current"):
            _point_current(data, revision)
        for path, mode in ((private_tmp, 0o1777), (xdg_runtime, 0o700)):
            _mkdir(os.path.dirname(path), 0o700)
            _mkdir(path, mode)
    except OSError as err:
        raise SandboxError(f"cannot create {err.filename}: {err.strerror}") from err


# --- finding the app ----------------------------------------------------------------------


def _children(pid: int, proc: str) -> list[int]:
    try:
        with open(f"{proc}/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(word) for word in f.read().split()]
    except OSError:
        pass
    # Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
    found = []
    try:
        names = os.listdir(proc)
    except OSError:
        names = []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(name))
    return sorted(found)


def _innermost_pid(pid: int, proc: str) -> int | None:
    try:
        with open(f"{proc}/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None


def find_app_pid(pid1: int, proc: str = "/proc") -> int | None:
    """The app: bwrap's pid 1 forks it first, so it is pid 2 in the sandbox."""
    for pid in _children(pid1, proc):
        if _innermost_pid(pid, proc) == 2:
            return pid
    return None


# --- running ------------------------------------------------------------------------------


def _json_int(status: bytes, key: bytes) -> int | None:
    """``"key": N`` in bwrap's status lines (no json or re import on the launch path)."""
    at = status.find(b'"' + key + b'"')
    if at < 0:
        return None
    rest = status[at + len(key) + 2:].lstrip()
    if not rest.startswith(b":"):
        return None
    rest = rest[1:].lstrip()
    end = 0
    while end < len(rest) and rest[end:end + 1].isdigit():
        end += 1
    return int(rest[:end]) if end else None


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _reap() -> Iterator[tuple[int, int]]:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


class _Supervisor:
    """Waits for bwrap, forwarding signals, and works out the app's exit status."""

    def __init__(self, bwrap: str, instance: str, bwrap_pid: int, status_fd: int,
                 subreaper: bool, block_fd: int = -1,
                 apply_layouts: Callable[[int], bool] | None = None) -> None:
        self.bwrap = bwrap
        self.instance = instance
        self.bwrap_pid = bwrap_pid
        self.status_fd = status_fd
        self.block_fd = block_fd
        self.apply_layouts = apply_layouts
        self.subreaper = subreaper
        self.status = b""
        self.pid1: int | None = None
        self.app_fd: int | None = None
        self.app_searched = False

    def run(self) -> int:
        self._read_status(first_only=True)
        self.pid1 = _json_int(self.status, b"child-pid")
        watchdog = -1 if self.pid1 is None else _start_watchdog(self.pid1)
        bwrap_status: int | None = None
        pid1_status: int | None = None
        try:
            if self.block_fd >= 0:
                self._apply_layouts()
            while True:
                for pid, status in _reap():
                    if pid == self.bwrap_pid:
                        bwrap_status = status
                    elif pid == self.pid1:
                        pid1_status = status
                if bwrap_status is not None:
                    result = self._result(bwrap_status, pid1_status)
                    if result is not None:
                        return result
                info = signal.sigwaitinfo(_WAITED)
                if info.si_signo in FORWARDED and info.si_code <= 0:
                    self._forward(info.si_signo)
        finally:
            if watchdog >= 0:
                try:
                    os.write(watchdog, b"x")  # stand down: we end normally
                except BrokenPipeError:  # it saw the sandbox end
                    pass
                os.close(watchdog)
            if self.app_fd is not None:
                os.close(self.app_fd)

    def _apply_layouts(self) -> None:
        """bwrap waits on BLOCK_FD with the namespace built: apply the layouts, then let it
        go on; if they cannot be applied, kill the sandbox before the app runs."""
        block_fd, self.block_fd = self.block_fd, -1
        try:
            # Not applied: bwrap failed before its namespace was built; its status says why.
            if (self.pid1 is not None and self.apply_layouts is not None
                    and self.apply_layouts(self.pid1)):
                os.write(block_fd, b"\n")
        except BaseException:
            if self.pid1 is not None:
                try:
                    os.kill(self.pid1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.close(block_fd)
            os.waitpid(self.bwrap_pid, 0)
            raise
        os.close(block_fd)

    def _read_status(self, *, first_only: bool) -> None:
        while not (first_only and b"}" in self.status):
            chunk = os.read(self.status_fd, 4096)
            if not chunk:
                return
            self.status += chunk

    def _result(self, bwrap_status: int, pid1_status: int | None) -> int | None:
        if os.WIFEXITED(bwrap_status):
            self._read_status(first_only=False)
            code = _json_int(self.status, b"exit-code")
            if code is None:  # bwrap never exec'd the command
                raise self._launch_failed(os.WEXITSTATUS(bwrap_status))
            return code
        # The monitor died of a signal (a terminal signal hits it too); pid 1 is ours now.
        if self.pid1 is None or not self.subreaper:
            return _exit_code(bwrap_status)
        return None if pid1_status is None else _exit_code(pid1_status)

    def _launch_failed(self, code: int) -> SandboxError:
        from usersnap.sandbox.probe import check_userns  # only when bwrap failed

        try:
            check_userns(self.bwrap)
        except SandboxError as err:
            return err
        return SandboxError(
            f'cannot start snap "{self.instance}" in its sandbox: bubblewrap failed '
            f"with exit status {code} (its message is above)"
        )

    def _forward(self, signo: int) -> None:
        if self.app_fd is None and not self.app_searched and self.pid1 is not None:
            self.app_searched = True
            for _ in range(_FIND_APP_TRIES):
                pid = find_app_pid(self.pid1)
                if pid is not None:
                    try:
                        self.app_fd = os.pidfd_open(pid)
                    except OSError:
                        pass
                    break
                if not os.path.exists(f"/proc/{self.pid1}"):
                    break  # the sandbox is gone
                time.sleep(_FIND_APP_PAUSE)
        if self.app_fd is not None:
            try:
                signal.pidfd_send_signal(self.app_fd, signo)
            except ProcessLookupError:
                pass


def _start_watchdog(pid1: int) -> int:
    """Fork a process that SIGKILLs the app if the launcher dies without a word.

    ``usersnap run`` stands in for the app, so killing it must kill the app, as killing
    the process ``snap run`` exec'd would; a SIGKILLed launcher can do nothing itself.
    The watchdog waits on a pipe whose only write end the launcher holds: EOF with no
    byte means the launcher is gone.  It also ends when the sandbox does (pid 1's
    pidfd).  Only the app is killed, like under snapd; what it left in the background
    keeps running.  Returns the write end (write one byte before closing), or -1.
    """
    try:
        sandbox = os.pidfd_open(pid1)
    except OSError:
        return -1
    read_end, write_end = os.pipe()
    if os.fork() == 0:  # signals stay blocked, as in the launcher: Ctrl-C passes it by
        try:
            keep = {read_end, sandbox}
            for name in os.listdir("/proc/self/fd"):
                if int(name) > 2 and int(name) not in keep:
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            ready = select.select([read_end, sandbox], [], [])[0]
            if read_end in ready and os.read(read_end, 1) == b"":
                app = find_app_pid(pid1)
                if app is not None:
                    os.kill(app, signal.SIGKILL)
        finally:
            os._exit(0)
    os.close(read_end)
    os.close(sandbox)
    return write_end


def _hold_run_lock(run_lock: str) -> int:
    try:
        fd = os.open(run_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise SandboxError(f"cannot open {run_lock}: {err.strerror}") from err
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        os.utime(fd)  # usersnapd's idle clock (daemon.main.ran_recently)
    except OSError:
        pass
    return fd


def _become_subreaper() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError, ImportError):
        return False


def _args_memfd(blob: bytes) -> int:
    fd = os.memfd_create("usersnap-bwrap-args", os.MFD_CLOEXEC)
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _spawn(bwrap: str, argv: list[str], blob: bytes, lock_fd: int, layouts: bool,
           fds: Mapping[int, int]) -> tuple[int, int, int]:
    """Start bwrap with its fds in place; return its pid, the status pipe's read end and,
    with ``layouts``, the write end of the pipe it blocks on (else -1)."""
    opened: list[int] = []
    status_r = block_w = -1
    try:
        args_fd = _args_memfd(blob)
        opened.append(args_fd)
        status_r, status_w = os.pipe()
        opened.append(status_w)
        # Sources above every target so that no dup2 below overwrites another's source or
        # is a no-op (dup2 onto itself would leave close-on-exec set).
        sources = {ARGS_FD: args_fd, STATUS_FD: status_w, SYNC_FD: lock_fd}
        if layouts:
            block_r, block_w = os.pipe()
            opened.append(block_r)
            sources[BLOCK_FD] = block_r
        sources.update(fds)
        actions = []
        for target, fd in sources.items():
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, FIRST_FREE_FD)
            opened.append(high)
            actions.append((os.POSIX_SPAWN_DUP2, high, target))
        try:
            pid = os.posix_spawn(
                bwrap, argv, {}, file_actions=actions, setsigmask=(), setsigdef=_RESET_IN_CHILD
            )
        except OSError as err:
            raise SandboxError(f"cannot run {bwrap}: {err.strerror}{SEE_DOCTOR}") from err
    except BaseException:
        for fd in (status_r, block_w):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in opened:
            os.close(fd)
    return pid, status_r, block_w


def _drain(signals: frozenset[int]) -> None:
    """Consume what is pending, so unblocking does not deliver it (a late Ctrl-C) to us."""
    while signal.sigtimedwait(signals, 0) is not None:
        pass


def _run(launch: Launch, argv: list[str], blob: bytes, run_lock: str, fds: Mapping[int, int],
         apply_layouts: Callable[[int], bool] | None) -> int:
    lock_fd = _hold_run_lock(run_lock)
    try:
        subreaper = _become_subreaper()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # an inherited SIG_IGN would auto-reap
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
        try:
            pid, status_fd, block_fd = _spawn(launch.bwrap, argv, blob, lock_fd,
                                              apply_layouts is not None, fds)
            try:
                return _Supervisor(launch.bwrap, launch.instance, pid, status_fd, subreaper,
                                   block_fd, apply_layouts).run()
            finally:
                os.close(status_fd)
        finally:
            _drain(_WAITED)
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    finally:
        os.close(lock_fd)
