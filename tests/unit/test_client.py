from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.http_server import serving
from usersnap.client import Client, Result, connect
from usersnap.daemon.envelope import Response, async_response, error_response, sync_response
from usersnap.daemon.http import Request
from usersnap.dirs import Dirs
from usersnap.errors import (
    DaemonError,
    NotInstalledError,
    SnapNotFoundError,
    UsersnapError,
)


def sock_path() -> Path:
    return Path(os.environ["XDG_RUNTIME_DIR"]) / "c.sock"


class Fake:
    """Answers by path; records what arrived."""

    def __init__(self, uploads: Path) -> None:
        self.uploads = uploads
        self.seen: list[tuple[str, str, dict[str, list[str]], dict[str, str], bytes]] = []
        self.upload: dict[str, object] = {}
        self.changes: dict[str, list[dict[str, object]]] = {}

    async def __call__(self, req: Request) -> Response:
        if req.path == "/v2/snaps" and req.method == "POST" and "multipart" in req.headers.get(
            "content-type", ""
        ):
            form = await req.multipart(self.uploads, max_file_bytes=1 << 30)
            self.upload = {
                "fields": form.fields, "te": req.headers.get("transfer-encoding"),
                "files": [(f.field, f.filename, f.size, f.path.read_bytes()) for f in form.files],
            }
            return async_response("9")
        body = await req.read_body()
        self.seen.append((req.method, req.path, req.query, req.headers, body))
        p = req.path
        if p == "/v2/echo":
            return sync_response({"query": req.query, "body": body.decode()})
        if p == "/v2/async":
            return async_response("5")
        if p == "/v2/missing":
            return error_response(SnapNotFoundError('snap "x" not found', value="x"))
        if p == "/v2/not-installed":
            return error_response(NotInstalledError('snap "x" is not installed'))
        if p == "/v2/odd-kind":
            return Response(403, {}, json.dumps({"type": "error", "result": {
                "message": "cannot do that", "kind": "login-required"}}).encode())
        if p == "/v2/empty-message":
            return Response(500, {}, b'{"type":"error","result":{}}')
        if p == "/v2/not-json":
            return Response(404, {}, b"404 page not found\nsecond line")
        if p == "/v2/bad-async":
            return Response(200, {}, b'{"type":"async","change":"3"}')
        if p == "/v2/no-type":
            return Response(200, {}, b'{"result":1}')
        if p.startswith("/v2/changes/"):
            return sync_response(self.changes[p.rsplit("/", 1)[1]].pop(0))
        return sync_response(None)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[Fake, Client]]:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    handler = Fake(uploads)
    with serving(sock_path(), handler, idle_timeout=0.5), Client(sock_path(), timeout=10) as c:
        yield handler, c


def test_get_sync_with_query(fake: tuple[Fake, Client]) -> None:
    _, c = fake
    got = c.get("/v2/echo", {"select": "all", "keys": "", "names": ["a", "b"]})
    assert got == {"query": {"select": ["all"], "keys": [""], "names": ["a", "b"]}, "body": ""}


def test_post_json_and_async(fake: tuple[Fake, Client]) -> None:
    handler, c = fake
    assert c.post("/v2/echo", {"action": "remove"}) == Result(
        {"query": {}, "body": '{"action": "remove"}'}
    )
    assert handler.seen[-1][3]["content-type"] == "application/json"
    assert c.post("/v2/async", {"action": "remove"}) == Result(None, "5")


def test_get_refuses_async(fake: tuple[Fake, Client]) -> None:
    _, c = fake
    with pytest.raises(DaemonError, match="async response to GET"):
        c.get("/v2/async")


def test_request_without_body(fake: tuple[Fake, Client]) -> None:
    handler, c = fake
    c.request("DELETE", "/v2/echo")
    assert handler.seen[-1][:2] == ("DELETE", "/v2/echo")
    assert handler.seen[-1][4] == b""


def test_errors_map_to_classes(fake: tuple[Fake, Client]) -> None:
    _, c = fake
    with pytest.raises(SnapNotFoundError) as info:
        c.get("/v2/missing")
    assert info.value.message == 'snap "x" not found'
    assert info.value.value == "x"
    with pytest.raises(NotInstalledError) as ni:
        c.get("/v2/not-installed")
    assert type(ni.value) is NotInstalledError
    with pytest.raises(UsersnapError) as odd:
        c.get("/v2/odd-kind")
    assert type(odd.value) is UsersnapError
    assert str(odd.value) == "cannot do that"
    with pytest.raises(UsersnapError, match='server error: "Internal Server Error"'):
        c.get("/v2/empty-message")


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("/v2/not-json", "cannot decode usersnapd's answer \\(HTTP 404\\)"),
        ("/v2/bad-async", "malformed async answer"),
        ("/v2/no-type", "unknown type None"),
    ],
)
def test_malformed_answers_are_one_line_daemon_errors(
    fake: tuple[Fake, Client], path: str, match: str
) -> None:
    _, c = fake
    with pytest.raises(DaemonError, match=match) as info:
        c.get(path)
    assert "\n" not in str(info.value)


def test_keep_alive_reuses_one_connection(fake: tuple[Fake, Client]) -> None:
    _, c = fake
    c.get("/v2/echo")
    sock = c._conn.sock
    assert sock is not None
    for _ in range(5):
        c.get("/v2/echo")
        c.post("/v2/async", {})
    assert c._conn.sock is sock


def test_reconnects_after_the_server_drops_an_idle_connection(fake: tuple[Fake, Client]) -> None:
    _, c = fake
    c.get("/v2/echo")
    first = c._conn.sock
    time.sleep(1.0)  # idle_timeout is 0.5 s
    assert c.post("/v2/async", {}) == Result(None, "5")
    assert c._conn.sock is not first


def test_unreachable_daemon() -> None:
    with pytest.raises(DaemonError, match=r"cannot communicate with usersnapd at .*: No such file"):
        Client(sock_path()).get("/v2/system-info")


def test_wait_change_polls_until_done(fake: tuple[Fake, Client]) -> None:
    handler, c = fake
    handler.changes["3"] = [
        {"id": "3", "status": "Doing", "ready": False},
        {"id": "3", "status": "Doing", "ready": False},
        {"id": "3", "status": "Done", "ready": True, "data": {"snap-name": "demo"}},
    ]
    progress: list[object] = []
    change = c.wait_change("3", on_progress=lambda ch: progress.append(ch["status"]), poll=0.01)
    assert change["data"] == {"snap-name": "demo"}
    assert progress == ["Doing", "Doing", "Done"]


def test_wait_change_failed(fake: tuple[Fake, Client]) -> None:
    handler, c = fake
    err = 'cannot perform the following tasks:\n- Mount snap "demo" (x1) (boom)'
    handler.changes["4"] = [{"id": "4", "status": "Error", "ready": True, "err": err}]
    with pytest.raises(UsersnapError) as info:
        c.wait_change("4", poll=0.01)
    assert str(info.value) == err
    handler.changes["6"] = [{"id": "6", "status": "Undone", "ready": True}]
    with pytest.raises(UsersnapError, match='change finished in status "Undone" with no error'):
        c.wait_change("6", poll=0.01)


FAKE_DAEMON = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import trio
    from usersnap.daemon.envelope import sync_response
    from usersnap.daemon.http import serve_http

    async def handler(req):
        return sync_response({"version": "fake", "pid": os.getpid()})

    with open(sys.argv[2], "a") as f:
        f.write(f"{os.getpid()}\\n")
    trio.run(serve_http, Path(sys.argv[1]), handler)
""")


def fake_daemon_argv(dirs: Dirs, tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_daemon.py"
    script.write_text(FAKE_DAEMON)
    return [sys.executable, str(script), str(dirs.socket), str(tmp_path / "pids")]


def kill_all(pids_file: Path) -> None:
    if not pids_file.exists():
        return
    for pid in map(int, pids_file.read_text().split()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)


def test_connect_without_start_fails() -> None:
    with pytest.raises(DaemonError, match="usersnapd is not running"):
        connect(Dirs.from_env(), start=False)


def test_connect_starts_one_daemon_for_racing_clients(tmp_path: Path) -> None:
    dirs = Dirs.from_env()
    argv = fake_daemon_argv(dirs, tmp_path)
    pids = tmp_path / "pids"
    results: list[object] = []

    def race() -> None:
        try:
            with connect(dirs, argv=argv) as c:
                results.append(c.get("/v2/system-info"))
        except Exception as err:
            results.append(err)

    try:
        threads = [threading.Thread(target=race) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(pids.read_text().split()) == 1
        (pid,) = map(int, pids.read_text().split())
        assert results == [{"version": "fake", "pid": pid}] * 4
        assert os.getsid(pid) == pid  # detached into its own session
        with connect(dirs, argv=["/bin/false"]) as c:  # already running: no spawn
            assert c.get("/v2/system-info") == {"version": "fake", "pid": pid}
    finally:
        kill_all(pids)


def test_connect_replaces_a_dead_daemons_socket(tmp_path: Path) -> None:
    dirs = Dirs.from_env()
    argv = fake_daemon_argv(dirs, tmp_path)
    try:
        connect(dirs, argv=argv).close()
        kill_all(tmp_path / "pids")
        assert dirs.socket.exists()  # SIGKILL leaves a stale socket behind
        with connect(dirs, argv=argv) as c:
            assert c.get("/v2/system-info")
        assert len((tmp_path / "pids").read_text().split()) == 2
    finally:
        kill_all(tmp_path / "pids")


def test_connect_reports_why_the_daemon_died() -> None:
    dirs = Dirs.from_env()
    dirs.ensure_root()
    dirs.daemon_log.write_text("old run: fine\n")
    argv = [sys.executable, "-c", "import sys; print('error: cannot mount /x'); sys.exit(3)"]
    with pytest.raises(DaemonError, match=r"^usersnapd failed to start: error: cannot "
                                          r"mount /x; see usersnap doctor$"):
        connect(dirs, argv=argv)
    with pytest.raises(DaemonError, match=r"^usersnapd failed to start: exit status 4; "
                                          r"see usersnap doctor$"):
        connect(dirs, argv=[sys.executable, "-c", "raise SystemExit(4)"])


def test_connect_times_out_on_a_silent_daemon(tmp_path: Path) -> None:
    dirs = Dirs.from_env()
    proc_file = tmp_path / "pids"
    argv = [sys.executable, "-c",
            f"import os, time; open({str(proc_file)!r}, 'a').write(f'{{os.getpid()}}\\n'); "
            "time.sleep(60)"]
    try:
        with pytest.raises(DaemonError, match=r"did not answer within 0\.5 s \(see .*\.log\)"):
            connect(dirs, argv=argv, timeout=0.5)
    finally:
        kill_all(proc_file)


def test_daemon_module_default_argv_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[list[str]] = []

    class NoPopen:
        def __init__(self, argv: list[str], **kwargs: object) -> None:
            spawned.append(argv)

        def poll(self) -> int:
            return 1

    monkeypatch.setattr(subprocess, "Popen", NoPopen)
    with pytest.raises(DaemonError, match="failed to start"):
        connect(Dirs.from_env())
    assert spawned == [[sys.executable, "-m", "usersnap.daemon.main"]]


def test_client_does_not_import_trio() -> None:
    code = "import sys, usersnap.client; sys.exit('trio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60, check=False).returncode == 0
