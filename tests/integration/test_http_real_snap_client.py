"""The real ``snap`` 2.57.6 client against :func:`serve_http` (rest-api.md §1–§4.3).

A fake handler plays the daemon; what is under test is the wire: keep-alive, the
chunked multipart upload of ``snap install``, the 202 async contract and change polling.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.http_server import serving
from tests.helpers.snapd_oracle import ORACLE_ENV, snap_binary
from usersnap.daemon.envelope import Response, async_response, error_response, sync_response
from usersnap.daemon.http import Request
from usersnap.errors import NotFoundError

pytestmark = pytest.mark.requires_snapd

DEMO = {
    "name": "demo", "version": "1.0", "revision": "x1", "status": "active", "type": "app",
    "confinement": "strict", "id": "", "summary": "demo", "description": "demo",
    "install-date": "2026-11-22T04:39:01Z",
}


@dataclass
class FakeDaemon:
    """Just enough of usersnapd for version, list and install."""

    uploads: Path
    requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = field(
        default_factory=list
    )
    upload: dict[str, object] = field(default_factory=dict)
    polls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, req: Request) -> Response:
        with self.lock:
            self.requests.append((req.method, req.path, req.query, req.headers))
        route = (req.method, req.path)
        if route == ("GET", "/v2/system-info"):
            return sync_response({
                "version": "2.57.6+usersnap", "series": "16", "on-classic": True,
                "os-release": {"id": "debian", "version-id": "12"}, "kernel-version": "6.1-fake",
            })
        if route == ("GET", "/v2/snaps"):
            wanted = req.query.get("snaps", [""])[0].split(",")
            return sync_response([DEMO] if wanted == [""] or "demo" in wanted else [])
        if route == ("POST", "/v2/snaps"):
            form = await req.multipart(self.uploads, max_file_bytes=1 << 30)
            self.upload = {
                "fields": form.fields,
                "files": [(f.field, f.filename, f.path.read_bytes()) for f in form.files],
                "transfer-encoding": req.headers.get("transfer-encoding"),
            }
            for f in form.files:
                f.path.unlink()
            return async_response("7")
        if route == ("GET", "/v2/changes/7"):
            self.polls += 1
            done = self.polls > 1
            return sync_response({
                "id": "7", "kind": "install-snap", "summary": 'Install "demo" snap from file',
                "status": "Done" if done else "Doing", "ready": done,
                "spawn-time": "2026-11-22T04:39:01.5Z",
                **({"ready-time": "2026-11-22T04:39:02Z"} if done else {}),
                "tasks": [{
                    "id": "1", "kind": "mount-snap", "summary": 'Mount snap "demo" (x1)',
                    "status": "Done" if done else "Doing",
                    "progress": {"label": "", "done": 1 if done else 0, "total": 1},
                    "spawn-time": "2026-11-22T04:39:01.5Z",
                }],
                "data": {"snap-name": "demo", "snap-names": ["demo"]},
            })
        return error_response(NotFoundError("not found"))


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeDaemon, dict[str, str]]]:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    daemon = FakeDaemon(uploads)
    sock = Path(os.environ["XDG_RUNTIME_DIR"]) / "usersnapd.socket"
    root = tmp_path / "snaproot"
    (root / "run").mkdir(parents=True)
    (root / "snap" / "bin").mkdir(parents=True)
    (root / "run" / "snapd.socket").symlink_to(sock)
    env = {
        **os.environ, **ORACLE_ENV,
        "SNAPPY_GLOBAL_ROOT": str(root),
        "SNAPD_LAST_WARNING_TIMESTAMP_FILENAME": str(tmp_path / "warnings.json"),
        "PATH": f"{root / 'snap' / 'bin'}:{os.environ['PATH']}",
    }
    with serving(sock, daemon):
        yield daemon, env


def snap(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    binary = snap_binary()
    assert binary is not None
    return subprocess.run(
        [str(binary), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=60, check=False,
    )


def test_snap_version(fake: tuple[FakeDaemon, dict[str, str]]) -> None:
    _, env = fake
    proc = snap(env, "version")
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert lines[0][0] == "snap"
    assert lines[1:] == [
        ["snapd", "2.57.6+usersnap"], ["series", "16"], ["debian", "12"], ["kernel", "6.1-fake"],
    ]


def test_snap_list(fake: tuple[FakeDaemon, dict[str, str]]) -> None:
    daemon, env = fake
    proc = snap(env, "list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Name  Version  Rev  Tracking  Publisher  Notes",
        "demo  1.0      x1   -         -          -",
    ]
    assert proc.stderr == ""
    method, path, _, headers = daemon.requests[-1]
    assert (method, path) == ("GET", "/v2/snaps")
    assert headers["user-agent"].startswith("snapd/2.57.6")
    assert "authorization" not in headers


def test_snap_list_unknown_is_an_error(fake: tuple[FakeDaemon, dict[str, str]]) -> None:
    _, env = fake
    proc = snap(env, "list", "nope")
    assert proc.returncode == 1
    assert proc.stderr == "error: no matching snaps installed\n"


def test_snap_install_dangerous_uploads_intact(
    fake: tuple[FakeDaemon, dict[str, str]], tmp_path: Path
) -> None:
    daemon, env = fake
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "demo_1.0_all.snap").write_bytes(blob)
    proc = snap(env, "install", "--dangerous", "./demo_1.0_all.snap", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "demo 1.0 installed\n"
    assert proc.stderr == ""
    assert daemon.upload["transfer-encoding"] == "chunked"
    assert daemon.upload["fields"] == {
        "action": "install", "snap-path": "./demo_1.0_all.snap", "dangerous": "true",
        "transaction": "per-snap",
    }
    assert daemon.upload["files"] == [("snap", "demo_1.0_all.snap", blob)]
    assert daemon.polls == 2
    routes = [(m, p) for m, p, _, _ in daemon.requests]
    assert routes[-4:] == [
        ("POST", "/v2/snaps"), ("GET", "/v2/changes/7"), ("GET", "/v2/changes/7"),
        ("GET", "/v2/snaps"),
    ]
    assert daemon.requests[-1][2] == {"snaps": ["demo"]}


def test_not_found_error_reaches_the_user(fake: tuple[FakeDaemon, dict[str, str]]) -> None:
    _, env = fake
    proc = snap(env, "changes")
    assert proc.returncode == 1
    assert proc.stderr == "error: not found\n"
