"""Files replaced whole or not at all; apart from the state model, so that writing a
launcher (or a CLI that only checks PATH) does not import it."""

from __future__ import annotations

import os
from pathlib import Path

from usersnap.errors import UsersnapError

__all__ = ["StateError", "write_atomic"]


class StateError(UsersnapError):
    """state.json (or another file written atomically) cannot be read or written."""


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
