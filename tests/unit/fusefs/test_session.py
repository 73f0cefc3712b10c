"""The session's threads, with a SEQPACKET socket standing in for /dev/fuse (one request
per read, one reply per write, as the kernel does): a request that waits hands the
reading over, so the others are answered meanwhile."""

from __future__ import annotations

import errno
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from usersnap.fusefs import protocol
from usersnap.fusefs.protocol import EntryAttributes, FUSEError, Operations, RequestContext
from usersnap.fusefs.session import Session, StateLock

pytestmark = pytest.mark.timeout(30)


class Slow(Operations):
    """``lookup(b"slow")`` waits, without the lock, until it is let go."""

    def __init__(self) -> None:
        self.lock = StateLock()
        self.go = threading.Event()

    def lookup(self, parent: int, name: bytes, ctx: RequestContext) -> EntryAttributes:
        if name == b"boom":
            raise RuntimeError("a bug in a handler")
        if name == b"slow":
            with self.lock.released():
                assert self.go.wait(20)
        entry = EntryAttributes()
        entry.st_ino = 2 if name == b"slow" else 3
        return entry

    def getattr(self, inode: int, ctx: RequestContext) -> EntryAttributes:
        raise FUSEError(errno.ENOENT)


@pytest.fixture
def kernel() -> Iterator[tuple[socket.socket, Slow, Session]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ops = Slow()
    session = Session(ops, theirs.detach(), threads=3)
    session.start()
    ours.settimeout(10)
    try:
        yield ours, ops, session
    finally:
        ops.go.set()
        ours.close()  # the session's reads end (EOF): its threads stop
        assert session.join(10)
        session.close()


def send(sock: socket.socket, unique: int, opcode: int, body: bytes, nodeid: int = 1) -> None:
    header = protocol.IN_HEADER.pack(40 + len(body), opcode, unique, nodeid, 1000, 1000, 7, 0, 0)
    sock.send(header + body)


def receive(sock: socket.socket) -> tuple[int, int, bytes]:
    data = sock.recv(1 << 20)
    length, error, unique = protocol.OUT_HEADER.unpack_from(data)
    assert length == len(data)
    return unique, -error, data[16:]


def test_init_then_a_waiting_request_does_not_hold_up_the_next(
    kernel: tuple[socket.socket, Slow, Session],
) -> None:
    sock, ops, _session = kernel
    send(sock, 1, protocol.INIT, struct.pack("<IIII", 7, 38, 131072, protocol.ASYNC_READ))
    unique, error, body = receive(sock)
    assert (unique, error, struct.unpack_from("<II", body)) == (1, 0, (7, protocol.MINOR))
    send(sock, 2, protocol.LOOKUP, b"slow\0")
    send(sock, 3, protocol.LOOKUP, b"fast\0")
    unique, error, body = receive(sock)
    assert (unique, error, struct.unpack_from("<Q", body)[0]) == (3, 0, 3)
    ops.go.set()
    unique, error, body = receive(sock)
    assert (unique, error, struct.unpack_from("<Q", body)[0]) == (2, 0, 2)


def test_errors_are_answered_and_forgets_and_interrupts_are_not(
    kernel: tuple[socket.socket, Slow, Session], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    sock, _ops, _session = kernel
    send(sock, 4, protocol.FORGET, struct.pack("<Q", 1))
    send(sock, 5, protocol.INTERRUPT, struct.pack("<Q", 2))
    send(sock, 6, protocol.GETATTR, bytes(16))
    assert receive(sock) == (6, errno.ENOENT, b"")
    send(sock, 7, protocol.LOOKUP, b"boom\0")
    assert receive(sock) == (7, errno.EIO, b"")  # logged with its traceback
    assert "a bug in a handler" in caplog.text
    send(sock, 8, protocol.READLINK, b"")
    assert receive(sock) == (8, errno.ENOSYS, b"")


def test_the_lock_is_reentrant_and_released_whatever_its_depth() -> None:
    lock = StateLock()
    with lock, lock:
        with lock.released():
            taken = threading.Event()

            def other() -> None:
                with lock:
                    taken.set()

            thread = threading.Thread(target=other)
            thread.start()
            assert taken.wait(5)
            thread.join()
        assert lock._depth == 2
    with lock.released():  # not held: nothing to let go
        pass
