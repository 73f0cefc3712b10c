"""Installs and refreshes from the store as changes (snapd's snapstate Install and
UpdateMany with a store).

The store is asked first, in the request (so "not found" or "no updates" is the answer,
not a failed change); then a change whose ``download-snap`` and ``validate-snap`` tasks
fetch the file (progress in the task, resumable) and its assertions (checked against the
trust root, then acknowledged), after which :meth:`SnapManager.install` inserts the
install or refresh chain into the same change: mount, pre-refresh hook, stop services, copy
data, link (the previous revision is kept for revert), hooks, start services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import trio

from usersnap.asserts.verify import derive_side_info
from usersnap.daemon.changes import Change, Task, TaskContext
from usersnap.daemon.manager import SnapManager
from usersnap.errors import AlreadyInstalledError, NoUpdateAvailableError, UsersnapError
from usersnap.snapfile.load import load_snap_file
from usersnap.store.channels import parse_channel
from usersnap.store.client import Installed, StoreClient, StoreSnap
from usersnap.store.download import download_snap, fetch_assertions

log = logging.getLogger(__name__)


class LocalSnapError(UsersnapError):
    """snapd's ``snap-local``: a snap installed from a file has no store to refresh from."""

    kind = "snap-local"


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


async def install(mgr: SnapManager, names: list[str], channel: str | None,
                  revision: int | None) -> Change:
    """``snap install NAME…``: one change for all the names."""
    assert mgr.changes is not None
    for name in names:
        if name in mgr.state.snaps:
            raise AlreadyInstalledError(f'snap "{name}" is already installed',
                                        value={"snaps": [name]})
    mgr.changes.check_conflict(tuple(names))
    tracking = str(parse_channel(channel or "stable"))
    store = StoreClient()
    found = await trio.to_thread.run_sync(
        lambda: [store.resolve(n, channel, revision, action_name="install") for n in names])
    tasks = [t for snap in found for t in _fetch_tasks(mgr, store, snap, tracking)]
    summary = (f'Install "{names[0]}" snap' if len(names) == 1
               else f"Install snaps {_quoted(names)}")
    return mgr.changes.start("install-snap", summary, tuple(names), tasks,
                             {"snap-names": names})


def _installed(mgr: SnapManager, names: list[str]) -> list[Installed]:
    """The store snaps to ask about: the named ones (a local one is an error, as with
    snapd), or every snap installed from the store (local ones are skipped)."""
    out = []
    for name in names or sorted(mgr.state.snaps):
        snap = mgr.snap(name)
        rev = snap.current_state
        if not rev.snap_id:
            if names:
                raise LocalSnapError(f'local snap "{name}" is unknown to the store, use '
                                     "--amend to proceed anyway", value=name)
            continue
        after = [r.revision for r in snap.sequence][snap.sequence.index(rev) + 1:]
        out.append(Installed(name, rev.snap_id, int(rev.revision), snap.tracking,
                             tuple(int(r) for r in after if r.isdigit())))
    return out


async def refresh_candidates(mgr: SnapManager, names: list[str], channel: str | None = None
                             ) -> tuple[list[tuple[str, StoreSnap]], dict[str, UsersnapError]]:
    """(installed name, newer revision) pairs, and the store's errors by name."""
    installed = _installed(mgr, names)
    updates, errors = await trio.to_thread.run_sync(StoreClient().refresh, installed, channel)
    owner = {i.snap_id: i.name for i in installed}
    return [(owner[u.snap_id], u) for u in updates if u.snap_id in owner], errors


async def refresh(mgr: SnapManager, names: list[str], channel: str | None,
                  many: bool) -> Change:
    """``snap refresh [NAME…] [--channel]``: a change with the newer revisions (or,
    with ``channel`` and nothing newer, the switch of the tracked channel).  ``many``
    (``POST /v2/snaps``): no updates is an empty, done change; one snap
    (``POST /v2/snaps/NAME``): it is an error."""
    assert mgr.changes is not None
    if channel is not None and len(names) != 1:
        raise UsersnapError("a single snap name is needed to specify the channel")
    mgr.changes.check_conflict(tuple(names))
    tracking = None if channel is None else str(parse_channel(channel))
    updates, errors = await refresh_candidates(mgr, names, channel)
    if errors and not many:
        raise next(iter(errors.values()))
    for name, err in errors.items():
        log.warning("cannot refresh %s: %s", name, err)
    store = StoreClient()
    tasks: list[Task] = []
    for name, snap in updates:
        follow = tracking or mgr.state.snaps[name].tracking or "latest/stable"
        tasks += _fetch_tasks(mgr, store, snap, follow)
    updated = [name for name, _ in updates]
    if not updates and tracking is not None and mgr.state.snaps[names[0]].tracking != tracking:
        tasks.append(_switch_task(mgr, names[0], tracking))
        updated = names[:1]
    if not updated and not many:
        raise NoUpdateAvailableError(f'snap "{names[0]}" has no updates available',
                                     value=names[0])
    if not many:  # snapd's summaries for one snap, then for many
        summary = f'Refresh "{updated[0]}" snap'
    elif len(updated) == 1:
        summary = f'Refresh snap "{updated[0]}"'
    elif updated:
        summary = f"Refresh snaps {_quoted(updated)}"
    elif names:
        summary = f"Refresh snaps {_quoted(names)}: no updates"
    else:
        summary = "Refresh all snaps: no updates"
    return mgr.changes.start("refresh-snap", summary, tuple(updated), tasks,
                             {"snap-names": updated})


def _switch_task(mgr: SnapManager, name: str, tracking: str) -> Task:
    """snapd's ``switch-snap-channel``: only the tracked channel changes."""
    assert mgr.changes is not None
    before = mgr.state.snaps[name].tracking

    def switch(to: str) -> Callable[[TaskContext], None]:
        def run(ctx: TaskContext) -> None:
            mgr.set_tracking(name, to)
        return run

    return mgr.changes.new_task("switch-snap-channel",
                                f'Switch snap "{name}" to channel {tracking}',
                                switch(tracking), switch(before))


def _fetch_tasks(mgr: SnapManager, store: StoreClient, snap: StoreSnap,
                 tracking: str) -> list[Task]:
    """snapd's ``download-snap`` and ``validate-snap``; the second, once the file and
    its assertions are good, inserts the install chain right after itself."""
    assert mgr.changes is not None
    target = mgr.dirs.cache / "download" / f"{snap.name}_{snap.revision}.snap"

    def download(ctx: TaskContext) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        download_snap(store, snap, target, progress=ctx.progress)

    def forget(ctx: TaskContext) -> None:
        target.unlink(missing_ok=True)

    def validate(ctx: TaskContext) -> None:
        mgr.assertions.add_all(fetch_assertions(store, snap))
        asserted = derive_side_info(snap.name, snap.sha3_384, snap.size, mgr.assertions)
        loaded = load_snap_file(target)
        change = ctx.change
        assert change is not None
        trio.from_thread.run_sync(lambda: mgr.install(
            target, loaded, snap.name, asserted, tracking=tracking, into=change))

    channel = f' from channel "{snap.channel}"' if snap.channel else ""
    return [
        mgr.changes.new_task("download-snap",
                             f'Download snap "{snap.name}" ({snap.revision}){channel}',
                             download, forget),
        mgr.changes.new_task("validate-snap", f'Fetch and check assertions for snap '
                             f'"{snap.name}" ({snap.revision})', validate),
    ]


def info_json(answer: Mapping[str, Any]) -> dict[str, object]:
    """``GET /v2/find?name=``: snapd's remote snap object (client.Snap) from the store's
    ``snaps/info`` answer, with its ``channels`` and ``tracks``."""
    raw = answer.get("snap") or {}
    channels: dict[str, dict[str, object]] = {}
    tracks: list[str] = []
    for entry in answer.get("channel-map") or []:
        ch = entry.get("channel") or {}
        track = str(ch.get("track", "latest"))
        name = f"{track}/{ch.get('risk', 'stable')}"
        if ch.get("branch"):
            name += f"/{ch['branch']}"
        if track not in tracks:
            tracks.append(track)
        channels[name] = {
            "revision": str(entry.get("revision", "")), "version": str(entry.get("version", "")),
            "channel": name, "confinement": str(entry.get("confinement", "strict")),
            "size": int((entry.get("download") or {}).get("size", 0)),
            "released-at": str(ch.get("released-at", "")),
        }
    if "latest" in tracks:
        tracks.remove("latest")
        tracks.insert(0, "latest")
    pub = raw.get("publisher") or {}
    return {
        "id": str(answer.get("snap-id", "")), "name": str(answer.get("name", "")),
        "title": str(raw.get("title", "")), "summary": str(raw.get("summary", "")),
        "description": str(raw.get("description", "")),
        "license": str(raw.get("license", "")), "type": str(raw.get("type", "app")),
        "publisher": {k: str(pub.get(k, "")) for k in ("id", "username", "display-name",
                                                       "validation")},
        "developer": str(pub.get("username", "")), "status": "available",
        "channels": channels, "tracks": tracks,
    }
