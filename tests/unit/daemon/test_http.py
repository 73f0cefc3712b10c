from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.lowlevel

from usersnap.daemon.envelope import Response, sync_response
from usersnap.daemon.http import BodyTooLargeError, Handler, Request, serve_http
from usersnap.errors import DaemonError, SnapNotFoundError


def sock_path() -> Path:
    return Path(os.environ["XDG_RUNTIME_DIR"]) / "t.sock"


@contextlib.asynccontextmanager
async def server(
    handler: Handler, *, mode: int = 0o600, idle_timeout: float = 60.0
) -> AsyncIterator[Path]:
    path = sock_path()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(serve_http, path, handler, mode=mode, idle_timeout=idle_timeout)
        )
        try:
            yield path
        finally:
            nursery.cancel_scope.cancel()


class Raw:
    """A hand-driven HTTP client, to send what well-behaved clients never send."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = bytearray()

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def _fill(self) -> None:
        with trio.fail_after(10):
            data = await self.stream.receive_some(65536)
        if not data:
            raise EOFError
        self.buf += data

    async def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            await self._fill()
        line, _, rest = bytes(self.buf).partition(b"\r\n")
        self.buf = bytearray(rest)
        return line

    async def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        status = int((await self._line()).split(b" ")[1])
        headers: dict[str, str] = {}
        while line := await self._line():
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(await self._line(), 16):
                body += await self._exactly(size)
                assert await self._line() == b""
            assert await self._line() == b""
        else:
            body = await self._exactly(int(headers["content-length"]))
        return status, headers, body

    async def closed(self) -> bool:
        """True when the server closes (EOF or reset) with nothing more to say."""
        try:
            await self._fill()
        except (EOFError, trio.BrokenResourceError):
            return True
        return False


@contextlib.asynccontextmanager
async def raw(path: Path) -> AsyncIterator[Raw]:
    stream = await trio.open_unix_socket(os.fspath(path))
    try:
        yield Raw(stream)
    finally:
        await stream.aclose()


async def echo(req: Request) -> Response:
    body = await req.read_body()
    return sync_response({
        "method": req.method, "path": req.path, "query": req.query, "headers": req.headers,
        "peer": [req.peer.pid, req.peer.uid, req.peer.gid], "body": body.decode(),
    })


def result(body: bytes) -> dict[str, object]:
    env = json.loads(body)
    assert isinstance(env, dict)
    res = env["result"]
    assert isinstance(res, dict)
    return res


async def test_get_with_query_and_peer_credentials() -> None:
    async with server(echo) as path, raw(path) as c:
        await c.send(b"GET /v2/snaps/na%6De?select=all&keys=&x=1&x=2 HTTP/1.1\r\n"
                     b"Host: localhost\r\nUser-Agent: snapd/2.57.6\r\n\r\n")
        status, headers, body = await c.response()
    assert status == 200
    assert headers["content-type"] == "application/json"
    res = result(body)
    assert res["method"] == "GET"
    assert res["path"] == "/v2/snaps/name"
    assert res["query"] == {"select": ["all"], "keys": [""], "x": ["1", "2"]}
    assert res["headers"] == {"host": "localhost", "user-agent": "snapd/2.57.6"}
    assert res["peer"] == [os.getpid(), os.getuid(), os.getgid()]


async def test_keep_alive_serves_several_requests_and_pipelining() -> None:
    async with server(echo) as path, raw(path) as c:
        for i in range(3):
            await c.send(f"GET /v2/r{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status, headers, body = await c.response()
            assert status == 200
            assert result(body)["path"] == f"/v2/r{i}"
            assert "connection" not in headers
        await c.send(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                     b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert result((await c.response())[2])["body"] == "abc"
        assert result((await c.response())[2])["path"] == "/b"


async def test_connection_close_is_honoured() -> None:
    async with server(echo) as path, raw(path) as c:
        await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = await c.response()
        assert status == 200
        assert headers["connection"] == "close"
        assert await c.closed()


async def test_http10_closes() -> None:
    async with server(echo) as path, raw(path) as c:
        await c.send(b"GET /x HTTP/1.0\r\n\r\n")
        assert (await c.response())[0] == 200
        assert await c.closed()


async def test_json_body_without_content_type() -> None:
    async with server(echo) as path, raw(path) as c:
        await c.send(b'PUT /v2/snaps/a/conf HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n'
                     b'{"k":"v"}')
        res = result((await c.response())[2])
    assert res["method"] == "PUT"
    assert json.loads(str(res["body"])) == {"k": "v"}


async def test_chunked_body_dechunked_across_slow_pieces() -> None:
    wire = (b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n")
    async with server(echo) as path, raw(path) as c:
        for i in range(0, len(wire), 7):
            await c.send(wire[i:i + 7])
            await trio.sleep(0.001)
        assert result((await c.response())[2])["body"] == "hello 0123456789"
        # still in sync for the next request
        await c.send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        assert result((await c.response())[2])["path"] == "/next"


@pytest.mark.parametrize(
    ("wire", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /x\r\n\r\n", 400),
        (b"GET  /x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /x HTTP/2.0\r\n\r\n", 505),
        (b"GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"G(T /x HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /x HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(101))
         + b"\r\n", 431),
        (b"GET /x HTTP/1.1\r\nHost: x\r\n"
         + b"".join(b"X%d: %b\r\n" % (i, b"v" * 8000) for i in range(9))
         + b"\r\n", 431),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\n folded\r\nHost: x\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\n\r\n", 400),  # RFC 9112 §3.2: HTTP/1.1 needs a Host
        (b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
         b"\r\n\r\n", 400),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
         400),
    ],
)
async def test_malformed_requests_are_refused_and_closed(wire: bytes, status: int) -> None:
    async with server(echo) as path, raw(path) as c:
        await c.send(wire)
        got, headers, body = await c.response()
        assert got == status
        assert headers["connection"] == "close"
        assert json.loads(body)["type"] == "error"
        assert await c.closed()


async def test_slow_client_is_dropped() -> None:
    async with server(echo, idle_timeout=0.3) as path, raw(path) as c:
        await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\nHo")
        with trio.fail_after(5):
            assert await c.closed()


async def test_trickling_head_is_bounded_as_a_whole() -> None:
    async with server(echo, idle_timeout=0.5) as path, raw(path) as c:
        with trio.fail_after(5):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                for _ in range(40):
                    await c.send(b"X")
                    await trio.sleep(0.1)
            assert await c.closed()


async def test_stalled_body_is_dropped() -> None:
    async with server(echo, idle_timeout=0.3) as path, raw(path) as c:
        await c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        with trio.fail_after(5):
            assert await c.closed()


async def test_idle_keep_alive_connection_is_closed() -> None:
    async with server(echo, idle_timeout=0.3) as path, raw(path) as c:
        await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await c.response())[0] == 200
        with trio.fail_after(5):
            assert await c.closed()


async def test_handler_crash_is_500_and_connection_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crashy(req: Request) -> Response:
        if req.path == "/crash":
            raise RuntimeError("kaboom")
        return await echo(req)

    async with server(crashy) as path, raw(path) as c:
        await c.send(b"POST /crash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        status, headers, body = await c.response()
        assert status == 500
        env = json.loads(body)
        assert env["type"] == "error"
        assert "kaboom" in env["result"]["message"]
        assert "connection" not in headers
        await c.send(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
        assert result((await c.response())[2])["path"] == "/fine"
    assert "POST /crash failed" in caplog.text


async def test_usersnap_error_from_handler_is_its_envelope() -> None:
    async def missing(req: Request) -> Response:
        raise SnapNotFoundError('snap "foo" not found', value="foo")

    async with server(missing) as path, raw(path) as c:
        await c.send(b"GET /v2/snaps/foo HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = await c.response()
    assert status == 404
    assert json.loads(body)["result"] == {
        "message": 'snap "foo" not found', "kind": "snap-not-found", "value": "foo",
    }


async def test_bad_response_header_is_500() -> None:
    async def bad(req: Request) -> Response:
        return Response(200, {"X-Evil": "a\r\nInjected: 1"}, b"")

    async with server(bad) as path, raw(path) as c:
        await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = await c.response()
    assert status == 500
    assert "injected" not in headers


async def test_body_limit_is_413() -> None:
    async def small(req: Request) -> Response:
        await req.read_body(limit=4)
        return sync_response(None)

    async with server(small) as path, raw(path) as c:
        await c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
        assert (await c.response())[0] == 413
        # the small unread body was drained: the connection is still usable
        await c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        assert (await c.response())[0] == 200
        await c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
        assert (await c.response())[0] == 413


async def test_unread_body_is_drained_for_keep_alive() -> None:
    async def ignore(req: Request) -> Response:
        return sync_response(None)

    async with server(ignore) as path, raw(path) as c:
        await c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n0\r\n\r\n")
        assert (await c.response())[0] == 200
        await c.send(b"GET /y HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await c.response())[0] == 200


async def test_expect_100_continue() -> None:
    async with server(echo) as path, raw(path) as c:
        await c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert await c._line() == b"HTTP/1.1 100 Continue"
        assert await c._line() == b""
        await c.send(b"hi")
        assert result((await c.response())[2])["body"] == "hi"


async def test_streamed_response_is_chunked_and_closes() -> None:
    async def stream(req: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                yield b"\x1e{\"n\":%d}\n" % i
                await trio.lowlevel.checkpoint()

        return Response(200, {"Content-Type": "application/json-seq"}, chunks())

    async with server(stream) as path, raw(path) as c:
        await c.send(b"GET /v2/logs HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await c.response()
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert headers["content-type"] == "application/json-seq"
        assert body == b'\x1e{"n":0}\n\x1e{"n":1}\n\x1e{"n":2}\n'
        assert await c.closed()


async def test_endless_stream_stops_when_client_hangs_up() -> None:
    stopped = trio.Event()

    async def follow(req: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    await trio.sleep(3600)
                    yield b"never"
            finally:
                stopped.set()

        return Response(200, {}, chunks())

    async with server(follow) as path:
        async with raw(path) as c:
            await c.send(b"GET /v2/logs?follow=true HTTP/1.1\r\nHost: x\r\n\r\n")
            await c._line()
        with trio.fail_after(5):
            await stopped.wait()


def multipart_body(boundary: str, fields: dict[str, str], files: dict[str, bytes]) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    for filename, data in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="snap"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def chunked(data: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n%b\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"


async def test_multipart_streams_files_to_disk(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    seen: dict[str, object] = {}
    boundary = "b" * 60
    # the boundary prefix inside the data must not confuse the parser
    blob = os.urandom(300_000) + b"\r\n--" + b"b" * 59 + b"x" + os.urandom(1000)

    async def upload(req: Request) -> Response:
        form = await req.multipart(uploads, max_file_bytes=1 << 20)
        seen["fields"] = form.fields
        seen["files"] = [(f.field, f.filename, f.size, f.path.read_bytes()) for f in form.files]
        seen["mode"] = stat.S_IMODE(form.files[0].path.stat().st_mode)
        for f in form.files:
            f.path.unlink()
        return sync_response(None)

    fields = {"action": "install", "snap-path": "./démo.snap", "dangerous": "true",
              "transaction": "per-snap"}
    payload = multipart_body(boundary, fields, {'démo "1".snap': blob, "b.snap": b""})
    payload = payload.replace('démo "1"'.encode(), 'démo \\"1\\"'.encode())
    async with server(upload) as path, raw(path) as c:
        await c.send(b"POST /v2/snaps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=" + boundary.encode()
                     + b"\r\n\r\n" + chunked(payload, 4093))
        assert (await c.response())[0] == 200
    assert seen["fields"] == fields
    assert seen["files"] == [("snap", 'démo "1".snap', len(blob), blob), ("snap", "b.snap", 0, b"")]
    assert seen["mode"] == 0o600
    assert list(uploads.iterdir()) == []


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (multipart_body("bnd", {}, {"a.snap": b"x" * 2000}), 413),
        (multipart_body("bnd", {"f": "v" * 70_000}, {}), 413),
        (multipart_body("bnd", {"a": "1"}, {"a.snap": b"xyz"})[:-12], 400),
        (b"no boundary here at all", 400),
        (b'--bnd\r\nContent-Disposition: form-data\r\n\r\nx\r\n--bnd--\r\n', 400),
    ],
)
async def test_multipart_errors_leave_no_files(tmp_path: Path, payload: bytes, status: int) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()

    async def upload(req: Request) -> Response:
        await req.multipart(uploads, max_file_bytes=1000)
        return sync_response(None)

    async with server(upload) as path, raw(path) as c:
        await c.send(b"POST /v2/snaps HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: multipart/form-data; boundary=bnd\r\n"
                     b"Content-Length: %d\r\n\r\n%b" % (len(payload), payload))
        assert (await c.response())[0] == status
    assert list(uploads.iterdir()) == []


async def test_multipart_needs_multipart_content_type(tmp_path: Path) -> None:
    async def upload(req: Request) -> Response:
        await req.multipart(tmp_path, max_file_bytes=1000)
        return sync_response(None)

    async with server(upload) as path, raw(path) as c:
        await c.send(b'POST /v2/snaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Content-Length: 2\r\n\r\n{}')
        status, _, body = await c.response()
    assert status == 400
    assert "multipart/form-data" in json.loads(body)["result"]["message"]


@pytest.mark.parametrize("mode", [0o600, 0o666])
async def test_socket_mode_and_removal(mode: int) -> None:
    async with server(echo, mode=mode) as path:
        assert stat.S_IMODE(path.stat().st_mode) == mode
        assert stat.S_ISSOCK(path.stat().st_mode)
    assert not path.exists()


async def test_stale_socket_is_replaced() -> None:
    path = sock_path()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(path))
    stale.close()  # bound, never listened: connect is refused
    async with server(echo) as p, raw(p) as c:
        await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await c.response())[0] == 200


async def test_live_server_is_not_replaced() -> None:
    async with server(echo) as path:
        with pytest.raises(DaemonError, match="another usersnapd is listening on"):
            await serve_http(path, echo)
        async with raw(path) as c:  # the first server is untouched
            await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await c.response())[0] == 200


async def test_refuses_a_non_socket_and_missing_parent() -> None:
    path = sock_path()
    path.write_text("precious")
    with pytest.raises(DaemonError, match="not a socket"):
        await serve_http(path, echo)
    assert path.read_text() == "precious"
    with pytest.raises(DaemonError, match="cannot listen on"):
        await serve_http(path.parent / "missing" / "s.sock", echo)


async def test_usersnap_error_inside_a_handler_nursery_keeps_its_envelope() -> None:
    async def nested(req: Request) -> Response:
        async def fail() -> None:
            raise SnapNotFoundError('snap "foo" not found')

        async with trio.open_nursery() as nursery:
            nursery.start_soon(fail)
        return sync_response(None)

    async with server(nested) as path, raw(path) as c:
        await c.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = await c.response()
    assert status == 404
    assert json.loads(body)["result"]["kind"] == "snap-not-found"


async def test_built_request_for_in_process_handlers(tmp_path: Path) -> None:
    req = Request.build("PUT", "/v2/snaps/a/conf?keys=", body=b'{"k":1}')
    assert (req.method, req.path, req.query) == ("PUT", "/v2/snaps/a/conf", {"keys": [""]})
    assert req.peer.uid == os.getuid()
    assert await req.read_body() == b'{"k":1}'
    with pytest.raises(BodyTooLargeError):
        await Request.build("POST", "/x", body=b"12345").read_body(limit=4)
    form = await Request.build(
        "POST", "/v2/snaps", headers={"Content-Type": 'multipart/form-data; boundary="q"'},
        body=multipart_body("q", {"action": "install"}, {"x.snap": b"data"}),
    ).multipart(tmp_path, max_file_bytes=10)
    assert form.fields == {"action": "install"}
    assert [(f.filename, f.path.read_bytes()) for f in form.files] == [("x.snap", b"data")]
    with pytest.raises(ValueError, match="malformed request target"):
        Request.build("GET", "relative")
