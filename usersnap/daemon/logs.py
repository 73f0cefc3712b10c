"""Service logs: what journald keeps for snapd's services, in files usersnapd owns.

Each service has ``<root>/log/services/SNAP.APP.log``: one JSON object a line
(``{"t": epoch seconds, "sid": …, "pid": …, "m": …}``), rotated at :data:`MAX_BYTES` into
``.1`` … ``.KEEP`` so a chatty service cannot fill the disk.  ``sid`` is the service
(``snap.app``) for its own output and ``systemd`` for the supervisor's notes (started,
exited, restarted), as ``snap logs`` shows both.  ``/v2/logs`` serves the entries as
snapd does: ``application/json-seq`` records ``{"timestamp","message","sid","pid"}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import trio

from usersnap.daemon.envelope import json_dumps, rfc3339

MAX_BYTES = 1 << 20
KEEP = 3
#: a line longer than this is cut (journald's LineMax is 48 KiB)
LINE_MAX = 48 * 1024
_FOLLOW_POLL = 0.2


@dataclass(frozen=True, slots=True)
class Entry:
    when: float
    sid: str
    pid: int
    message: str

    def to_json(self) -> dict[str, object]:
        return {"timestamp": rfc3339(self.when), "message": self.message, "sid": self.sid,
                "pid": str(self.pid)}


def log_path(logs: Path, service: str) -> Path:
    return logs / "services" / f"{service}.log"


class LogWriter:
    """Appends entries to one service's file, rotating it when it grows past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, sid: str, pid: int, message: str, when: float | None = None) -> None:
        line = json.dumps({"t": time.time() if when is None else when, "sid": sid, "pid": pid,
                           "m": message[:LINE_MAX]}, ensure_ascii=False) + "\n"
        data = line.encode()
        with contextlib.suppress(FileNotFoundError):
            if self.path.stat().st_size + len(data) > self.max_bytes:
                self._rotate()
        with open(self.path, "ab") as f:
            f.write(data)

    def _rotate(self) -> None:
        for i in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            newer = self.path if i == 1 else self.path.with_name(f"{self.path.name}.{i - 1}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(newer, older)


def parse_line(line: bytes) -> Entry | None:
    try:
        obj = json.loads(line)
        return Entry(float(obj["t"]), str(obj["sid"]), int(obj["pid"]), str(obj["m"]))
    except (ValueError, KeyError, TypeError):
        return None  # a line cut by a crash


def _files(path: Path) -> list[Path]:
    """Oldest first."""
    rotated = sorted((p for p in path.parent.glob(f"{path.name}.*") if p.suffix[1:].isdigit()),
                     key=lambda p: -int(p.suffix[1:]))
    return [*rotated, path]


def read_entries(paths: Iterable[Path], n: int) -> list[Entry]:
    """The last ``n`` entries of all ``paths`` by time (``n < 0``: all of them)."""
    entries: list[Entry] = []
    for path in paths:
        for file in _files(path):
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                continue
            entries += (e for e in map(parse_line, data.splitlines()) if e is not None)
    entries.sort(key=lambda e: e.when)
    return entries if n < 0 else entries[-n:] if n else []


def record(entry: Entry) -> bytes:
    """One ``application/json-seq`` record."""
    return b"\x1e" + json_dumps(entry.to_json()) + b"\n"


async def follow(paths: list[Path], n: int) -> AsyncIterator[bytes]:
    """The last ``n`` entries, then new ones as they are written, until the client leaves.
    Files are polled: rotation shows as a new inode and the rest of the old file is read."""
    for entry in await trio.to_thread.run_sync(read_entries, paths, n):
        yield record(entry)
    offsets: dict[Path, tuple[int, int]] = {}
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            offsets[path] = (st.st_ino, st.st_size)
    while True:
        await trio.sleep(_FOLLOW_POLL)
        fresh: list[Entry] = []
        for path in paths:
            fresh += _read_new(path, offsets)
        fresh.sort(key=lambda e: e.when)
        for entry in fresh:
            yield record(entry)


def _read_new(path: Path, offsets: dict[Path, tuple[int, int]]) -> list[Entry]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    ino, offset = offsets.get(path, (st.st_ino, 0))
    out: list[Entry] = []
    if ino != st.st_ino:  # rotated: the rest of the old file is now .1
        with contextlib.suppress(FileNotFoundError), \
                open(path.with_name(f"{path.name}.1"), "rb") as f:
            f.seek(offset)
            out += (e for e in map(parse_line, f.read().splitlines()) if e)
        offset = 0
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    complete = data[: data.rfind(b"\n") + 1]
    out += (e for e in map(parse_line, complete.splitlines()) if e)
    offsets[path] = (st.st_ino, offset + len(complete))
    return out
