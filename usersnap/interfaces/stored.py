"""The connections usersnapd stored, for the processes that plan a sandbox themselves
(``usersnap run``, hooks, services): state.json is written atomically, so reading it
costs one small file and no round trip to the daemon."""

from __future__ import annotations

from usersnap.dirs import Dirs
from usersnap.interfaces.connect import Conn, parse_conns
from usersnap.state.store import load_state


def load_connections(dirs: Dirs, snap: str) -> list[Conn]:
    """The stored connections of ``snap``'s plugs (undesired ones included: the
    planner skips them)."""
    return [c for c in parse_conns(load_state(dirs.state_file).conns) if c.plug_snap == snap]
