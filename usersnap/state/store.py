"""Persist :class:`~usersnap.state.model.State` so that a crash leaves old or new, never half.

The file is replaced atomically (write a temp file in the same directory, fsync, rename,
fsync the directory).  Everything else on disk (blobs, data directories) is derived from
this file: :func:`usersnap.ops.recover.recover` deletes what it does not reference.
"""

from __future__ import annotations

import json
from pathlib import Path

from usersnap.state.atomic import StateError, write_atomic
from usersnap.state.model import State, from_json, to_json


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
