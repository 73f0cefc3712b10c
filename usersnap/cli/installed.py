"""The current revision of an installed snap, as the launcher (and ``debug layout``) see it.

Lean like ``usersnap run`` itself (no trio, no FUSE session): the daemon names the current
revision (starting it, and so the mount, when needed) and snap.yaml is read through the
FUSE mount, so what is planned is exactly what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from usersnap.client import connect
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.meta.model import SnapInfo
from usersnap.meta.parse import parse_snap_yaml
from usersnap.sandbox.plan import base_name


@dataclass(frozen=True, slots=True)
class Installed:
    revision: str
    info: SnapInfo
    #: the installed base's tree in the mount, or None: the host stands in for it
    base_tree: Path | None


def load_installed(dirs: Dirs, snap_name: str, *, action: str = "run") -> Installed:
    """The current revision of ``snap_name``; ``action`` words the error for a broken one."""
    client = connect(dirs)
    snap = client.get(f"/v2/snaps/{snap_name}")
    assert isinstance(snap, dict)
    revision = str(snap["revision"])
    if snap.get("broken"):
        raise UsersnapError(f'cannot {action} snap "{snap_name}" (revision {revision}): '
                            f'{snap["broken"]}')
    tree = dirs.mount / snap_name / revision
    try:
        info = parse_snap_yaml((tree / "meta" / "snap.yaml").read_bytes())
    except OSError as err:
        raise UsersnapError(f"cannot read snap.yaml of {snap_name} {revision}: {err.strerror}"
                            ) from err
    base_tree = None
    base = base_name(info)
    if base and (dirs.mount / base / "current").is_dir():
        base_tree = (dirs.mount / base / "current").resolve()
    return Installed(revision, info, base_tree)
