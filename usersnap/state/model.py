"""What usersnapd remembers about installed snaps, as plain values.

Mirrors snapd's ``SnapState``: per snap an ordered *sequence* of kept revisions and
which one is current.  Pure: no I/O here; :mod:`usersnap.state.store` persists it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

SCHEMA_VERSION = 1
#: snapd's ``refresh.retain`` default on classic systems.
DEFAULT_RETAIN = 2

_LOCAL_REV = re.compile(r"^x([1-9][0-9]*)$")


def is_local_revision(revision: str) -> bool:
    return bool(_LOCAL_REV.match(revision))


def revision_sort_key(revision: str) -> tuple[int, int]:
    """Store revisions sort numerically; local ones (x1, x2, ...) by their number."""
    m = _LOCAL_REV.match(revision)
    if m:
        return (0, int(m.group(1)))
    return (1, int(revision)) if revision.isdigit() else (2, 0)


@dataclass(frozen=True, slots=True)
class RevisionState:
    revision: str
    version: str
    #: seconds since the epoch when this revision was installed
    installed_at: float
    size: int = 0
    #: ``usersnap try``: the directory served as this revision (there is no blob)
    try_dir: str | None = None
    #: the store's snap-id when assertions vouched for this revision, "" otherwise
    snap_id: str = ""


@dataclass(frozen=True, slots=True)
class SnapState:
    name: str
    sequence: tuple[RevisionState, ...]
    current: str
    active: bool = True
    #: the snap's type from snap.yaml (app, base, os...), cached for listing
    type: str = "app"
    #: the configuration document (``snap get NAME``), a JSON object
    config: Mapping[str, Any] = field(default_factory=dict)
    #: the last health reported (snapd's HealthState: revision, timestamp, status,
    #: message, code), None until a check-health hook ran
    health: Mapping[str, Any] | None = None
    #: the store channel followed (snapd's TrackingChannel, "latest/stable"), "" for
    #: snaps installed from a file
    tracking: str = ""

    def revision(self, revision: str) -> RevisionState | None:
        return next((r for r in self.sequence if r.revision == revision), None)

    @property
    def current_state(self) -> RevisionState:
        rev = self.revision(self.current)
        if rev is None:  # pragma: no cover - guarded by State.validate
            raise ValueError(f"snap {self.name!r} has no revision {self.current!r}")
        return rev

    def next_local_revision(self) -> str:
        """snapd's rule: one below the smallest local revision kept, x1 when none is."""
        local = [revision_sort_key(r.revision)[1] for r in self.sequence
                 if is_local_revision(r.revision)]
        return f"x{max(local) + 1}" if local else "x1"


@dataclass(frozen=True, slots=True)
class State:
    snaps: dict[str, SnapState] = field(default_factory=dict)
    last_change_id: int = 0
    #: snapd's "snap-cookies": the cookie apps of a snap give snapctl -> the snap's name
    cookies: Mapping[str, str] = field(default_factory=dict)
    #: snapd's "conns": "PLUGSNAP:PLUG SLOTSNAP:SLOT" -> its JSON object
    #: (:mod:`usersnap.interfaces.connect` reads and writes them)
    conns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def cookie_of(self, name: str) -> str | None:
        return next((c for c, n in self.cookies.items() if n == name), None)

    def with_cookie(self, cookie: str | None, name: str) -> State:
        """Set (or with None drop) ``name``'s cookie."""
        cookies = {c: n for c, n in self.cookies.items() if n != name}
        if cookie is not None:
            cookies[cookie] = name
        return replace(self, cookies=cookies)

    def with_snap(self, snap: SnapState | None, name: str) -> State:
        snaps = dict(self.snaps)
        if snap is None:
            snaps.pop(name, None)
        else:
            snaps[name] = snap
        return replace(self, snaps=snaps)


def add_revision(
    current: SnapState | None, name: str, rev: RevisionState, snap_type: str,
    retain: int = DEFAULT_RETAIN,
) -> tuple[SnapState, tuple[RevisionState, ...]]:
    """Append ``rev`` and make it current; return the new state and the revisions dropped."""
    old = current.sequence if current else ()
    sequence = (*(r for r in old if r.revision != rev.revision), rev)
    dropped = sequence[:-retain] if len(sequence) > retain else ()
    kept = sequence[len(dropped):]
    snap = SnapState(name=name, sequence=kept, current=rev.revision, type=snap_type)
    if current is not None:  # configuration, health, tracking belong to the snap
        snap = replace(snap, config=current.config, health=current.health,
                       tracking=current.tracking)
    return snap, dropped


def drop_revision(snap: SnapState, revision: str) -> SnapState | None:
    """Remove one revision; None when it was the last one."""
    kept = tuple(r for r in snap.sequence if r.revision != revision)
    if not kept:
        return None
    current = snap.current if snap.current != revision else kept[-1].revision
    return replace(snap, sequence=kept, current=current)


def to_json(state: State) -> dict[str, object]:
    out: dict[str, object] = {
        "schema-version": SCHEMA_VERSION,
        "last-change-id": state.last_change_id,
        "snaps": {name: _snap_json(s) for name, s in sorted(state.snaps.items())},
    }
    if state.cookies:
        out["cookies"] = dict(sorted(state.cookies.items()))
    if state.conns:
        out["conns"] = {key: dict(conn) for key, conn in sorted(state.conns.items())}
    return out


def _snap_json(snap: SnapState) -> dict[str, object]:
    """``config``, ``health`` and ``tracking`` only when set: files without them stay
    as before."""
    out: dict[str, object] = {
        "current": snap.current, "active": snap.active, "type": snap.type,
        "sequence": [_revision_json(r) for r in snap.sequence],
    }
    if snap.config:
        out["config"] = dict(snap.config)
    if snap.health is not None:
        out["health"] = dict(snap.health)
    if snap.tracking:
        out["tracking"] = snap.tracking
    return out


def from_json(data: object) -> State:
    """Parse state.json; raises ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("top level is not an object")
    version = data.get("schema-version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"unsupported schema-version {version!r}")
    snaps: dict[str, SnapState] = {}
    raw_snaps = data.get("snaps", {})
    if not isinstance(raw_snaps, dict):
        raise ValueError("snaps is not an object")
    for name, raw in raw_snaps.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("sequence"), list):
            raise ValueError(f"snap {name!r} is malformed")
        seq = tuple(_revision_from_json(name, r) for r in raw["sequence"])
        config = raw.get("config", {})
        health = raw.get("health")
        if not isinstance(config, dict) or not (health is None or isinstance(health, dict)):
            raise ValueError(f"snap {name!r} has a malformed configuration or health")
        snap = SnapState(name=name, sequence=seq, current=str(raw["current"]),
                         active=bool(raw.get("active", True)), type=str(raw.get("type", "app")),
                         config=config, health=health, tracking=str(raw.get("tracking", "")))
        if not seq or snap.revision(snap.current) is None:
            raise ValueError(f"snap {name!r} has no current revision")
        snaps[name] = snap
    cookies = data.get("cookies", {})
    if not isinstance(cookies, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in cookies.items()):
        raise ValueError("cookies is not an object of strings")
    conns = data.get("conns", {})
    if not isinstance(conns, dict) or not all(isinstance(c, dict) for c in conns.values()):
        raise ValueError("conns is not an object of objects")
    return State(snaps=snaps, last_change_id=int(data.get("last-change-id", 0)),
                 cookies={c: n for c, n in cookies.items() if n in snaps}, conns=conns)


def _revision_json(rev: RevisionState) -> dict[str, object]:
    """``try-dir`` and ``snap-id`` only when set: older files stay as they were."""
    out: dict[str, object] = {"revision": rev.revision, "version": rev.version,
                              "installed-at": rev.installed_at, "size": rev.size}
    if rev.try_dir is not None:
        out["try-dir"] = rev.try_dir
    if rev.snap_id:
        out["snap-id"] = rev.snap_id
    return out


def _revision_from_json(name: str, raw: object) -> RevisionState:
    if not isinstance(raw, dict):
        raise ValueError(f"snap {name!r} has a malformed revision")
    try_dir = raw.get("try-dir")
    if try_dir is not None and not (isinstance(try_dir, str) and try_dir.startswith("/")):
        raise ValueError(f"snap {name!r} has an invalid try-dir {try_dir!r}")
    return RevisionState(revision=str(raw["revision"]), version=str(raw["version"]),
                         installed_at=float(raw["installed-at"]), size=int(raw.get("size", 0)),
                         try_dir=try_dir, snap_id=str(raw.get("snap-id", "")))
