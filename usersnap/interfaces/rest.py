"""The JSON of ``GET /v2/connections`` and ``GET /v2/interfaces`` (snapd's
``daemon/api_connections.go`` and ``api_interfaces.go``), built from the installed snaps'
metadata and the stored connections."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from usersnap.interfaces.connect import Conn, plugs_of, slots_of
from usersnap.interfaces.registry import INTERFACES, SYSTEM_SNAP
from usersnap.meta.model import SnapInfo

#: snapd's doc URL for an interface (interfaces/builtin: docURL)
DOC_URL = "https://snapcraft.io/docs/{}-interface"


def plain(value: object) -> object:
    """snap.yaml attributes (read-only mappings, tuples) as JSON values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _endpoint(snap: str, side: str, name: str, interface: str, attrs: Mapping[str, Any],
              peers: list[dict[str, str]] | None = None) -> dict[str, object]:
    out: dict[str, object] = {"snap": snap, side: name, "interface": interface}
    if attrs:
        out["attrs"] = plain(attrs)
    if peers:
        out["connections"] = peers
    return out


def _all_endpoints(infos: Mapping[str, SnapInfo]
                   ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    plugs = [(s, p) for s in sorted(infos) for p in sorted(plugs_of(infos[s]).values(),
                                                           key=lambda p: p.name)]
    slots = [(s, sl) for s in (*sorted(infos), SYSTEM_SNAP)
             for sl in sorted(slots_of(s, infos.get(s)).values(), key=lambda x: x.name)]
    return plugs, slots


def connections_json(infos: Mapping[str, SnapInfo], conns: Iterable[Conn], *,
                     select_all: bool, snap: str = "") -> dict[str, object]:
    live = [c for c in conns if not c.undesired]
    if snap:
        live = [c for c in live if snap in (c.plug_snap, c.slot_snap)]
    plug_peers: dict[tuple[str, str], list[dict[str, str]]] = {}
    slot_peers: dict[tuple[str, str], list[dict[str, str]]] = {}
    for c in live:
        plug_peers.setdefault((c.plug_snap, c.plug), []).append(
            {"snap": c.slot_snap, "slot": c.slot})
        slot_peers.setdefault((c.slot_snap, c.slot), []).append(
            {"snap": c.plug_snap, "plug": c.plug})
    all_plugs, all_slots = _all_endpoints(infos)

    def wanted(owner: str, key: tuple[str, str], peers: Mapping[Any, Any]) -> bool:
        if key in peers:
            return True
        # unconnected: only with select=all, and the system's only when asked by name
        return select_all and (owner == snap if snap else owner != SYSTEM_SNAP)

    plugs = [_endpoint(s, "plug", p.name, p.interface, p.attrs, plug_peers.get((s, p.name)))
             for s, p in all_plugs if wanted(s, (s, p.name), plug_peers)]
    slots = [_endpoint(s, "slot", sl.name, sl.interface, sl.attrs,
                       slot_peers.get((s, sl.name)))
             for s, sl in all_slots if wanted(s, (s, sl.name), slot_peers)]

    def conn_json(c: Conn) -> dict[str, object]:
        return {"slot": {"snap": c.slot_snap, "slot": c.slot},
                "plug": {"snap": c.plug_snap, "plug": c.plug}, "interface": c.interface,
                "manual": not c.auto, "gadget": False,
                "slot-attrs": plain(c.slot_attrs), "plug-attrs": plain(c.plug_attrs)}

    undesired = [c for c in conns if c.undesired and (not snap or snap in
                                                       (c.plug_snap, c.slot_snap))]
    return {"established": [conn_json(c) for c in live],
            "undesired": [conn_json(c) for c in undesired] if select_all else [],
            "plugs": plugs, "slots": slots}


def interfaces_json(infos: Mapping[str, SnapInfo], conns: Iterable[Conn], *,
                    select: str, names: Iterable[str], doc: bool, with_plugs: bool,
                    with_slots: bool) -> list[dict[str, object]]:
    """``select=connected`` lists the interfaces in use; ``select=all`` every one known
    (or in snap.yaml); ``names`` narrows either."""
    live = [c for c in conns if not c.undesired]
    wanted = set(names)
    all_plugs, all_slots = _all_endpoints(infos)
    known = set(INTERFACES) | {p.interface for _, p in all_plugs} | \
        {s.interface for _, s in all_slots}
    chosen = {c.interface for c in live} if select != "all" else known
    if wanted:
        chosen &= wanted
    out = []
    for name in sorted(chosen):
        iface = INTERFACES.get(name)
        entry: dict[str, object] = {"name": name, "summary": iface.summary if iface else ""}
        if doc:
            entry["doc-url"] = DOC_URL.format(name)
        if with_plugs:
            entry["plugs"] = [_endpoint(s, "plug", p.name, p.interface, p.attrs)
                              for s, p in all_plugs if p.interface == name]
        if with_slots:
            entry["slots"] = [_endpoint(s, "slot", sl.name, sl.interface, sl.attrs)
                              for s, sl in all_slots if sl.interface == name]
        out.append(entry)
    return out
