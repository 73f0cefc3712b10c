"""Interface connections as changes: auto-connect at install, ``snap connect`` and
``snap disconnect`` (snapd's ``ifacestate``), with their hooks.

The decisions are :mod:`usersnap.interfaces.connect`'s; here they become tasks that
commit ``State.conns`` and run the ``prepare-*``, ``connect-*`` and ``disconnect-*``
hooks in snapd's order (snap-semantics: prepare-plug, prepare-slot, connect,
connect-slot, connect-plug; disconnect-slot, disconnect-plug, disconnect).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from usersnap.interfaces.connect import (
    Conn,
    auto_connect,
    disconnected,
    parse_conns,
    store_conns,
    without_snap,
)
from usersnap.interfaces.registry import SYSTEM_SNAP
from usersnap.meta.gostd import go_quote
from usersnap.meta.model import SnapInfo
from usersnap.state.model import State

if TYPE_CHECKING:
    from usersnap.daemon.changes import Change, Task, TaskContext
    from usersnap.daemon.manager import SnapManager


def installed_infos(mgr: SnapManager, extra: SnapInfo | None = None) -> dict[str, SnapInfo]:
    """The current revision's metadata of every installed snap (plus ``extra``, a snap
    being installed)."""
    infos = {}
    for name, snap in mgr.state.snaps.items():
        mounted = mgr.mounted.get((name, snap.current))
        if mounted is not None:
            infos[name] = mounted.info
    if extra is not None:
        infos[extra.name] = extra
    return infos


def _update(mgr: SnapManager, change: Callable[[list[Conn]], list[Conn]]) -> None:
    def update(state: State) -> State:
        return replace(state, conns=store_conns(change(parse_conns(state.conns))))
    mgr._commit(update)


def _hooks(mgr: SnapManager, conn: Conn, action: str) -> list[Task]:
    """The hooks of one connection's side; the system snap has none."""
    order = (("plug", conn.plug_snap, conn.plug), ("slot", conn.slot_snap, conn.slot))
    if action in ("connect", "disconnect"):
        order = order[::-1]
    return [mgr.hook_task(snap, f"{action}-{side}-{name}",
                          f"Run hook {action}-{side}-{name} of snap {go_quote(snap)}")
            for side, snap, name in order if snap != SYSTEM_SNAP]


def _connect_tasks(mgr: SnapManager, conn: Conn) -> list[Task]:
    assert mgr.changes is not None

    def do(ctx: TaskContext) -> None:
        _update(mgr, lambda conns: [*(c for c in conns if c.key != conn.key), conn])

    def undo(ctx: TaskContext) -> None:
        _update(mgr, lambda conns: [c for c in conns if c.key != conn.key])

    summary = f"Connect {conn.plug_snap}:{conn.plug} to {conn.slot_snap}:{conn.slot}"
    return [*_hooks(mgr, conn, "prepare"), mgr.changes.new_task("connect", summary, do, undo),
            *_hooks(mgr, conn, "connect")]


def auto_connect_tasks(mgr: SnapManager, info: SnapInfo) -> list[Task]:
    """snapd's ``auto-connect`` task for a snap being linked, and the hooks of what it
    will connect (decided now: the other snaps cannot change during the change)."""
    assert mgr.changes is not None
    new = auto_connect(info.name, installed_infos(mgr, info), parse_conns(mgr.state.conns))
    tasks = [mgr.changes.new_task(
        "auto-connect", f'Automatically connect eligible plugs and slots of snap "{info.name}"',
        lambda ctx: None)]
    for conn in new:
        tasks += _connect_tasks(mgr, conn)
    return tasks


def forget_snap(state: State, name: str) -> State:
    """The state without ``name``'s connections (at remove)."""
    return replace(state, conns=store_conns(without_snap(parse_conns(state.conns), name)))


def connect_change(mgr: SnapManager, conn: Conn) -> Change:
    assert mgr.changes is not None
    summary = f"Connect {conn.plug_snap}:{conn.plug} to {conn.slot_snap}:{conn.slot}"
    existing = {c.key: c for c in parse_conns(mgr.state.conns)}.get(conn.key)
    tasks = [] if existing is not None and not existing.undesired else \
        _connect_tasks(mgr, conn)
    return mgr.changes.start("connect-snap", summary, _names(conn), tasks)


def disconnect_change(mgr: SnapManager, gone: list[Conn], *, forget: bool) -> Change:
    assert mgr.changes is not None
    first = gone[0]
    summary = (f"Disconnect {first.plug_snap}:{first.plug} from "
               f"{first.slot_snap}:{first.slot}")
    tasks: list[Task] = []
    names: set[str] = set()
    for conn in gone:
        names.update(_names(conn))

        def do(ctx: TaskContext, conn: Conn = conn) -> None:
            _update(mgr, lambda conns: disconnected(conns, [conn], forget=forget))

        tasks += [*_hooks(mgr, conn, "disconnect"), mgr.changes.new_task(
            "disconnect", f"Disconnect {conn.plug_snap}:{conn.plug} from "
                          f"{conn.slot_snap}:{conn.slot}", do)]
    return mgr.changes.start("disconnect-snap", summary, tuple(sorted(names)), tasks)


def _names(conn: Conn) -> tuple[str, ...]:
    return tuple(sorted({conn.plug_snap, conn.slot_snap} - {SYSTEM_SNAP}))

