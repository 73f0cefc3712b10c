"""One FUSE session: mounted through fusermount3, served by threads on /dev/fuse.

One thread at a time reads /dev/fuse (a blocking read), answers the request through
:func:`protocol.dispatch` holding the file system's lock, writes the reply and reads
the next: a walk's thousands of requests cost one thread's Python and no hand-over
(measured: more threads reading at once made every workload slower, from GIL and lock
hand-overs).  A handler that must wait for the image or the disk lets the lock go
(:meth:`StateLock.released`) and hands the reading over to the next thread, so a slow
request never holds up the others; the daemon's changes to the tree (installs,
removals) take the same lock.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Collection, Iterator
from typing import Any

from usersnap.errors import MountError
from usersnap.fusefs import protocol
from usersnap.fusefs.protocol import FUSEError, RequestContext

log = logging.getLogger(__name__)

#: Threads reading /dev/fuse: requests waiting for decompression or the disk leave the
#: others free (reads of two files decompress on two cores; read-ahead takes the rest).
THREADS = 8
#: fusermount3's variable naming the socket it sends the /dev/fuse descriptor over.
COMMFD_VARIABLE = "_FUSE_COMMFD"
FUSERMOUNT = "fusermount3"


class StateLock:
    """The lock over a file system's state (the tree, handles, caches): re-entrant, and
    :meth:`released` lets other requests in while the holder waits for the image or
    the disk, whatever its depth.  Not held (a unit test calling a handler), it is a
    no-op."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        #: called by a holder about to wait (the session hands reading over)
        self.on_wait: Callable[[], None] | None = None

    def __enter__(self) -> StateLock:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return self
        self._lock.acquire()
        self._owner, self._depth = me, 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._owner = None
            self._lock.release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner != me:
            yield
            return
        if self.on_wait is not None:
            self.on_wait()
        depth, self._owner, self._depth = self._depth, None, 0
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._owner, self._depth = me, depth


def mount(mountpoint: str, options: Collection[str]) -> int:
    """Mount a FUSE file system on ``mountpoint``; the /dev/fuse descriptor serving it.

    fusermount3 (setuid root) does the mount for users and passes the descriptor back
    over a socket; a daemon run as root goes the same way, so both mount alike.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        env = dict(os.environ, **{COMMFD_VARIABLE: str(theirs.fileno())})
        try:
            done = subprocess.run(
                [FUSERMOUNT, "-o", ",".join(sorted(options)), "--", mountpoint],
                env=env, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=30,
            )  # fmt: skip
        except FileNotFoundError:
            raise MountError(f"cannot mount snaps on {mountpoint}: {FUSERMOUNT} is not "
                             "installed (install the fuse3 package)") from None
        except subprocess.TimeoutExpired:
            raise MountError(f"cannot mount snaps on {mountpoint}: {FUSERMOUNT} hung") from None
        theirs.close()
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise MountError(f"cannot mount snaps on {mountpoint}: {why[0]}")
        try:
            _msg, fds, _flags, _addr = socket.recv_fds(ours, 1, 1)
        except OSError as err:
            fds = []
            log.debug("no descriptor from %s: %s", FUSERMOUNT, err)
        if not fds:
            unmount(mountpoint)
            raise MountError(f"cannot mount snaps on {mountpoint}: {FUSERMOUNT} sent no "
                             "descriptor")  # fmt: skip
        # not for the apps and hooks usersnapd starts: a child holding it would keep the
        # mount alive (and hanging) after usersnapd is gone
        os.set_inheritable(fds[0], False)
        return fds[0]


def unmount(mountpoint: str, *, lazy: bool = False) -> bool:
    """Whether ``fusermount3 -u`` unmounted it (lazily: once the last user is gone)."""
    argv = [FUSERMOUNT, "-u", "-q", *(["-z"] if lazy else []), "--", mountpoint]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class Session:
    """Serve ``ops`` (handlers with pyfuse3's names, called with ``ops.lock`` held) on
    the descriptor of a mount until it is unmounted."""

    def __init__(self, ops: Any, fd: int, *, threads: int = THREADS) -> None:
        self.ops = ops
        self.fd = fd
        self._threads = [threading.Thread(target=self._serve, name=f"fuse-{i}", daemon=True)
                         for i in range(threads)]  # fmt: skip
        self.finished = threading.Event()
        self._running = threads
        self._count_lock = threading.Lock()
        #: held by the thread reading /dev/fuse, until its handler waits or it ends
        self._reader = threading.Lock()
        self._local = threading.local()
        ops.lock.on_wait = self._hand_over

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Whether every thread ended (the mount went away) within ``timeout``."""
        return self.finished.wait(timeout)

    def close(self) -> None:
        """Close the descriptor; only once every thread is gone (:meth:`join`)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def _hand_over(self) -> None:
        if getattr(self._local, "reading", False):
            self._local.reading = False
            self._reader.release()

    def _serve(self) -> None:
        # one buffer per thread, made when it first reads and read into: a fresh bytes
        # object per request cost an mmap and a munmap each (glibc serves large blocks
        # from mmap)
        buffer = bytearray()
        try:
            while True:
                if not getattr(self._local, "reading", False):
                    self._reader.acquire()
                    self._local.reading = True
                if not buffer:
                    buffer = bytearray(protocol.BUFFER_SIZE)
                if not self._serve_one(buffer):
                    break
        except Exception:  # a reply the kernel refused in a way it never should
            log.exception("FUSE session thread failed")
        finally:
            self._hand_over()
            with self._count_lock:
                self._running -= 1
                if self._running == 0:
                    self.finished.set()

    def _serve_one(self, buffer: bytearray) -> bool:
        try:
            size = os.readv(self.fd, [buffer])
        except OSError as err:
            if err.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
                return True  # interrupted, or a request withdrawn before it was read
            if err.errno in (errno.ENODEV, errno.EBADF):
                return False  # unmounted
            raise
        if size < protocol.IN_HEADER.size:
            return False
        length, opcode, unique, nodeid, uid, gid, pid, _ext, _pad = (
            protocol.IN_HEADER.unpack_from(buffer)
        )
        body = memoryview(buffer)[protocol.IN_HEADER.size : min(length, size)]
        if opcode == protocol.INTERRUPT:
            return True  # handlers are short or wait for the image: let them finish
        error = 0
        answer: bytes | None = b""
        try:
            if opcode == protocol.INIT:
                answer = protocol.init_reply(body)
            elif opcode != protocol.DESTROY:
                ctx = RequestContext(uid, gid, pid)
                with self.ops.lock:
                    answer = protocol.dispatch(self.ops, opcode, nodeid, ctx, body)
        except FUSEError as err:
            error = err.errno
        except Exception:
            log.exception("unexpected error answering a FUSE request (opcode %d)", opcode)
            error = errno.EIO
        if answer is not None:
            self._write(unique, answer, error)
        return True

    def _write(self, unique: int, answer: bytes, error: int) -> None:
        header = protocol.OUT_HEADER.pack(
            protocol.OUT_HEADER.size + (0 if error else len(answer)), -error, unique
        )
        try:
            os.writev(self.fd, [header] if error else [header, answer])
        except OSError as err:
            # ENOENT: the request was interrupted and is gone; ENODEV: unmounted
            if err.errno not in (errno.ENOENT, errno.ENODEV, errno.EBADF):
                raise
