"""A small HTTP/1.1 server on trio over AF_UNIX, shaped by snapd's Go clients.

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
#: After a final response, how long/much client input we swallow before closing, so
#: the client reads our answer instead of a reset.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 4 * 1024 * 1024
_MAX_PARTS = 100
_MAX_FIELD_BYTES = 64 * 1024
_MAX_PREAMBLE = 64 * 1024
_PROBE_SECONDS = 2.0
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")


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
    """A buffered trio stream whose every wait on the client is bounded."""

    def __init__(self, stream: trio.SocketStream, idle_timeout: float) -> None:
        self.stream = stream
        self.idle_timeout = idle_timeout
        self.buf = bytearray()

    async def fill(self) -> None:
        data = b""
        with trio.move_on_after(self.idle_timeout) as scope:
            try:
                data = await self.stream.receive_some(_RECV_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as err:
                raise _ConnectionLost(str(err)) from err
        if scope.cancelled_caught:
            raise _ConnectionLost("client idle for too long")
        if not data:
            raise _ConnectionLost("client closed the connection")
        self.buf += data

    async def read_line(self, limit: int, status: int, what: str) -> bytes:
        """One line without its CRLF (bare LF accepted); longer than ``limit`` is ``status``."""
        start = 0
        while True:
            end = self.buf.find(b"\n", start)
            if end >= 0:
                if end > limit:
                    break
                line = bytes(self.buf[:end])
                del self.buf[: end + 1]
                return line.removesuffix(b"\r")
            if len(self.buf) > limit:
                break
            start = len(self.buf)
            await self.fill()
        raise _ProtocolError(status, f"{what} too long")

    async def read_some(self, max_bytes: int) -> bytes:
        if not self.buf:
            await self.fill()
        data = bytes(self.buf[:max_bytes])
        del self.buf[:max_bytes]
        return data

    async def send(self, data: bytes) -> None:
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
    keep_alive: bool
    length: int | None
    chunked: bool


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
    """The request body, de-chunked on the fly; ``broken`` means the framing is lost."""

    def __init__(self, conn: _Conn, head: _Head) -> None:
        self._conn = conn
        self._chunked = head.chunked
        self._left = head.length or 0
        self.length = head.length
        self.done = not head.chunked and self._left == 0
        self.broken = False
        self._in_chunk = False
        self._expect_continue = head.headers.get("expect", "").lower() == "100-continue"

    async def read_some(self, max_bytes: int = _RECV_SIZE) -> bytes:
        """Up to ``max_bytes`` of body; ``b""`` once it is all read."""
        if self.done:
            return b""
        if self._expect_continue:
            self._expect_continue = False
            await self._conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            if self._chunked and self._left == 0 and not await self._next_chunk():
                return b""
            data = await self._conn.read_some(min(max_bytes, self._left))
        except _ProtocolError as err:
            self.broken = True
            raise BadRequestError(f"malformed request body: {err.message}") from err
        except _ConnectionLost:
            self.broken = True
            raise
        self._left -= len(data)
        if not self._chunked and self._left == 0:
            self.done = True
        return data

    async def _next_chunk(self) -> bool:
        """Read up to the next chunk's data; False after the last chunk and its trailers."""
        if self._in_chunk and await self._conn.read_line(MAX_LINE, 400, "chunk") != b"":
            raise _ProtocolError(400, "chunk data longer than its size")
        line = await self._conn.read_line(MAX_LINE, 400, "chunk size line")
        size = line.split(b";", 1)[0].strip(b" \t")
        if not size or len(size) > 16 or not set(size) <= _HEX:
            raise _ProtocolError(400, "bad chunk size")
        self._left = int(size, 16)
        self._in_chunk = True
        if self._left == 0:
            total = 0
            while trailer := await self._conn.read_line(MAX_LINE, 400, "trailer"):
                total += len(trailer)
                if total > MAX_HEADER_BYTES:
                    raise _ProtocolError(400, "trailers too long")
            self.done = True
        return not self.done

    async def drain(self) -> bool:
        """Discard what the handler left unread; False when the connection cannot be reused."""
        if self.broken or self._expect_continue:
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
        data = await self._body.read_some()
        if not data:
            raise BadRequestError(
                "cannot parse multipart request: body ends before the last boundary"
            )
        self._buf += data

    async def _copy_to_delim(
        self, sink: Callable[[bytes], Awaitable[object]], limit: int, too_big: UsersnapError
    ) -> int:
        keep = len(self._delim) - 1
        size = 0
        while True:
            found = self._buf.find(self._delim)
            n = found if found >= 0 else len(self._buf) - keep
            if n > 0:
                size += n
                if size > limit:
                    raise too_big
                await sink(bytes(self._buf[:n]))
                del self._buf[:n]
            if found >= 0:
                del self._buf[: len(self._delim)]
                return size
            await self._more()

    async def parse(self, tmpdir: Path, max_file_bytes: int) -> Multipart:
        fields: dict[str, str] = {}

        async def discard(_: bytes) -> None:
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

        async def collect(data: bytes) -> None:
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


def _parse_head_line(line: bytes) -> tuple[str, str]:
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN or not parts[1]:
        raise _ProtocolError(400, "malformed request line")
    if parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        status = 505 if parts[2].startswith(b"HTTP/") else 400
        raise _ProtocolError(status, "unsupported HTTP version")
    try:
        target = parts[1].decode("ascii")
    except UnicodeDecodeError as err:
        raise _ProtocolError(400, "malformed request target") from err
    return parts[0].decode("ascii"), target


async def _read_head(conn: _Conn) -> _Head:
    line = await conn.read_line(MAX_LINE, 414, "request line")
    while not line:  # RFC 9112 §2.2: ignore empty lines before the request line
        line = await conn.read_line(MAX_LINE, 414, "request line")
    method, target = _parse_head_line(line)
    http10 = line.endswith(b"HTTP/1.0")
    headers: dict[str, str] = {}
    total = 0
    while raw := await conn.read_line(max(0, min(MAX_LINE, MAX_HEADER_BYTES - total)), 431,
                                      "header"):
        total += len(raw) + 2
        if len(headers) >= MAX_HEADERS:
            raise _ProtocolError(431, "too many headers")
        name, sep, value = raw.partition(b":")
        if not sep or not name or not set(name) <= _TOKEN:
            raise _ProtocolError(400, "malformed header line")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep_alive = "close" not in tokens and not http10
    length: int | None = None
    chunked = False
    if "transfer-encoding" in headers:
        if "content-length" in headers:
            raise _ProtocolError(400, "both Transfer-Encoding and Content-Length")
        if headers["transfer-encoding"].strip().lower() != "chunked":
            raise _ProtocolError(501, "unsupported Transfer-Encoding")
        chunked = True
    elif "content-length" in headers:
        cl = headers["content-length"]
        if not cl.isascii() or not cl.isdigit() or len(cl) > 18:
            raise _ProtocolError(400, "bad Content-Length")
        length = int(cl)
    return _Head(method, target, headers, keep_alive, length, chunked)


def _split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(target)
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise _ProtocolError(400, "malformed request target")
    return path, parse_qs(parts.query, keep_blank_values=True)


def _check_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if not name or not set(name.encode("latin-1", "replace")) <= _TOKEN:
            raise ValueError(f"invalid response header name {name!r}")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"invalid value for response header {name!r}")


def _encode_head(response: Response, keep_alive: bool, framing: tuple[str, str]) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    ours = {"content-length", "transfer-encoding", "connection"}
    lines += [f"{k}: {v}" for k, v in response.headers.items() if k.lower() not in ours]
    lines.append(f"{framing[0]}: {framing[1]}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_response(conn: _Conn, response: Response, keep_alive: bool) -> bool:
    """Send ``response``; returns whether the connection may carry another request."""
    if isinstance(response.body, bytes):
        framing = ("Content-Length", str(len(response.body)))
        await conn.send(_encode_head(response, keep_alive, framing) + response.body)
        return keep_alive
    # A streamed body ends the connection: the client cannot pipeline past a stream that
    # may never end, and it lets us watch for the hang-up that ends a follow stream.
    await conn.send(_encode_head(response, False, ("Transfer-Encoding", "chunked")))
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
                        await conn.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            except _ConnectionLost:
                pass
            except Exception:
                log.exception("streamed response failed; closing the connection")
            else:
                await conn.send(b"0\r\n\r\n")
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
        _check_headers(response.headers)
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


async def _serve_one(conn: _Conn, handler: Handler, peer: Peer) -> bool:
    """Serve one request; returns whether the connection may carry another."""
    try:
        with trio.fail_after(conn.idle_timeout):
            head = await _read_head(conn)
        path, query = _split_target(head.target)
    except trio.TooSlowError as err:
        raise _ConnectionLost("request head too slow") from err
    except _ProtocolError as err:
        response = error_response(UsersnapError(err.message), status=err.status)
        await _send_response(conn, response, keep_alive=False)
        await conn.linger()
        return False
    body = _Body(conn, head)
    request = Request(head.method, path, query, head.headers, peer, body)
    response = await _run_handler(handler, request)
    keep_alive = head.keep_alive and (body.done or await body.drain())
    if not await _send_response(conn, response, keep_alive):
        await conn.linger()
        return False
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
