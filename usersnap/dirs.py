"""Every path usersnap uses, derived from one root and one runtime directory.

One :class:`Dirs` value is built at the edge (CLI, daemon, tests) and passed down;
nothing else reads the environment for paths.  Persistent data lives under
``USERSNAP_ROOT`` (default ``$XDG_DATA_HOME/usersnap``); sockets, the FUSE mount and
per-snap private /tmp live under the runtime directory, which is per-root so that two
roots on one machine never share a daemon.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from usersnap.errors import UsersnapError
from usersnap.roots import locate

SOCKET_NAME = "usersnapd.socket"
SNAP_SOCKET_NAME = "usersnapd-snap.socket"
#: Longest AF_UNIX path Linux accepts (sun_path is 108 bytes, NUL included).
MAX_SOCKET_PATH = 107


class Dirs(NamedTuple):
    """A NamedTuple rather than a dataclass: every CLI start builds one, and dataclasses
    costs ~8 ms of imports (inspect)."""

    root: Path
    runtime: Path
    home: Path
    uid: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Dirs:
        root, runtime, home, uid = locate(os.environ if env is None else env)
        return cls(root=Path(root), runtime=Path(runtime), home=Path(home), uid=uid)

    # persistent, under the root
    @property
    def snaps(self) -> Path:
        """Installed ``NAME_REV.snap`` blobs (like /var/lib/snapd/snaps)."""
        return self.root / "snaps"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def bin(self) -> Path:
        """App launchers (like /snap/bin)."""
        return self.root / "bin"

    @property
    def logs(self) -> Path:
        return self.root / "log"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def extracted(self) -> Path:
        """Installed revisions extracted, when FUSE is not used (``Dirs.mount`` links
        here then)."""
        return self.cache / "extracted"

    @property
    def lock_file(self) -> Path:
        """Held by the one running usersnapd for this root."""
        return self.root / "usersnapd.lock"

    def data_dir(self, instance: str) -> Path:
        """Backs ``/var/snap/NAME`` in the sandbox: ``REV/``, ``common/``, ``current``."""
        return self.root / "data" / instance

    def user_data_dir(self, instance: str) -> Path:
        """Backs ``$HOME/snap/NAME`` in the sandbox: ``REV/``, ``common/``, ``current``."""
        return self.root / "user-data" / instance

    def blob(self, instance: str, revision: str) -> Path:
        return self.snaps / f"{instance}_{revision}.snap"

    # volatile, under the runtime directory
    @property
    def mount(self) -> Path:
        """The FUSE tree: ``NAME/REVISION/...`` and ``NAME/current``."""
        return self.runtime / "snap"

    @property
    def home_view(self) -> Path:
        """The writable view of $HOME in the FUSE mount (``fusefs.home``), never listed."""
        return self.mount / ".home"

    @property
    def socket(self) -> Path:
        return self.runtime / SOCKET_NAME

    @property
    def snap_socket(self) -> Path:
        """The socket snapctl talks to (snapd's /run/snapd-snap.socket)."""
        return self.runtime / SNAP_SOCKET_NAME

    @property
    def run_lock(self) -> Path:
        """Held shared by every running ``usersnap run``; the daemon stays while it is."""
        return self.runtime / "run.lock"

    @property
    def start_lock(self) -> Path:
        """Serialises CLIs racing to start the daemon."""
        return self.runtime / "start.lock"

    @property
    def daemon_log(self) -> Path:
        return self.logs / "usersnapd.log"

    def private_tmp(self, instance: str) -> Path:
        return self.runtime / "tmp" / f"snap.{instance}"

    def xdg_runtime(self, instance: str) -> Path:
        return self.runtime / "xdg" / f"snap.{instance}"

    def ensure_runtime(self) -> None:
        """Create the runtime directory 0700, refusing one another user planted."""
        try:
            self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = self.runtime.lstat()
        except OSError as err:
            raise UsersnapError(
                f"cannot create runtime directory {self.runtime}: {err.strerror}"
            ) from err
        if st.st_uid != self.uid or (st.st_mode & 0o077):
            raise UsersnapError(
                f"runtime directory {self.runtime} is not private to uid {self.uid}"
            )
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise UsersnapError(
                f"socket path {self.socket} is too long; set USERSNAP_RUNTIME_DIR to a shorter path"
            )

    def ensure_root(self) -> None:
        try:
            for d in (self.root, self.snaps, self.bin, self.logs):
                d.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as err:
            raise UsersnapError(f"cannot create {err.filename}: {err.strerror}") from err
