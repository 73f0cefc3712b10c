"""What most commands need: the paths, a daemon connection, and waiting on changes."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from usersnap.client import Client, connect
from usersnap.dirs import Dirs
from usersnap.errors import DaemonError


def daemon(dirs: Dirs | None = None) -> Client:
    """A client of this root's usersnapd, starting the daemon when none answers."""
    return connect(dirs or Dirs.from_env())


def start(client: Client, path: str, body: dict[str, object]) -> str:
    """POST an action that snapd answers asynchronously; return the change id."""
    result = client.post(path, body)
    if not result.change:
        raise DaemonError(f"expected an asynchronous answer from POST {path}")
    return result.change


def add_no_wait(parser: argparse.ArgumentParser) -> None:
    """snap's ``--no-wait``, for every command that makes a change (see :func:`wait`)."""
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait for the operation to finish but just print the change id")


def wait(client: Client, change_id: str, *, no_wait: bool = False) -> dict[str, Any] | None:
    """Wait for a change like snap does; with --no-wait print its id and return None."""
    if no_wait:
        print(change_id)
        return None
    spinner = Spinner() if sys.stdout.isatty() else None
    try:
        return client.wait_change(change_id, on_progress=spinner.show if spinner else None)
    finally:
        if spinner:
            spinner.clear()


class Spinner:
    """One status line, rewritten in place, showing the task in progress (TTY only)."""

    FRAMES = "|/-\\"

    def __init__(self) -> None:
        self._n = 0
        self._shown = False

    def show(self, change: dict[str, Any]) -> None:
        doing = [t for t in change.get("tasks", []) if t.get("status") == "Doing"]
        if not doing:
            return
        task = doing[0]
        progress = task.get("progress") or {}
        done, total = int(progress.get("done", 0)), int(progress.get("total", 1))
        self._line(str(task.get("summary", "")), done, total)

    def transfer(self, label: str) -> Callable[[int, int], None]:
        """A progress callback for an upload, shown at most every 0.1 s."""
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1 or done >= total:
                last[0] = now
                self._line(label, done, total)

        return progress

    def _line(self, text: str, done: int, total: int) -> None:
        if total > 1:
            width = 20
            filled = width * done // max(total, 1)
            bar = f" [{'#' * filled}{'.' * (width - filled)}] {100 * done // total}%"
            text = text[: 76 - len(bar)] + bar
        self._n += 1
        sys.stdout.write(f"\r{self.FRAMES[self._n % 4]} {text[:76]}\x1b[K")
        sys.stdout.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            sys.stdout.write("\r\x1b[K")
            sys.stdout.flush()
