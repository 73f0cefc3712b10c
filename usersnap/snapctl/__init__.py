"""The ``snapctl`` that sandboxes get: a static C client built by usersnapd (build.py).

Only the path lives here: the launch path imports it and must stay light.
"""

from __future__ import annotations

from pathlib import Path

from usersnap.dirs import Dirs


def snapctl_dir(dirs: Dirs) -> Path:
    """The directory bound at /usr/lib/snapd in sandboxes; holds just ``snapctl``."""
    return dirs.cache / "snapctl"
