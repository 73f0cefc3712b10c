"""The CLI's side of the wire: a synchronous client for usersnapd's snapd-style REST API.

Stdlib only, and in particular no trio: the CLI must start fast, and most commands are
one or two round trips on one kept-alive connection.  Error envelopes come back as the
same :class:`~usersnap.errors.UsersnapError` subclasses the daemon raised (by ``kind``),
so a message prints the same whichever side produced it.  :func:`connect` also starts
the daemon when nothing answers, serialised by a lock so racing CLIs get one daemon.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlencode

from usersnap.dirs import Dirs
from usersnap.errors import ERROR_KINDS, SEE_DOCTOR, DaemonError, UsersnapError

#: How long :func:`connect` waits for a daemon it started to answer.
START_TIMEOUT = 10.0
_START_POLL = 0.02
#: The form field naming a local .snap for usersnapd to copy (usersnap's own extension).
LOCAL_FILE_FIELD = "usersnap-local-file"
#: how long one GET of a change may wait (the daemon caps it too)
_LONG_WAIT = 20.0
#: the query parameter of ``GET /v2/changes/ID`` that waits for the change to be ready
CHANGE_WAIT_PARAM = "usersnap-wait"

Query = Mapping[str, str | Sequence[str]]
_Body = bytes | Iterable[bytes] | None


class Result(NamedTuple):
    """A ``sync`` answer's ``result``, or the ``change`` id of an ``async`` one."""

    result: object
    change: str | None = None


class _Disconnected(ConnectionError):
    """The server closed a kept-alive connection before answering."""


class _Response:
    __slots__ = ("data", "keep", "status")

    def __init__(self, status: int, data: bytes, keep: bool) -> None:
        self.status = status
        self.data = data
        self.keep = keep


class _UnixHTTP:
    """Just enough HTTP/1.1 for usersnapd's socket: one request at a time on a kept-alive
    connection, bodies by Content-Length or chunked.  http.client would cost every
    command 30 ms of imports (email, ssl) for the same exchange."""

    def __init__(self, path: Path, timeout: float | None) -> None:
        self._path = path
        self._timeout = timeout
        self.sock: socket.socket | None = None
        self._buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self._buf = b""

    def exchange(self, method: str, target: str, body: _Body, headers: Mapping[str, str]
                 ) -> _Response:
        if self.sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self._timeout)
                sock.connect(os.fspath(self._path))
            except BaseException:
                sock.close()
                raise
            self.sock = sock
        head = [f"{method} {target} HTTP/1.1", "Host: localhost",
                *(f"{k}: {v}" for k, v in headers.items())]
        if isinstance(body, bytes):
            head.append(f"Content-Length: {len(body)}")
        elif body is not None:
            head.append("Transfer-Encoding: chunked")
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if isinstance(body, bytes):
            self.sock.sendall(body)
        elif body is not None:
            for chunk in body:
                if chunk:
                    self.sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.sock.sendall(b"0\r\n\r\n")
        return self._read_response()

    def _fill(self) -> bool:
        assert self.sock is not None
        data = self.sock.recv(1 << 16)
        self._buf += data
        return bool(data)

    def _line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            if len(self._buf) > 65536:
                raise ValueError("header line too long")
            if not self._fill():
                raise _Disconnected("the connection was closed")
        line, self._buf = self._buf[:end], self._buf[end + 2:]
        return line

    def _take(self, size: int) -> bytes:
        while len(self._buf) < size:
            if not self._fill():
                raise ConnectionError("the connection was closed mid-answer")
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def _read_response(self) -> _Response:
        parts = self._line().split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"bad status line {parts!r}")
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        while line := self._line():
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        keep = headers.get(b"connection", b"").lower() != b"close"
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            chunks = []
            while size := int(self._line().split(b";")[0], 16):
                chunks.append(self._take(size))
                self._line()
            while self._line():  # trailers
                pass
            data = b"".join(chunks)
        elif (length := headers.get(b"content-length")) is not None:
            data = self._take(int(length))
        elif status in (204, 304) or 100 <= status < 200:
            data = b""
        else:  # until the server closes
            while self._fill():
                pass
            data, self._buf, keep = self._buf, b"", False
        return _Response(status, data, keep)


class Client:
    """One kept-alive connection to usersnapd; not thread-safe."""

    def __init__(self, socket_path: Path, *, timeout: float | None = 120.0) -> None:
        self.socket_path = socket_path
        self._conn = _UnixHTTP(socket_path, timeout)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, *, query: Query | None = None, body: object = None
    ) -> Result:
        """Send ``body`` (if not None) as JSON and decode the envelope."""
        target = f"{path}?{urlencode(query, doseq=True)}" if query else path
        headers: dict[str, str] = {}
        payload: bytes | None = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self._call(method, target, lambda: payload, headers)

    def get(self, path: str, query: Query | None = None) -> object:
        result = self.request("GET", path, query=query)
        if result.change is not None:
            raise DaemonError(f"usersnapd sent an async response to GET {path}")
        return result.result

    def post(self, path: str, body: object) -> Result:
        return self.request("POST", path, body=body)

    def post_bytes(self, path: str, data: bytes, content_type: str) -> Result:
        """POST a body that is not JSON (``snap ack``'s assertion stream)."""
        return self._call("POST", path, lambda: data, {"Content-Type": content_type})

    def get_bytes(self, path: str, query: Query | None = None) -> bytes:
        """A GET answered with a raw body (``snap known``'s assertions); errors stay
        envelopes."""
        target = f"{path}?{urlencode(query, doseq=True)}" if query else path
        result = self._call("GET", target, lambda: None, {}, raw=True)
        assert isinstance(result.result, bytes)
        return result.result

    def install_local(self, path: Path, fields: Mapping[str, str]) -> str:
        """Install ``path`` by naming it: usersnapd, the same user on this machine, copies
        it in the kernel, which costs a fraction of sending its bytes through the socket
        (docs/benchmarks.md).  Returns the change id."""
        return self.post_form("/v2/snaps", {**fields, LOCAL_FILE_FIELD: str(path.resolve())})

    def post_form(self, path: str, fields: Mapping[str, str]) -> str:
        """POST text ``fields`` as ``multipart/form-data`` with no file, as ``snap try``
        does; returns the change id."""
        boundary = os.urandom(30).hex()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        body = b"".join(_form_fields(boundary, fields)) + f"--{boundary}--\r\n".encode()
        result = self._call("POST", path, lambda: body, headers)
        if result.change is None:
            raise DaemonError(f"usersnapd sent a sync response to POST {path}")
        return result.change

    def wait_change(
        self,
        change_id: str,
        *,
        on_progress: Callable[[dict[str, object]], None] | None = None,
        poll: float = 0.1,
    ) -> dict[str, object]:
        """Wait until the change is ready; one that did not end ``Done`` raises its ``err``.

        usersnapd holds each GET until the change is ready (``usersnap-wait``), so the
        end is seen at once; with ``on_progress`` it answers every ``poll`` seconds so
        that progress can be shown.
        """
        wait = poll if on_progress is not None else _LONG_WAIT
        path = f"/v2/changes/{quote(change_id, safe='')}"
        while True:
            change = self.get(path, {CHANGE_WAIT_PARAM: f"{wait:g}"})
            if not isinstance(change, dict):
                raise DaemonError(f"usersnapd sent a malformed change {change_id}")
            if on_progress is not None:
                on_progress(change)
            if change.get("ready") is True:
                status = change.get("status")
                if status == "Done":
                    return change
                err = change.get("err")
                if isinstance(err, str) and err:
                    raise UsersnapError(err)
                raise UsersnapError(f'change finished in status "{status}" with no error message')

    def _call(
        self, method: str, target: str, body: Callable[[], _Body], headers: dict[str, str],
        *, raw: bool = False,
    ) -> Result:
        """One exchange; retried once when a kept-alive connection turns out to be closed
        (the daemon drops idle ones), since then the request was never read."""
        reused = self._conn.sock is not None
        while True:
            try:
                response = self._conn.exchange(method, target, body(), headers)
            except _Disconnected as err:
                self._conn.close()
                if reused:
                    reused = False
                    continue
                raise self._unreachable(err) from err
            except (BrokenPipeError, ConnectionResetError) as err:
                self._conn.close()
                if reused:
                    reused = False
                    continue
                raise self._unreachable(err) from err
            except (OSError, ValueError) as err:
                self._conn.close()
                raise self._unreachable(err) from err
            if not response.keep:
                self._conn.close()
            if raw and response.status == 200:
                return Result(response.data)
            return _decode(response.status, response.data)

    def _unreachable(self, err: Exception) -> DaemonError:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        reason = reason or type(err).__name__
        return DaemonError(f"cannot communicate with usersnapd at {self.socket_path}: {reason}")


def _part(boundary: str, name: str) -> bytes:
    return f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()


def _form_fields(boundary: str, fields: Mapping[str, str]) -> Iterator[bytes]:
    for name, value in fields.items():
        yield _part(boundary, name) + value.encode() + b"\r\n"


def _quote(text: str) -> str:
    """Go's mime/multipart escapeQuotes."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _decode(status: int, data: bytes) -> Result:
    try:
        envelope = json.loads(data)
    except ValueError:
        snippet = data[:60].decode("utf-8", "replace")
        raise DaemonError(
            f"cannot decode usersnapd's answer (HTTP {status}): {snippet!r}"
        ) from None
    if not isinstance(envelope, dict):
        raise DaemonError(f"usersnapd sent a malformed answer (HTTP {status})")
    kind = envelope.get("type")
    if kind == "sync":
        return Result(envelope.get("result"))
    if kind == "async":
        change = envelope.get("change")
        if status != 202 or not isinstance(change, str) or not change:
            raise DaemonError(f"usersnapd sent a malformed async answer (HTTP {status})")
        return Result(None, change)
    if kind == "error":
        raise _error(status, envelope.get("result"))
    raise DaemonError(f"usersnapd sent an answer of unknown type {kind!r} (HTTP {status})")


def _error(status: int, result: object) -> UsersnapError:
    if not isinstance(result, dict):
        return DaemonError(f"usersnapd sent a malformed error (HTTP {status})")
    message = result.get("message")
    if not isinstance(message, str) or not message:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = str(status)
        message = f'server error: "{reason}"'
    kind = result.get("kind")
    cls = ERROR_KINDS.get(kind, UsersnapError) if isinstance(kind, str) else UsersnapError
    return cls(message, value=result.get("value"))


def _answers(path: Path) -> bool:
    """Whether something listens on ``path``; only "nothing there" answers False."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    except TimeoutError:
        return True  # alive, just slow to accept
    except OSError as err:
        raise DaemonError(
            f"cannot communicate with usersnapd at {path}: {err.strerror or err}"
        ) from err
    finally:
        sock.close()
    return True


def _lock(fd: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise DaemonError("another usersnap is still starting usersnapd") from None
            time.sleep(_START_POLL)


def _last_line(log: Path, offset: int) -> str:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.strip():
            return line.strip()[:500]
    return ""


def _notice_mode(info: object) -> None:
    """The one-line notice of a daemon that serves snaps without FUSE, when it starts."""
    extra = info.get("usersnap") if isinstance(info, dict) else None
    if isinstance(extra, dict) and extra.get("served-from") == "extracted":
        print(f"notice: FUSE is not used ({extra.get('no-fuse-reason')}): snaps are served "
              "from extracted copies; see usersnap doctor", file=sys.stderr)


def _start(dirs: Dirs, argv: Sequence[str], timeout: float) -> None:
    import subprocess  # only when the daemon has to be started

    with dirs.daemon_log.open("ab") as log:
        offset = log.tell()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd="/"
        )
    deadline = time.monotonic() + timeout
    with Client(dirs.socket, timeout=timeout) as probe:
        while True:
            try:
                _notice_mode(probe.get("/v2/system-info"))
                return
            except DaemonError:
                pass
            except UsersnapError:
                return  # it answered with an error envelope: it is up
            status = proc.poll()
            if status is not None:
                why = _last_line(dirs.daemon_log, offset) or f"exit status {status}"
                raise DaemonError(f"usersnapd failed to start: {why}{SEE_DOCTOR}")
            if time.monotonic() > deadline:
                raise DaemonError(
                    f"usersnapd did not answer within {timeout:g} s (see {dirs.daemon_log})"
                    + SEE_DOCTOR
                )
            time.sleep(_START_POLL)


def connect(
    dirs: Dirs,
    *,
    start: bool = True,
    argv: Sequence[str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Client:
    """A client for the daemon of ``dirs``, starting it (``argv``, default
    ``python -m usersnap.daemon.main``) when nothing listens and ``start`` is true."""
    if _answers(dirs.socket):
        return Client(dirs.socket)
    if not start:
        raise DaemonError(f"usersnapd is not running (nothing listens on {dirs.socket})")
    dirs.ensure_runtime()
    dirs.ensure_root()
    fd = os.open(dirs.start_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _lock(fd, 2 * timeout)
        if not _answers(dirs.socket):
            _start(dirs, argv or [sys.executable, "-m", "usersnap.daemon.main"], timeout)
    finally:
        os.close(fd)
    return Client(dirs.socket)
