"""Snap cookies on disk: ``<root>/cookie/snap.NAME`` (snapd's /var/lib/snapd/cookie).

The daemon keeps the cookie -> snap mapping in state.json; these files mirror it so that
``usersnap run`` can give an app its ``SNAP_COOKIE`` without asking the daemon, as
snap-confine reads snapd's.  Files are 0600 in a 0700 directory: a cookie is what lets
a process act as the snap through snapctl.  No trio: the launch path imports this.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from usersnap.dirs import Dirs


def cookie_dir(dirs: Dirs) -> Path:
    return dirs.root / "cookie"


def cookie_file(dirs: Dirs, snap: str) -> Path:
    return cookie_dir(dirs) / f"snap.{snap}"


def read_cookie(dirs: Dirs, snap: str) -> str:
    """The snap's cookie, "" when it has none (snapctl then answers "outside of a snap")."""
    try:
        return cookie_file(dirs, snap).read_text().strip()
    except OSError:
        return ""


def sync_cookies(dirs: Dirs, cookies: Mapping[str, str]) -> None:
    """Make the files match ``cookies`` (cookie -> snap): write new ones atomically,
    remove those of snaps that have none."""
    root = cookie_dir(dirs)
    root.mkdir(mode=0o700, exist_ok=True)
    wanted = {f"snap.{snap}": cookie for cookie, snap in cookies.items()}
    for name, cookie in wanted.items():
        path = root / name
        with contextlib.suppress(OSError):
            if path.read_text() == cookie:
                continue
        tmp = root / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, cookie.encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    for entry in root.iterdir():
        if entry.name not in wanted:
            entry.unlink(missing_ok=True)
