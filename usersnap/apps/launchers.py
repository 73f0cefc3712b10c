"""Launchers in ``<root>/bin``: usersnap's /snap/bin.

snapd names a launcher ``NAME`` for the app named like the snap and ``NAME.APP``
otherwise; services get none.  The script text comes from ``wrappers/launcher.sh.in``.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.state.atomic import write_atomic

TEMPLATE = Path(__file__).resolve().parents[2] / "wrappers" / "launcher.sh.in"
#: Where ``import usersnap`` finds this package (the launcher runs Python without site).
SOURCE = Path(__file__).resolve().parents[2]


def launcher_name(snap: str, app: str) -> str:
    return snap if app == snap else f"{snap}.{app}"


def render_launcher(app_id: str, root: Path, python: str) -> str:
    text = TEMPLATE.read_text()
    return (text.replace("@APP@", app_id)
                .replace("@ROOT@", shlex.quote(str(root)))
                .replace("@SRC@", shlex.quote(str(SOURCE)))
                .replace("@PYTHON@", shlex.quote(python)))


def sync_launchers(dirs: Dirs, apps_by_snap: Mapping[str, Iterable[str]]) -> None:
    """Make ``dirs.bin`` hold exactly the launchers for ``apps_by_snap`` (non-service apps)."""
    dirs.bin.mkdir(parents=True, exist_ok=True)
    wanted = {
        launcher_name(snap, app): f"{snap}.{app}" if app != snap else snap
        for snap, apps in apps_by_snap.items() for app in apps
    }
    for entry in dirs.bin.iterdir():
        if entry.name not in wanted and entry.is_file() and _is_ours(entry):
            entry.unlink()
    for name, app_id in wanted.items():
        text = render_launcher(app_id, dirs.root, sys.executable).encode()
        path = dirs.bin / name
        if not path.exists() or path.read_bytes() != text:
            write_atomic(path, text, mode=0o755)


def _is_ours(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return b"usersnap launcher" in f.read(200)
    except OSError:
        return False


def bin_on_path(dirs: Dirs, path_env: str | None = None) -> bool:
    path_env = os.environ.get("PATH", "") if path_env is None else path_env
    return any(Path(p) == dirs.bin for p in path_env.split(os.pathsep) if p)


def path_hint(dirs: Dirs) -> str:
    """snap's warning when /snap/bin is missing from PATH, for usersnap's bin directory."""
    return (
        f"Warning: {dirs.bin} was not found in your $PATH. Add it to run snap apps by name:\n"
        f'  export PATH="{dirs.bin}:$PATH"'
    )
