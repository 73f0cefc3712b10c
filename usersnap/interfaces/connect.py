"""Which plugs are connected to which slots: snapd's ``ifacestate`` decisions, pure.

Connections live in the daemon's state as snapd keeps them (``conns`` in state.json:
``"PLUGSNAP:PLUG SLOTSNAP:SLOT" -> {"interface", "auto", "undesired", "plug-static",
"slot-static"}``).  An auto-connection the user disconnects stays, ``undesired``, so that
no later install connects it again (snapd's ``ifacestate``: ``Disconnect`` with
``forget`` false).  The static attributes are kept with the connection so that the
sandbox planner needs no other snap's metadata (content).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from usersnap.errors import InterfacesUnchanged, UsersnapError
from usersnap.interfaces.registry import INTERFACES, SYSTEM_SNAP
from usersnap.meta.gostd import go_quote
from usersnap.meta.model import App, Hook, Plug, Slot, SnapInfo

#: Names the snap client and snapd accept for the system snap.
SYSTEM_ALIASES = frozenset({"", "core", "snapd", "system"})


class InterfacesError(UsersnapError):
    """A connect or disconnect request snapd would refuse (400 bad-request)."""

    status = 400


@dataclass(frozen=True, slots=True)
class Conn:
    plug_snap: str
    plug: str
    slot_snap: str
    slot: str
    interface: str
    auto: bool = False
    undesired: bool = False
    plug_attrs: Mapping[str, Any] = field(default_factory=dict)
    slot_attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.plug_snap}:{self.plug} {self.slot_snap}:{self.slot}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"interface": self.interface}
        if self.auto:
            out["auto"] = True
        if self.undesired:
            out["undesired"] = True
        if self.plug_attrs:
            out["plug-static"] = dict(self.plug_attrs)
        if self.slot_attrs:
            out["slot-static"] = dict(self.slot_attrs)
        return out


def parse_conns(conns: Mapping[str, Mapping[str, Any]]) -> list[Conn]:
    """The stored connections, sorted by key; malformed keys are skipped."""
    out = []
    for key in sorted(conns):
        raw = conns[key]
        plug_ref, _, slot_ref = key.partition(" ")
        plug_snap, _, plug = plug_ref.partition(":")
        slot_snap, _, slot = slot_ref.partition(":")
        if not (plug_snap and plug and slot_snap and slot):
            continue
        out.append(Conn(plug_snap, plug, slot_snap, slot, str(raw.get("interface", "")),
                        auto=bool(raw.get("auto")), undesired=bool(raw.get("undesired")),
                        plug_attrs=dict(raw.get("plug-static") or {}),
                        slot_attrs=dict(raw.get("slot-static") or {})))
    return out


def store_conns(conns: Iterable[Conn]) -> dict[str, Mapping[str, Any]]:
    return {c.key: c.to_json() for c in conns}


def plugs_of(info: SnapInfo) -> dict[str, Plug]:
    """Every plug, including those an app or hook names without declaring (snapd makes
    each its own interface)."""
    plugs = dict(info.plugs)
    owners: list[App | Hook] = [*info.apps.values(), *info.hooks.values()]
    for owner in owners:
        for name in owner.plugs:
            plugs.setdefault(name, Plug(name, name, scoped=True))
    return plugs


def slots_of(snap: str, info: SnapInfo | None) -> dict[str, Slot]:
    """A snap's slots; the system snap's are implicit, one per interface that has one."""
    if snap == SYSTEM_SNAP:
        return {i.name: Slot(i.name, i.name) for i in INTERFACES.values() if i.implicit_slot}
    return dict(info.slots) if info is not None else {}


def bound_plugs(info: SnapInfo, owner: App | Hook) -> frozenset[str]:
    """Names of the plugs bound to ``owner``: its own and every unscoped one (snapd's
    ``bindUnscopedPlugs``)."""
    unscoped = {p.name for p in plugs_of(info).values() if not p.scoped}
    return frozenset(owner.plugs) | unscoped


def connected_plugs(conns: Iterable[Conn], snap: str) -> list[Conn]:
    """The established connections of ``snap``'s plugs."""
    return [c for c in conns if c.plug_snap == snap and not c.undesired]


def _content_name(attrs: Mapping[str, Any], default: str) -> str:
    value = attrs.get("content")
    return value if isinstance(value, str) and value else default


def _candidate(plug_snap: str, plug: Plug, slot_snap: str, slot: Slot) -> bool:
    if slot.interface != plug.interface or slot_snap == plug_snap:
        return False
    if plug.interface == "content":
        return _content_name(plug.attrs, plug.name) == _content_name(slot.attrs, slot.name)
    return True


def _conn(plug_snap: str, plug: Plug, slot_snap: str, slot: Slot, *, auto: bool) -> Conn:
    return Conn(plug_snap, plug.name, slot_snap, slot.name, plug.interface, auto=auto,
                plug_attrs=dict(plug.attrs), slot_attrs=dict(slot.attrs))


def auto_connect(snap: str, infos: Mapping[str, SnapInfo], conns: Iterable[Conn]
                 ) -> list[Conn]:
    """The connections snapd's ``auto-connect`` task makes for a newly linked ``snap``:
    its plugs to the one fitting slot (for content, the default provider when several
    fit) and other snaps' unconnected content plugs to its slots; never one that exists
    or was disconnected by the user."""
    known = {c.key for c in conns}
    plugged = {(c.plug_snap, c.plug) for c in conns if not c.undesired}
    new: list[Conn] = []

    def consider(plug_snap: str, plug: Plug, candidates: list[tuple[str, Slot]]) -> None:
        iface = INTERFACES.get(plug.interface)
        if iface is None or not iface.auto_connect or (plug_snap, plug.name) in plugged:
            return
        fitting = [(s, sl) for s, sl in candidates if _candidate(plug_snap, plug, s, sl)]
        if len(fitting) > 1:
            provider = plug.attrs.get("default-provider")
            fitting = [(s, sl) for s, sl in fitting if s == provider]
        if len(fitting) == 1:
            conn = _conn(plug_snap, plug, *fitting[0], auto=True)
            if conn.key not in known:
                new.append(conn)
                plugged.add((plug_snap, plug.name))

    all_slots = [(s, sl) for s in (*infos, SYSTEM_SNAP)
                 for sl in slots_of(s, infos.get(s)).values()]
    if snap in infos:
        for plug in plugs_of(infos[snap]).values():
            consider(snap, plug, all_slots)
        mine = [(snap, sl) for sl in infos[snap].slots.values()]
        for other, info in infos.items():
            if other != snap:
                for plug in plugs_of(info).values():
                    consider(other, plug, mine)
    return new


def _system(name: str) -> str:
    return SYSTEM_SNAP if name in SYSTEM_ALIASES else name


def resolve_connect(infos: Mapping[str, SnapInfo], plug_snap: str, plug_name: str,
                    slot_snap: str, slot_name: str) -> Conn:
    """snapd's ``Repository.ResolveConnect`` with its error messages."""
    info = infos.get(plug_snap)
    plug = plugs_of(info).get(plug_name) if info is not None else None
    if plug is None:
        raise InterfacesError(f"snap {go_quote(plug_snap)} has no plug named {go_quote(plug_name)}")
    slot_snap = _system(slot_snap)
    if slot_snap != SYSTEM_SNAP and slot_snap not in infos:
        raise InterfacesError(f"snap {go_quote(slot_snap)} is not installed")
    slots = slots_of(slot_snap, infos.get(slot_snap))
    if not slot_name:
        fitting = sorted(s.name for s in slots.values() if s.interface == plug.interface)
        if not fitting:
            raise InterfacesError(
                f"snap {go_quote(slot_snap)} has no {go_quote(plug.interface)} interface slots")
        if len(fitting) > 1:
            raise InterfacesError(
                f"snap {go_quote(slot_snap)} has multiple {go_quote(plug.interface)} "
                "interface slots: " + ", ".join(fitting))
        slot_name = fitting[0]
    slot = slots.get(slot_name)
    if slot is None:
        raise InterfacesError(f"snap {go_quote(slot_snap)} has no slot named {go_quote(slot_name)}")
    if slot.interface != plug.interface:
        raise InterfacesError(
            f"cannot connect {plug_snap}:{plug.name} ({go_quote(plug.interface)} interface) to "
            f"{slot_snap}:{slot.name} ({go_quote(slot.interface)} interface)")
    return _conn(plug_snap, plug, slot_snap, slot, auto=False)


def resolve_disconnect(infos: Mapping[str, SnapInfo], conns: Iterable[Conn], plug_snap: str,
                       plug_name: str, slot_snap: str, slot_name: str) -> list[Conn]:
    """snapd's ``ResolveDisconnect``: one connection when both sides are given; with one
    side (the snap client sends it as the slot) every connection of that plug or slot,
    or of the whole snap when only a snap is named."""
    live = [c for c in conns if not c.undesired]
    if plug_snap or plug_name:
        if slot_snap or slot_name:
            slot_snap = _system(slot_snap)
            key = f"{plug_snap}:{plug_name} {slot_snap}:{slot_name}"
            found = [c for c in live if c.key == key]
            if not found:
                raise InterfacesError(f"cannot disconnect {plug_snap}:{plug_name} from "
                                      f"{slot_snap}:{slot_name}, it is not connected")
            return found
        slot_snap, slot_name = plug_snap, plug_name
    snap = _system(slot_snap)
    if snap != SYSTEM_SNAP and snap not in infos:
        raise InterfacesError(f"snap {go_quote(snap)} is not installed")
    if slot_name:
        is_plug = snap in infos and slot_name in plugs_of(infos[snap])
        is_slot = slot_name in slots_of(snap, infos.get(snap))
        if not (is_plug or is_slot):
            raise InterfacesError(
                f"snap {go_quote(snap)} has no plug or slot named {go_quote(slot_name)}")
        found = [c for c in live
                 if (is_plug and (c.plug_snap, c.plug) == (snap, slot_name))
                 or (is_slot and (c.slot_snap, c.slot) == (snap, slot_name))]
    else:
        found = [c for c in live if snap in (c.plug_snap, c.slot_snap)]
    if not found:
        raise InterfacesUnchanged("nothing to do")
    return found


def disconnected(conns: Iterable[Conn], gone: Iterable[Conn], *, forget: bool) -> list[Conn]:
    """``conns`` without ``gone``: manual connections go, auto ones stay as undesired
    unless ``forget``."""
    keys = {c.key for c in gone}
    out = []
    for c in conns:
        if c.key not in keys:
            out.append(c)
        elif c.auto and not forget:
            out.append(replace(c, undesired=True))
    return out


def without_snap(conns: Iterable[Conn], snap: str) -> list[Conn]:
    """What a removed snap leaves: nothing of its plugs or slots."""
    return [c for c in conns if snap not in (c.plug_snap, c.slot_snap)]

