"""Persist :class:`~usersnap.state.model.State` so that a crash leaves old or new, never half.

The file is replaced atomically (write a temp file in the same directory, fsync, rename,
fsync the directory).  Everything else on disk (blobs, data directories) is derived from
this file: :func:`usersnap.ops.recover.recover` deletes what it does not reference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from usersnap.errors import UsersnapError
from usersnap.state.model import State, from_json, to_json


class StateError(UsersnapError):
    """state.json cannot be read or written."""


def load_state(path: Path) -> State:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return State()
    except OSError as err:
        raise StateError(f"cannot read state {path}: {err.strerror}") from err
    try:
        return from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as err:
        raise StateError(f"cannot read state {path}: {err}") from err


def save_state(path: Path, state: State) -> None:
    write_atomic(path, json.dumps(to_json(state), indent=1).encode() + b"\n")


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StateError(f"cannot write {path}: {err.strerror}") from err
