from __future__ import annotations

import json
import os

from tests.unit.daemon.test_snapctl import INFO
from usersnap.daemon.api import SnapctlApi
from usersnap.daemon.hooks import Context
from usersnap.daemon.http import Peer, Request
from usersnap.meta.model import SnapInfo
from usersnap.state.config import Transaction


class FakeManager:
    def __init__(self) -> None:
        self.committed: list[Context] = []
        self.config: dict[str, object] = {"k": "v"}

    def context_for(self, context_id: str) -> Context | None:
        return Context(context_id, "hello", "x1") if context_id == "app-cookie" else None

    def connected(self, snap: str, name: str) -> bool:
        return False

    def snap_info(self, snap: str, revision: str) -> SnapInfo:
        return INFO

    def config_transaction(self, context: Context) -> Transaction:
        if context.config is None:
            context.config = Transaction(context.snap, self.config)
        return context.config

    async def commit_context(self, context: Context) -> None:
        self.committed.append(context)


async def call(api: SnapctlApi, body: object, *, uid: int | None = None,
               path: str = "/v2/snapctl") -> tuple[int, dict[str, object]]:
    peer = Peer(os.getpid(), os.getuid() if uid is None else uid, os.getgid())
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await api.handle(Request.build("POST", path, body=raw, peer=peer))
    assert isinstance(response.body, bytes)
    return response.status, json.loads(response.body)


async def test_app_context_runs_and_commits_at_once() -> None:
    manager = FakeManager()
    api = SnapctlApi(manager, os.getuid())  # type: ignore[arg-type]
    status, env = await call(api, {"context-id": "app-cookie", "args": ["set", "a=1"]})
    assert (status, env["type"], env["result"]) == (200, "sync", {"stdout": "", "stderr": ""})
    assert manager.committed and manager.committed[0].config is not None
    assert manager.committed[0].config.doc == {"k": "v", "a": 1}
    status, env = await call(api, {"context-id": "app-cookie", "args": ["get", "k"]})
    assert env["result"] == {"stdout": "v\n", "stderr": ""}


async def test_unsuccessful_is_http_200_with_the_exit_code() -> None:
    api = SnapctlApi(FakeManager(), os.getuid())  # type: ignore[arg-type]
    status, env = await call(api, {"context-id": "app-cookie", "args": ["is-connected", "home"]})
    assert status == 200 and env["type"] == "error"
    assert env["result"] == {"message": "unsuccessful with exit code: 1", "kind": "unsuccessful",
                             "value": {"stdout": "", "stderr": "", "exit-code": 1}}


async def test_errors() -> None:
    api = SnapctlApi(FakeManager(), os.getuid())  # type: ignore[arg-type]
    status, env = await call(api, {"context-id": "nope", "args": ["get", "k"]})
    assert status == 400
    assert env["result"] == {"message": 'error running snapctl: cannot invoke snapctl operation '
                                        'commands (here "get") from outside of a snap'}
    status, env = await call(api, b"{not json")
    assert status == 400 and str(env["result"]["message"]).startswith(  # type: ignore[index]
        "cannot decode snapctl request:")
    status, env = await call(api, {"context-id": "x", "args": []})
    assert (status, env["result"]) == (400, {"message": "snapctl cannot run without args"})
    status, _ = await call(api, {}, path="/v2/snaps")
    assert status == 404


async def test_only_the_owner_may_use_the_socket() -> None:
    api = SnapctlApi(FakeManager(), 4242)  # type: ignore[arg-type]
    status, env = await call(api, {"context-id": "app-cookie", "args": ["get", "k"]}, uid=1000)
    assert status == 403
    assert env["result"] == {"message": "cannot use snapctl with uid 1000: usersnapd serves "
                                        "uid 4242", "kind": "login-required"}
