"""An HTTP/1.1 server on trio over AF_UNIX, shaped by snapd's Go clients.

h11 does the HTTP: request syntax, body framing (``Content-Length``, chunked), keep-alive
and response framing; this module adds what a daemon needs around it.

What the real ``snap`` client needs and generic servers get wrong (rest-api.md §2):
keep-alive with a ``Content-Length`` on every response, ``Transfer-Encoding: chunked``
request bodies (``snap install`` streams its multipart upload through a pipe), no
``Content-Type`` on most JSON bodies, and the caller's identity from ``SO_PEERCRED``
rather than from anything the client says.

Bodies are never buffered whole unless the handler asks for it with a limit: uploads
stream to disk through :meth:`Request.multipart`.  Every wait on the client is bounded
(``idle_timeout``) so a stalled or malicious client costs one task, not the daemon, and
no exception inside one connection can reach the listener.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import fcntl
import functools
import logging
import os
import socket
import stat
import struct
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import h11
import trio

from usersnap.daemon.envelope import Response, error_response
from usersnap.errors import DaemonError, UsersnapError

__all__ = [
    "BadRequestError",
    "BodyTooLargeError",
    "Handler",
    "Multipart",
    "Peer",
    "Request",
    "Response",
    "UploadedFile",
    "serve_http",
]

log = logging.getLogger(__name__)

MAX_LINE = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
DEFAULT_BODY_LIMIT = 4 * 1024 * 1024
#: Unread request body we still read and discard to keep a connection alive.
_DRAIN_LIMIT = 1024 * 1024
_RECV_SIZE = 64 * 1024
#: Uploads are read and written in big pieces: per-piece costs (a trio wake-up, an h11
#: event, a worker thread for the write) dominated a 100 MB upload in 64 KiB pieces.
_BODY_RECV_SIZE = 1024 * 1024
_SINK_CHUNK = 1024 * 1024
#: After a final response, how long/much client input we swallow before closing, so
#: the client reads our answer instead of a reset.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 4 * 1024 * 1024
_MAX_PARTS = 100
_MAX_FIELD_BYTES = 64 * 1024
_MAX_PREAMBLE = 64 * 1024
_PROBE_SECONDS = 2.0


class BadRequestError(UsersnapError):
    """The request (usually its body) is malformed; the connection is closed after the answer."""

    status = 400


class BodyTooLargeError(UsersnapError):
    status = 413


class _ConnectionLost(Exception):
    """The client hung up or stalled mid-request: there is nobody to answer."""


class _ProtocolError(Exception):
    """The request head cannot be parsed; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Peer:
    """The connecting process as the kernel saw it at ``connect(2)`` time."""

    pid: int
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part streamed to ``path``; the handler owns (and must remove) the file."""

    field: str
    filename: str
    path: Path
    size: int


@dataclass(frozen=True, slots=True)
class Multipart:
    fields: dict[str, str]
    files: list[UploadedFile]


class _Conn:
    """An h11 server connection over a trio stream; every wait on the client is bounded."""

    def __init__(self, stream: trio.SocketStream, idle_timeout: float) -> None:
        self.stream = stream
        self.idle_timeout = idle_timeout
        # h11 buffers at most this much of an incomplete head, chunk header or trailer
        # before refusing it with 431; bodies are delivered incrementally whatever their size.
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)

    async def next_event(self, recv_size: int = _RECV_SIZE) -> object:
        """The next h11 event, reading from the client as needed; ``RemoteProtocolError``
        passes through, a hang-up or stall is :class:`_ConnectionLost`."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = b""
            with trio.move_on_after(self.idle_timeout) as scope:
                try:
                    data = await self.stream.receive_some(recv_size)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as err:
                    raise _ConnectionLost(str(err)) from err
            if scope.cancelled_caught:
                raise _ConnectionLost("client idle for too long")
            if not data:
                raise _ConnectionLost("client closed the connection")
            self.h11.receive_data(data)

    async def send(self, *events: h11.Event) -> None:
        """Send ``events`` in one write (a response's head and body reach the client together)."""
        data = b"".join(self.h11.send(event) or b"" for event in events)
        if not data:
            return
        with trio.move_on_after(self.idle_timeout) as scope:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as err:
                raise _ConnectionLost(str(err)) from err
        if scope.cancelled_caught:
            raise _ConnectionLost("client stopped reading")

    async def linger(self) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await self.stream.send_eof()
            with trio.move_on_after(_LINGER_SECONDS):
                seen = 0
                while seen < _LINGER_BYTES:
                    data = await self.stream.receive_some(_RECV_SIZE)
                    if not data:
                        break
                    seen += len(data)


@dataclass(frozen=True, slots=True)
class _Head:
    method: str
    target: str
    headers: dict[str, str]
    length: int | None


class _BodySource(Protocol):
    length: int | None

    async def read_some(self, max_bytes: int = ...) -> bytes: ...


class _BytesBody:
    """A body already in memory, for requests that never crossed a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length: int | None = len(data)

    async def read_some(self, max_bytes: int = _RECV_SIZE) -> bytes:
        chunk, self._data = self._data[:max_bytes], self._data[max_bytes:]
        return chunk


class _Body:
    """The request body as h11 de-frames it; ``broken`` means the framing is lost."""

    def __init__(self, conn: _Conn, head: _Head) -> None:
        self._conn = conn
        self.length = head.length
        self.done = False
        self.broken = False
        self._pending = b""

    async def read_some(self, max_bytes: int = _RECV_SIZE) -> bytes:
        """Up to ``max_bytes`` of body; ``b""`` once it is all read."""
        while not self._pending and not self.done:
            if self._conn.h11.they_are_waiting_for_100_continue:
                await self._conn.send(
                    h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
            try:
                event = await self._conn.next_event(_BODY_RECV_SIZE)
            except h11.RemoteProtocolError as err:
                self.broken = True
                raise BadRequestError(f"malformed request body: {err}") from err
            except _ConnectionLost:
                self.broken = True
                raise
            if isinstance(event, h11.Data):
                self._pending = bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.done = True
        data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return data

    async def drain(self) -> bool:
        """Discard what the handler left unread; False when the connection cannot be reused."""
        if self.broken or self._conn.h11.they_are_waiting_for_100_continue:
            return False
        seen = 0
        try:
            while data := await self.read_some():
                seen += len(data)
                if seen > _DRAIN_LIMIT:
                    return False
        except BadRequestError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Request:
    """One request; the body is streamed and can be consumed once."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    peer: Peer
    _body: _BodySource = field(repr=False)

    @classmethod
    def build(
        cls,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        peer: Peer | None = None,
    ) -> Request:
        """A request that never crossed a socket, to call a handler in-process (API tests).

        ``peer`` defaults to this process.
        """
        try:
            path, query = _split_target(target)
        except _ProtocolError as err:
            raise ValueError(f"{err.message}: {target!r}") from err
        return cls(
            method, path, query, {k.lower(): v for k, v in (headers or {}).items()},
            peer or Peer(os.getpid(), os.getuid(), os.getgid()), _BytesBody(body),
        )

    async def read_body(self, *, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
        """The whole body, refused with 413 past ``limit`` bytes."""
        if self._body.length is not None and self._body.length > limit:
            raise BodyTooLargeError(f"request body larger than {limit} bytes")
        chunks: list[bytes] = []
        total = 0
        while data := await self._body.read_some():
            total += len(data)
            if total > limit:
                raise BodyTooLargeError(f"request body larger than {limit} bytes")
            chunks.append(data)
        return b"".join(chunks)

    async def multipart(self, tmpdir: Path, *, max_file_bytes: int) -> Multipart:
        """Parse ``multipart/form-data``, streaming file parts to new files in ``tmpdir``.

        On any error the files written so far are removed; on success the caller owns them.
        """
        boundary = _param(self.headers.get("content-type", ""), "content-type", "boundary")
        ctype = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "multipart/form-data" or not boundary:
            raise BadRequestError(
                "cannot parse request: expected multipart/form-data with a boundary"
            )
        parser = _MultipartParser(self._body, boundary.encode("latin-1", "replace"))
        try:
            return await parser.parse(tmpdir, max_file_bytes)
        except BaseException:
            for upload in parser.files:
                with contextlib.suppress(OSError):
                    os.unlink(upload.path)
            raise


Handler = Callable[[Request], Awaitable[Response]]


def _param(value: str, header: str, name: str) -> str | None:
    """A (possibly quoted or RFC 2231) parameter of a MIME header value."""
    msg = email.message.Message()
    msg[header] = value
    raw = msg.get_param(name, header=header)
    if raw is None:
        return None
    return email.utils.collapse_rfc2231_value(raw)


class _MultipartParser:
    """Streams parts off the body; the data is seen as ``CRLF + body`` so every
    delimiter is ``CRLF--boundary``."""

    def __init__(self, body: _BodySource, boundary: bytes) -> None:
        self._body = body
        self._delim = b"\r\n--" + boundary
        self._buf = bytearray(b"\r\n")
        self.files: list[UploadedFile] = []

    async def _more(self) -> None:
        data = await self._body.read_some(_BODY_RECV_SIZE)
        if not data:
            raise BadRequestError(
                "cannot parse multipart request: body ends before the last boundary"
            )
        self._buf += data

    async def _copy_to_delim(
        self, sink: Callable[[memoryview], Awaitable[object]], limit: int,
        too_big: UsersnapError,
    ) -> int:  # fmt: skip
        """Pass what precedes the next delimiter to ``sink`` in pieces of about
        ``_SINK_CHUNK``, scanning each byte for the delimiter once; consume the delimiter."""
        keep = len(self._delim) - 1
        size = 0
        scanned = 0  # the buffer holds no delimiter starting before this
        while True:
            found = self._buf.find(self._delim, scanned)
            n = found if found >= 0 else len(self._buf) - keep
            if size + max(n, 0) > limit:
                raise too_big
            if n > 0 and (found >= 0 or n >= _SINK_CHUNK):
                size += n
                with memoryview(self._buf) as view, view[:n] as piece:
                    await sink(piece)
                del self._buf[:n]
            if found >= 0:
                del self._buf[: len(self._delim)]
                return size
            scanned = max(0, len(self._buf) - keep)
            await self._more()

    async def parse(self, tmpdir: Path, max_file_bytes: int) -> Multipart:
        fields: dict[str, str] = {}

        async def discard(_: memoryview) -> None:
            return

        await self._copy_to_delim(
            discard, _MAX_PREAMBLE, BadRequestError("cannot parse multipart request: no boundary")
        )
        for _ in range(_MAX_PARTS + 1):
            while len(self._buf) < 2:
                await self._more()
            if self._buf.startswith(b"--"):
                return Multipart(fields, self.files)
            name, filename = await self._part_head()
            if filename is None:
                fields[name] = await self._field(name)
            else:
                await self._file_part(tmpdir, name, filename, max_file_bytes)
        raise BadRequestError(f"too many parts in multipart request (max {_MAX_PARTS})")

    async def _field(self, name: str) -> str:
        value = bytearray()

        async def collect(data: memoryview) -> None:
            value.extend(data)

        await self._copy_to_delim(
            collect, _MAX_FIELD_BYTES, BodyTooLargeError(f"form field {name!r} too large")
        )
        try:
            return value.decode()
        except UnicodeDecodeError as err:
            raise BadRequestError(f"form field {name!r} is not UTF-8") from err

    async def _part_head(self) -> tuple[str, str | None]:
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            if len(self._buf) > MAX_HEADER_BYTES:
                raise BadRequestError("cannot parse multipart request: part headers too long")
            await self._more()
        text = self._buf[2:end].decode("utf-8", "replace")
        del self._buf[: end + 4]
        disposition = ""
        for line in text.split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = value.strip()
        name = _param(disposition, "content-disposition", "name")
        if not name:
            raise BadRequestError("cannot parse multipart request: part without a name")
        return name, _param(disposition, "content-disposition", "filename")

    async def _file_part(self, tmpdir: Path, name: str, filename: str, max_bytes: int) -> None:
        fd, tmp = await trio.to_thread.run_sync(
            functools.partial(tempfile.mkstemp, dir=tmpdir, prefix="upload-", suffix=".part")
        )
        upload = UploadedFile(name, filename, Path(tmp), 0)
        self.files.append(upload)
        too_big = BodyTooLargeError(f"uploaded file larger than {max_bytes} bytes")
        async with trio.wrap_file(os.fdopen(fd, "wb")) as out:
            size = await self._copy_to_delim(out.write, max_bytes, too_big)
        self.files[-1] = UploadedFile(name, filename, upload.path, size)


#: linux/fs.h FICLONE: share the source's extents (btrfs, XFS, bcachefs), nothing read
_FICLONE = 0x40049409


def _clone(src: int, out: int, size: int) -> int:
    """Reflink ``src`` into ``out`` where the filesystem can, leaving the source's offset
    at the end (so the copy loop after it adds nothing); 0 when it cannot."""
    try:
        fcntl.ioctl(out, _FICLONE, src)
    except OSError:
        return 0
    os.lseek(src, size, os.SEEK_SET)
    return size


async def copy_local_file(
    path: str, peer: Peer, tmpdir: Path, *, field_name: str, max_file_bytes: int
) -> UploadedFile:
    """What an upload of ``path`` would have left in ``tmpdir``, copied in the kernel
    (``sendfile``) instead of through the socket: usersnap's own client runs as the same
    user on the same machine, so it names its file rather than sending its bytes (the
    snap client's upload still works).  Only a peer of our own uid may name a file."""
    if peer.uid != os.getuid():
        raise BadRequestError("cannot install a local file for another user")

    def copy() -> UploadedFile:
        try:
            # O_NONBLOCK: a fifo must not hang the worker thread until someone writes
            with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as src:
                if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                    raise BadRequestError(f'cannot read "{path}": not a regular file')
                size = os.fstat(src.fileno()).st_size
                if size > max_file_bytes:
                    raise BodyTooLargeError(f"uploaded file larger than {max_file_bytes} bytes")
                fd, tmp = tempfile.mkstemp(dir=tmpdir, prefix="upload-", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as out:
                        copied = _clone(src.fileno(), out.fileno(), size)
                        while sent := os.sendfile(out.fileno(), src.fileno(), None, 1 << 30):
                            copied += sent
                except BaseException:
                    os.unlink(tmp)
                    raise
        except OSError as err:
            raise BadRequestError(f'cannot read "{path}": {err.strerror or err}') from err
        return UploadedFile(field_name, os.path.basename(path), Path(tmp), copied)

    return await trio.to_thread.run_sync(copy)


async def _read_head(conn: _Conn) -> _Head:
    """The next request's head, checked against our limits (h11 checks the syntax)."""
    event = await conn.next_event()
    if not isinstance(event, h11.Request):
        raise _ProtocolError(400, "malformed request")
    if event.http_version not in (b"1.0", b"1.1"):
        raise _ProtocolError(505, "unsupported HTTP version")
    if len(event.target) > MAX_LINE:
        raise _ProtocolError(414, "request line too long")
    if len(event.headers) > MAX_HEADERS:
        raise _ProtocolError(431, "too many headers")
    headers: dict[str, str] = {}
    total = 0
    for raw_name, raw_value in event.headers:
        size = len(raw_name) + len(raw_value)
        total += size
        if size > MAX_LINE:
            raise _ProtocolError(431, "header too long")
        if total > MAX_HEADER_BYTES:  # h11's buffer bound is checked only while incomplete
            raise _ProtocolError(431, "headers too long")
        key = raw_name.decode("ascii")
        text = raw_value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    if "transfer-encoding" in headers and "content-length" in headers:
        # RFC 9112 §6.1: a request smuggling vector; h11 would let chunked win
        raise _ProtocolError(400, "both Transfer-Encoding and Content-Length")
    try:
        target = event.target.decode("ascii")
    except UnicodeDecodeError as err:
        raise _ProtocolError(400, "malformed request target") from err
    length = int(headers["content-length"]) if "content-length" in headers else None
    return _Head(event.method.decode("ascii"), target, headers, length)


def _split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(target)
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise _ProtocolError(400, "malformed request target")
    return path, parse_qs(parts.query, keep_blank_values=True)


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("latin-1")
    except ValueError:
        return b"Unknown"


def _h11_response(response: Response, framing: list[tuple[str, str]]) -> h11.Response:
    """The response head; h11 refuses header names and values that would break framing."""
    ours = {"content-length", "transfer-encoding", "connection"}
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ours]
    return h11.Response(status_code=response.status, headers=headers + framing,
                        reason=_reason(response.status))


async def _send_response(conn: _Conn, response: Response, keep_alive: bool) -> bool:
    """Send ``response``; returns whether the connection may carry another request."""
    close = [] if keep_alive else [("Connection", "close")]
    if isinstance(response.body, bytes):
        framing = [("Content-Length", str(len(response.body))), *close]
        await conn.send(_h11_response(response, framing), h11.Data(data=response.body),
                        h11.EndOfMessage())
        return conn.h11.our_state is h11.DONE
    # A streamed body ends the connection: the client cannot pipeline past a stream that
    # may never end, and it lets us watch for the hang-up that ends a follow stream.
    # Without a length, h11 frames it chunked (close-delimited for an HTTP/1.0 client).
    await conn.send(_h11_response(response, [("Connection", "close")]))
    await _stream(conn, response.body)
    return False


async def _stream(conn: _Conn, body: AsyncIterator[bytes]) -> None:
    aclose = getattr(body, "aclose", None)

    async def watch_hangup(cancel_scope: trio.CancelScope) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while await conn.stream.receive_some(_RECV_SIZE):
                pass
        cancel_scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_hangup, nursery.cancel_scope)
            try:
                async for chunk in body:
                    if chunk:
                        await conn.send(h11.Data(data=chunk))
            except _ConnectionLost:
                pass
            except Exception:
                log.exception("streamed response failed; closing the connection")
            else:
                await conn.send(h11.EndOfMessage())
            nursery.cancel_scope.cancel()
    finally:
        if aclose is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(_LINGER_SECONDS):
                await aclose()


if sys.version_info < (3, 11):  # trio brings the backport there
    from exceptiongroup import ExceptionGroup


def _sole_error(err: Exception) -> Exception:
    """The one exception inside nested single-member groups (a handler's nursery)."""
    while isinstance(err, ExceptionGroup) and len(err.exceptions) == 1:
        err = err.exceptions[0]
    return err


async def _run_handler(handler: Handler, request: Request) -> Response:
    try:
        response = await handler(request)
        _h11_response(response, [])  # a header h11 cannot send is the handler's bug
    except Exception as group:
        err = _sole_error(group)
        if isinstance(err, _ConnectionLost):
            raise err from None
        if isinstance(err, UsersnapError):
            return error_response(err)
        log.exception("%s %s failed", request.method, request.path)
        return error_response(
            UsersnapError(f"internal error: {type(err).__name__}: {err}"), status=500
        )
    return response


async def _refuse(conn: _Conn, status: int, message: str) -> bool:
    """Answer a request we cannot read with an error envelope, then close."""
    response = error_response(UsersnapError(message), status=status)
    with contextlib.suppress(h11.LocalProtocolError):
        await _send_response(conn, response, keep_alive=False)
    await conn.linger()
    return False


async def _serve_one(conn: _Conn, handler: Handler, peer: Peer) -> bool:
    """Serve one request; returns whether the connection may carry another."""
    try:
        with trio.fail_after(conn.idle_timeout):
            head = await _read_head(conn)
        path, query = _split_target(head.target)
    except trio.TooSlowError as err:
        raise _ConnectionLost("request head too slow") from err
    except h11.RemoteProtocolError as err:
        return await _refuse(conn, err.error_status_hint, f"malformed request: {err}")
    except _ProtocolError as err:
        return await _refuse(conn, err.status, err.message)
    body = _Body(conn, head)
    request = Request(head.method, path, query, head.headers, peer, body)
    response = await _run_handler(handler, request)
    keep_alive = conn.h11.their_state is h11.DONE or await body.drain()
    if not await _send_response(conn, response, keep_alive):
        await conn.linger()
        return False
    conn.h11.start_next_cycle()
    return True


def _peer_of(sock: trio.socket.SocketType) -> Peer:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return Peer(pid, uid, gid)


async def _serve_connection(
    stream: trio.SocketStream, *, handler: Handler, idle_timeout: float
) -> None:
    conn = _Conn(stream, idle_timeout)
    try:
        peer = _peer_of(stream.socket)
        while await _serve_one(conn, handler, peer):
            pass
    except _ConnectionLost:
        pass
    except Exception:
        # Nothing from one connection may reach the listener's nursery.
        log.exception("connection failed")
    finally:
        await stream.aclose()


def _socket_identity(path: Path) -> tuple[int, int] | None:
    """(dev, inode) of the socket at ``path``; None if absent; refuses any other file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISSOCK(st.st_mode):
        raise DaemonError(f"cannot listen on {path}: it exists and is not a socket")
    return st.st_dev, st.st_ino


async def _remove_stale(path: Path) -> None:
    """Unlink ``path`` only if it is a socket nobody answers on."""
    if _socket_identity(path) is None:
        return
    probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with trio.move_on_after(_PROBE_SECONDS):
            await probe.connect(os.fspath(path))
        # Connected, or a live server too busy to accept: either way, not ours to remove.
        raise DaemonError(f"another usersnapd is listening on {path}")
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    except OSError as err:
        raise DaemonError(f"cannot listen on {path}: {err.strerror or err}") from err
    finally:
        probe.close()


async def _listen(path: Path, mode: int) -> tuple[trio.socket.SocketType, tuple[int, int] | None]:
    await _remove_stale(path)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        await sock.bind(os.fspath(path))
        os.chmod(path, mode)
        ident = _socket_identity(path)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise DaemonError(f"cannot listen on {path}: {err.strerror or err}") from err
    return sock, ident


async def serve_http(
    socket_path: Path,
    handler: Handler,
    *,
    mode: int = 0o600,
    idle_timeout: float = 60.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``socket_path`` until cancelled, then remove the socket.

    The parent directory must already exist (the caller creates it 0700).  ``mode`` is
    0600 for the owner's socket; the snapctl socket, reached from sandboxes, uses 0666.
    """
    sock, ident = await _listen(socket_path, mode)
    serve = functools.partial(_serve_connection, handler=handler, idle_timeout=idle_timeout)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, serve, [trio.SocketListener(sock)])
            task_status.started()
    finally:
        sock.close()
        with contextlib.suppress(OSError, DaemonError):
            if _socket_identity(socket_path) == ident:
                os.unlink(socket_path)
