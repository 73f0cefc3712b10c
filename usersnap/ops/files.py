"""On-disk effects of installing, reverting and removing revisions.

Every function here is idempotent and safe to repeat after a crash: the state file is
the truth, and :mod:`usersnap.ops.recover` replays the derived pieces from it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError


class FilesError(UsersnapError):
    """A snap's files or data directories cannot be created, copied or removed."""


def _data_roots(dirs: Dirs, name: str) -> tuple[Path, Path]:
    """The two per-snap data trees: system data ($SNAP_DATA) and user data ($SNAP_USER_DATA)."""
    return dirs.data_dir(name), dirs.user_data_dir(name)


def ensure_data_dirs(dirs: Dirs, name: str, revision: str) -> None:
    """Create REV/ and common/ in both data trees (snapd creates them 0755)."""
    try:
        for root in _data_roots(dirs, name):
            for sub in (revision, "common"):
                (root / sub).mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as err:
        raise FilesError(f"cannot create data directory {err.filename}: {err.strerror}") from err


def copy_data(dirs: Dirs, name: str, old: str, new: str) -> None:
    """Copy $SNAP_DATA and $SNAP_USER_DATA of ``old`` to ``new`` like snapd's copySnapData.

    The copy goes to a temporary sibling and is renamed into place, so a crash leaves
    either no ``new`` directory or a complete one; ``common`` is never copied.
    """
    if old == new:
        return
    for root in _data_roots(dirs, name):
        src, dst = root / old, root / new
        if not src.is_dir():
            continue
        tmp = root / f".{new}.copying"
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp, symlinks=True, copy_function=shutil.copy2)
            if dst.exists():
                trash = root / f".{new}.old"
                shutil.rmtree(trash, ignore_errors=True)
                dst.rename(trash)
                tmp.rename(dst)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                tmp.rename(dst)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise FilesError(f"cannot copy snap {name!r} data: {err}") from err


def set_current_symlinks(dirs: Dirs, name: str, revision: str) -> None:
    """Point ``current`` at ``revision`` in both data trees, atomically (rename over)."""
    for root in _data_roots(dirs, name):
        if not root.is_dir():
            continue
        link = root / "current"
        tmp = root / ".current.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            tmp.symlink_to(revision)
            os.replace(tmp, link)
        except OSError as err:
            raise FilesError(f"cannot update {link}: {err.strerror}") from err


def remove_revision_data(dirs: Dirs, name: str, revision: str) -> None:
    for root in _data_roots(dirs, name):
        shutil.rmtree(root / revision, ignore_errors=True)


def remove_all_data(dirs: Dirs, name: str) -> None:
    for root in _data_roots(dirs, name):
        shutil.rmtree(root, ignore_errors=True)


def remove_blob(dirs: Dirs, name: str, revision: str) -> None:
    dirs.blob(name, revision).unlink(missing_ok=True)
