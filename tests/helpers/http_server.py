"""Run :func:`usersnap.daemon.http.serve_http` in a background thread for sync tests.

The sync client (and the real ``snap`` binary run with ``subprocess``) block, so the
server gets its own thread and its own ``trio.run``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio

from usersnap.daemon.http import Handler, serve_http


@contextlib.contextmanager
def serving(socket_path: Path, handler: Handler, **kwargs: Any) -> Iterator[Path]:
    """Serve ``handler`` on ``socket_path`` for the duration of the ``with`` block."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            state["scope"] = nursery.cancel_scope
            state["token"] = trio.lowlevel.current_trio_token()
            await nursery.start(functools.partial(serve_http, socket_path, handler, **kwargs))
            ready.set()

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as err:
            state["error"] = err
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="serve_http", daemon=True)
    thread.start()
    try:
        if not ready.wait(10):
            raise TimeoutError("serve_http did not start")
        if "error" in state:
            raise state["error"]
        yield socket_path
    finally:
        if "token" in state and thread.is_alive():
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(state["scope"].cancel, trio_token=state["token"])
        thread.join(10)
        if thread.is_alive():
            raise RuntimeError("serve_http thread did not stop")
        if "error" in state:
            raise state["error"]
