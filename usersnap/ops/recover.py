"""Bring the disk back in line with state.json after a crash (or any start).

state.json is committed atomically, so after a ``kill -9`` it holds either the state
before a change or the one after.  What a change created before its commit (a blob, a
copied data directory) or left to delete after it is garbage now; this removes it.
Launchers and ``current`` links are rebuilt by the manager from the same state.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.state.model import State

#: entries of a snap's data tree that are not revisions
_KEEP = {"common", "current"}


def recover(dirs: Dirs, state: State) -> list[str]:
    """Delete files no installed revision owns; return what was removed (for the log)."""
    removed: list[str] = []
    wanted_blobs = {
        dirs.blob(name, rev.revision).name
        for name, snap in state.snaps.items() for rev in snap.sequence
    }
    if dirs.snaps.is_dir():
        for entry in dirs.snaps.iterdir():
            if entry.name not in wanted_blobs:
                _remove(entry, removed)
    for tree in (dirs.root / "data", dirs.root / "user-data"):
        if not tree.is_dir():
            continue
        for snap_dir in tree.iterdir():
            snap = state.snaps.get(snap_dir.name)
            if snap is None:
                _remove(snap_dir, removed)
                continue
            revisions = {r.revision for r in snap.sequence}
            for entry in snap_dir.iterdir():
                if entry.name not in revisions and entry.name not in _KEEP:
                    _remove(entry, removed)
    return removed


def _remove(path: Path, removed: list[str]) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    removed.append(str(path))
