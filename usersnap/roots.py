"""Where a usersnap root and its runtime directory are, from the environment alone.

:meth:`usersnap.dirs.Dirs.from_env` wraps this in ``Path`` values; the cached launch path
(``sandbox.runcache``) uses the strings directly, before pathlib or dataclasses load.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def locate(env: Mapping[str, str]) -> tuple[str, str, str, int]:
    """``(root, runtime, home, uid)``.  Persistent data lives under ``USERSNAP_ROOT``
    (default ``$XDG_DATA_HOME/usersnap``); the runtime directory is per root so that two
    roots on one machine never share a daemon."""
    uid = os.getuid()
    home = env.get("HOME") or os.path.expanduser("~")
    data_home = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    default_root = os.path.abspath(os.path.join(data_home, "usersnap"))
    root = os.path.abspath(env.get("USERSNAP_ROOT") or default_root)
    if env.get("USERSNAP_RUNTIME_DIR"):
        runtime = os.path.abspath(env["USERSNAP_RUNTIME_DIR"])
    else:
        base = env.get("XDG_RUNTIME_DIR")
        top = os.path.join(base, "usersnap") if base else f"/tmp/usersnap-{uid}"
        if root == default_root:
            runtime = top
        else:
            runtime = os.path.join(top, _sha256(os.fsencode(root))[:12])
    return root, os.path.normpath(runtime), os.path.normpath(home), uid


def _sha256(data: bytes) -> str:
    """hashlib's sha256 without hashlib's OpenSSL start-up (4 ms of every launch)."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # CPython <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # CPython >= 3.12
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())
