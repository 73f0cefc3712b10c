"""The REST routes: snapd's endpoints and shapes, mapped onto the snap manager.

No business logic here: parse the request, call :class:`SnapManager`, shape the answer
as snapd does (``rest-api.md``).  Errors are :class:`UsersnapError`s, turned into error
envelopes in one place.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from usersnap import __version__
from usersnap.asserts.format import (
    MAX_BODY_SIZE,
    PRIMARY_KEYS,
    AssertError,
    decode_stream,
    encode_stream,
)
from usersnap.asserts.verify import SnapSideInfo, derive_side_info, publisher, snap_digest
from usersnap.client import CHANGE_WAIT_PARAM, LOCAL_FILE_FIELD
from usersnap.daemon import cgroups, storeops
from usersnap.daemon.changes import TaskContext
from usersnap.daemon.connections import connect_change, disconnect_change, installed_infos
from usersnap.daemon.envelope import (
    Response,
    async_response,
    error_response,
    rfc3339,
    sync_response,
)
from usersnap.daemon.http import Request, copy_local_file
from usersnap.daemon.logs import follow, log_path, read_entries, record
from usersnap.daemon.manager import SnapManager
from usersnap.daemon.services import app_json
from usersnap.daemon.snapctl import SnapctlError, Unsuccessful, run_snapctl, unsuccessful_value
from usersnap.errors import (
    AppNotFoundError,
    NotFoundError,
    SnapNotFoundError,
    UsersnapError,
)
from usersnap.interfaces.connect import parse_conns, resolve_connect, resolve_disconnect
from usersnap.interfaces.rest import connections_json, interfaces_json
from usersnap.meta.model import App, SnapInfo
from usersnap.sandbox.environment import dpkg_arch
from usersnap.snapfile.load import load_snap_file, load_try_dir
from usersnap.state.model import RevisionState, SnapState
from usersnap.store.client import StoreClient

log = logging.getLogger(__name__)

#: Largest snap accepted by upload (snapd has no limit; this bounds a runaway client).
MAX_UPLOAD = 8 << 30
#: the longest a GET of a change waits for it (well under the clients' socket timeout)
MAX_CHANGE_WAIT = 30.0
Route = Callable[[Request, list[str]], Awaitable[Response]]


class BadRequest(UsersnapError):
    status = 400


class MethodNotAllowed(UsersnapError):
    status = 405


class Forbidden(UsersnapError):
    """snapd answers every refusal with 403 ``login-required`` (daemon/errors.go)."""

    kind = "login-required"
    status = 403


class Unavailable(UsersnapError):
    """Something snapd offers that usersnap does not (yet): said plainly, not faked."""


#: ``snap known --remote``: assertions come from the store only with a download.
NO_REMOTE_ASSERTIONS = ("usersnap does not query the store for assertions: usersnap "
                        "download fetches a snap's")


class Api:
    def __init__(self, manager: SnapManager, upload_dir: Path, *,
                 no_fuse: str | None = None) -> None:
        self.manager = manager
        self.upload_dir = upload_dir
        #: why snaps are served from extracted copies instead of the FUSE mount, if they are
        self.no_fuse = no_fuse
        self._routes: list[tuple[str, tuple[str, ...], Route]] = [
            ("GET", ("v2", "system-info"), self.system_info),
            ("GET", ("v2", "snaps"), self.list_snaps),
            ("POST", ("v2", "snaps"), self.post_snaps),
            ("GET", ("v2", "snaps", "*"), self.get_snap),
            ("POST", ("v2", "snaps", "*"), self.post_snap),
            ("GET", ("v2", "snaps", "*", "conf"), self.get_conf),
            ("PUT", ("v2", "snaps", "*", "conf"), self.put_conf),
            ("GET", ("v2", "find"), self.find),
            ("GET", ("v2", "assertions", "*"), self.known),
            ("POST", ("v2", "assertions"), self.ack),
            ("GET", ("v2", "changes"), self.list_changes),
            ("GET", ("v2", "changes", "*"), self.get_change),
            ("POST", ("v2", "changes", "*"), self.post_change),
            ("GET", ("v2", "apps"), self.list_apps),
            ("POST", ("v2", "apps"), self.post_apps),
            ("GET", ("v2", "logs"), self.logs),
            ("GET", ("v2", "connections"), self.connections),
            ("GET", ("v2", "interfaces"), self.interfaces),
            ("POST", ("v2", "interfaces"), self.post_interfaces),
            ("GET", ("v2", "aliases"), self.aliases),
            ("POST", ("v2", "aliases"), self.post_aliases),
            ("GET", ("v2", "warnings"), self.warnings),
            ("POST", ("v2", "warnings"), self.post_warnings),
        ]

    async def handle(self, req: Request) -> Response:
        try:
            return await self._dispatch(req)
        except UsersnapError as err:
            return error_response(err)

    async def _dispatch(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        path_known = False
        for method, pattern, route in self._routes:
            if len(pattern) != len(parts):
                continue
            if all(p == "*" or p == q for p, q in zip(pattern, parts, strict=True)):
                path_known = True
                if method == req.method:
                    args = [q for p, q in zip(pattern, parts, strict=True) if p == "*"]
                    return await route(req, args)
        if path_known:
            raise MethodNotAllowed(f"method {req.method} not allowed")
        raise NotFoundError("not found")

    # -- system ---------------------------------------------------------------------

    async def system_info(self, req: Request, args: list[str]) -> Response:
        dirs = self.manager.dirs
        return sync_response({
            "series": "16",
            "version": __version__,
            "os-release": _os_release(),
            "on-classic": True,
            "managed": False,
            "kernel-version": platform.release(),
            "architecture": dpkg_arch(),
            "confinement": "partial",
            "build-id": "",
            "usersnap": {"root": str(dirs.root), "mount": str(dirs.mount),
                         "socket": str(dirs.socket), "cgroup": cgroups.detect().describe(),
                         "served-from": "extracted" if self.no_fuse else "fuse",
                         **({"no-fuse-reason": self.no_fuse} if self.no_fuse else {})},
        })

    # -- snaps ----------------------------------------------------------------------

    async def list_snaps(self, req: Request, args: list[str]) -> Response:
        select = _query(req, "select")
        wanted = [n for n in _query(req, "snaps").split(",") if n]
        out: list[dict[str, object]] = []
        for name in sorted(self.manager.state.snaps):
            if wanted and name not in wanted:
                continue
            snap = self.manager.state.snaps[name]
            revisions = snap.sequence if select == "all" else (snap.current_state,)
            out.extend(self._snap_json(snap, rev) for rev in revisions)
        return sync_response(out)

    async def get_snap(self, req: Request, args: list[str]) -> Response:
        snap = self.manager.snap(args[0])
        return sync_response(self._snap_json(snap, snap.current_state))

    def _snap_json(self, snap: SnapState, rev: RevisionState) -> dict[str, object]:
        active = snap.active and rev.revision == snap.current
        dirs = self.manager.dirs
        mounted_from = rev.try_dir or str(dirs.blob(snap.name, rev.revision))
        broken = self.manager.broken.get((snap.name, rev.revision))
        if broken is not None:  # what snapd shows when it cannot read a revision's info
            return {
                "id": "", "name": snap.name, "version": "", "revision": rev.revision,
                "type": "app", "confinement": "strict",
                "status": "active" if active else "installed",
                "trymode": rev.try_dir is not None, "devmode": False, "jailmode": False,
                "private": False, "channel": "", "tracking-channel": "", "developer": "",
                "install-date": rfc3339(rev.installed_at), "installed-size": rev.size,
                "mounted-from": mounted_from, "apps": [], "broken": broken,
            }
        info = self.manager.info(snap.name, rev.revision)
        apps = [self._app_json(snap.name, app, info) for app in info.apps.values()]
        extra: dict[str, object] = {}
        account = publisher(self.manager.assertions, rev.snap_id) if rev.snap_id else None
        if account is not None:
            extra["publisher"] = account
        if snap.health is not None and active:
            extra["health"] = dict(snap.health)
        return {
            "id": rev.snap_id,
            "name": snap.name,
            "title": info.title,
            "summary": info.summary,
            "description": info.description,
            "version": rev.version,
            "revision": rev.revision,
            "type": info.type,
            "base": info.base,
            "confinement": info.confinement,
            "grade": info.grade,
            "status": "active" if active else "installed",
            "devmode": info.confinement == "devmode",
            "jailmode": False,
            "private": False,
            "trymode": rev.try_dir is not None,
            "channel": snap.tracking,
            "tracking-channel": snap.tracking,
            "developer": account["username"] if account else "",
            "license": info.license,
            "install-date": rfc3339(rev.installed_at),
            "installed-size": rev.size,
            "mounted-from": mounted_from,
            "apps": apps,
            **extra,
        }

    async def post_snaps(self, req: Request, args: list[str]) -> Response:
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("multipart/"):
            body = await _json_body(req)
            names = body.get("snaps") or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise BadRequest("cannot decode request body into snap instruction: snaps "
                                 "must be a list of names")
            if body.get("action") == "install" and names:
                change = await storeops.install(self.manager, names, None, None)
            elif body.get("action") == "refresh":
                change = await storeops.refresh(self.manager, names, None, many=True)
            else:
                raise BadRequest(f"unsupported multi-snap operation {body.get('action')!r}")
            return async_response(change.id)
        form = await req.multipart(self.upload_dir, max_file_bytes=MAX_UPLOAD)
        if form.fields.get("action") == "try":
            for part in form.files:
                part.path.unlink(missing_ok=True)
            return await self._try(form.fields.get("snap-path"))
        try:
            if form.fields.get("action", "install") != "install":
                raise BadRequest(f"unsupported action {form.fields.get('action')!r}")
            if (local := form.fields.get(LOCAL_FILE_FIELD)) and not form.files:
                form.files.append(await copy_local_file(
                    local, req.peer, self.upload_dir, field_name="snap",
                    max_file_bytes=MAX_UPLOAD))  # fmt: skip
            if len(form.files) != 1:
                raise BadRequest("cannot find \"snap\" file field in provided multipart/form-data")
            upload = form.files[0]
            display = form.fields.get("snap-path") or upload.filename
            asserted = None
            if form.fields.get("dangerous") != "true":
                asserted = await trio.to_thread.run_sync(self._asserted, upload.path, display)
            loaded = await trio.to_thread.run_sync(load_snap_file, upload.path)
            # from here on the change owns the upload (and removes it when it fails)
            change = self.manager.install(upload.path, loaded, display, asserted)
        except BaseException:
            for part in form.files:
                part.path.unlink(missing_ok=True)
            raise
        return async_response(change.id)

    def _asserted(self, path: Path, label: str) -> SnapSideInfo:
        """snapd's DeriveSideInfo: the acknowledged assertions for this file's digest."""
        digest, size = snap_digest(path)
        return derive_side_info(label, digest, size, self.manager.assertions)

    async def _try(self, path: str | None) -> Response:
        """snapd's trySnap: the client sends the directory's absolute path, no file."""
        if not path:
            raise BadRequest("need 'snap-path' value in form")
        if self.no_fuse is not None:
            # a tried directory is shown live through the mount; an extracted copy of it
            # would not follow the author's edits, and a link to it does not resolve in
            # the sandbox's /snap
            raise BadRequest(f'cannot try "{path}": usersnap try needs FUSE, which is not '
                             f"used here ({self.no_fuse}); see usersnap doctor")
        if await trio.to_thread.run_sync(_on_mount, path, self.manager.dirs.mount):
            # serving our own mount from itself could exhaust the threads that serve it
            raise BadRequest(f'cannot try "{path}": it is on the usersnap mount')
        loaded = await trio.to_thread.run_sync(load_try_dir, path)
        return async_response(self.manager.try_dir(path, loaded).id)

    async def post_snap(self, req: Request, args: list[str]) -> Response:
        name = args[0]
        body = await _json_body(req)
        action = body.get("action")
        revision = body.get("revision") or None
        if revision is not None and not isinstance(revision, str | int):
            raise BadRequest("invalid revision")
        rev = None if revision is None else str(revision)
        channel = body.get("channel") or None
        if channel is not None and not isinstance(channel, str):
            raise BadRequest("invalid channel")
        if action == "install":
            change = await storeops.install(self.manager, [name], channel,
                                            None if rev is None else _revision(rev))
        elif action == "refresh":
            if rev is not None:
                raise BadRequest("usersnap cannot refresh to a given revision yet")
            change = await storeops.refresh(self.manager, [name], channel, many=False)
        elif action == "remove":
            change = self.manager.remove(name, rev, purge=bool(body.get("purge")))
        elif action == "revert":
            change = self.manager.revert(name, rev)
        else:
            raise BadRequest(f"unknown action {action!r}")
        return async_response(change.id)

    # -- changes --------------------------------------------------------------------

    async def list_changes(self, req: Request, args: list[str]) -> Response:
        assert self.manager.changes is not None
        select = _query(req, "select") or "in-progress"
        for_snap = _query(req, "for")
        out = []
        for change in self.manager.changes.all():
            if select == "in-progress" and change.ready:
                continue
            if select == "ready" and not change.ready:
                continue
            if for_snap and for_snap not in change.snap_names:
                continue
            out.append(change.to_json())
        return sync_response(out)

    async def get_change(self, req: Request, args: list[str]) -> Response:
        """``?usersnap-wait=SECONDS`` (ours; snap never sends it): answer when the change
        is ready, or after that long (at most :data:`MAX_CHANGE_WAIT`) if it is not."""
        assert self.manager.changes is not None
        wait = _query(req, CHANGE_WAIT_PARAM)
        if not wait:
            return sync_response(self.manager.changes.get(args[0]).to_json())
        try:
            seconds = min(max(float(wait), 0.0), MAX_CHANGE_WAIT)
        except ValueError:
            raise BadRequest(f"invalid {CHANGE_WAIT_PARAM} value {wait!r}") from None
        change = await self.manager.changes.wait_ready(args[0], seconds)
        return sync_response(change.to_json())

    async def post_change(self, req: Request, args: list[str]) -> Response:
        """``snap abort``: a sync answer with the change (daemon/api_changes.go abortChange)."""
        assert self.manager.changes is not None
        body = await _json_body(req)
        self.manager.changes.get(args[0])
        if body.get("action") != "abort":
            raise BadRequest(f"change action {json.dumps(body.get('action') or '')} is "
                             "unsupported")
        return sync_response(self.manager.changes.abort(args[0]).to_json())

    # -- configuration --------------------------------------------------------------

    async def get_conf(self, req: Request, args: list[str]) -> Response:
        keys = [k for k in _query(req, "keys").split(",") if k]
        return sync_response(self.manager.get_config(args[0], keys))

    async def put_conf(self, req: Request, args: list[str]) -> Response:
        patch = await _json_body(req, "patch values")
        return async_response(self.manager.configure(args[0], patch).id)

    # -- the store --------------------------------------------------------------------

    async def find(self, req: Request, args: list[str]) -> Response:
        """snapd's searchStore: ``q=`` (snap find) asks the store's find, ``name=`` (snap
        info) its snaps/info, ``select=refresh`` (snap refresh --list) refresh actions
        for the installed store snaps."""
        query, name = _query(req, "q"), _query(req, "name")
        if _query(req, "select") == "refresh":
            if query or name:
                raise BadRequest(f"cannot use '{'q' if query else 'name'}' with "
                                 "'select=refresh'")
            updates, _ = await storeops.refresh_candidates(self.manager, [])
            return sync_response([s.json() for _, s in updates])
        if name:
            if query:
                raise BadRequest("cannot use 'q' and 'name' together")
            try:
                answer = await trio.to_thread.run_sync(StoreClient().info, name)
            except SnapNotFoundError as err:
                raise SnapNotFoundError("snap not found", value=name) from err
            return sync_response([storeops.info_json(answer)])
        if not query:
            raise BadRequest("usersnap cannot list the store's featured snaps: give a query")
        found = await trio.to_thread.run_sync(StoreClient().find, query)
        return sync_response([s.json() for s in found])

    # -- assertions -------------------------------------------------------------------

    async def known(self, req: Request, args: list[str]) -> Response:
        """snapd's getAssertTypeNames/assertsFindMany: the raw stream, counted in a header."""
        if args[0] not in PRIMARY_KEYS:
            raise BadRequest(f'invalid assert type: "{args[0]}"')
        headers = {k: v[0] for k, v in req.query.items() if v and k not in ("remote", "json")}
        if _query(req, "remote") == "true":
            raise Unavailable(NO_REMOTE_ASSERTIONS)
        found = await trio.to_thread.run_sync(
            self.manager.assertions.find_many, args[0], headers)
        return Response(200, {"Content-Type": "application/x.ubuntu.assertion",
                              "X-Ubuntu-Assertions-Count": str(len(found))},
                        encode_stream(found))

    async def ack(self, req: Request, args: list[str]) -> Response:
        """snapd's doAssert: a stream of assertions, added prerequisites first."""
        raw = await req.read_body(limit=4 * MAX_BODY_SIZE)
        try:
            batch = decode_stream(raw)
        except AssertError as err:
            raise BadRequest(f"cannot decode request body into assertions: {err}") from None
        try:
            await trio.to_thread.run_sync(self.manager.assertions.add_all, batch)
        except AssertError as err:
            raise BadRequest(f"assert failed: {err}") from None
        return sync_response(None)

    # -- apps and services ------------------------------------------------------------

    def _infos(self, names: list[str]) -> list[tuple[str, SnapInfo, list[str]]]:
        """(snap, current info, apps asked for or [] for all), snapd's appInfosFor order."""
        state = self.manager.state.snaps
        wanted: dict[str, list[str]] = {}
        for name in names:
            snap, _, app = name.partition(".")
            if snap not in state:
                raise SnapNotFoundError(f'snap "{snap}" not found', value=snap)
            wanted.setdefault(snap, [])
            if app:
                wanted[snap].append(app)
        chosen = wanted or {n: [] for n in state}
        out = []
        for snap in sorted(chosen):
            if (snap, state[snap].current) in self.manager.mounted:
                out.append((snap, self.manager.info(snap), chosen[snap]))
        return out

    def _app_json(self, snap: str, app: App, info: SnapInfo) -> dict[str, object]:
        sup = self.manager.supervisor
        if sup is None or not app.daemon:
            return app_json(snap, app, info)
        return app_json(snap, app, info, enabled=sup.enabled(snap, app.name),
                        active=sup.active(snap, app.name),
                        listening=sup.listening(snap, app.name))

    async def list_apps(self, req: Request, args: list[str]) -> Response:
        """``snap services``: the supervisor's view of each service."""
        select = _query(req, "select")
        names = [n for n in _query(req, "names").split(",") if n]
        out: list[dict[str, object]] = []
        for snap, info, apps in self._infos(names):
            found = []
            for app in sorted(info.apps.values(), key=lambda a: a.name):
                if apps and app.name not in apps:
                    continue
                if select == "service" and not app.daemon:
                    if apps:
                        raise AppNotFoundError(f'snap "{snap}" has no service "{app.name}"')
                    continue
                found.append(self._app_json(snap, app, info))
            for app_name in apps:
                if app_name not in info.apps:
                    what = "service" if select == "service" else "app"
                    raise AppNotFoundError(f'snap "{snap}" has no {what} "{app_name}"')
            if names and not found:
                raise AppNotFoundError(f'snap "{snap}" has no services')
            out.extend(found)
        return sync_response(out)

    async def post_apps(self, req: Request, args: list[str]) -> Response:
        """``snap start|stop|restart``: a change whose one task asks the supervisor
        (snapd's postApps: ``service-control``)."""
        body = await _json_body(req)
        action, names = body.get("action"), body.get("names")
        if action not in ("start", "stop", "restart"):
            raise BadRequest(f'unknown action "{action or ""}"')
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRequest("cannot perform operation on services without a list of services")
        self._infos(names)  # snap-not-found as snapd says it
        sup, changes = self.manager.supervisor, self.manager.changes
        assert sup is not None
        assert changes is not None
        resolved = sup.resolve(names)
        flags = {k: bool(body.get(k)) for k in ("enable", "disable", "reload")}

        async def do(ctx: TaskContext) -> None:
            await sup.control(str(action), names, **flags)

        snaps = tuple(sorted({snap for snap, _ in resolved}))
        task = changes.new_task("service-control", "Run service command", do)
        change = changes.start("service-control", "Running service command", snaps, [task],
                               {"snap-names": list(snaps)})
        return async_response(change.id)

    async def logs(self, req: Request, args: list[str]) -> Response:
        """``snap logs``: json-seq records, the last ``n`` (-1: all), then, with
        ``follow``, new ones as they come."""
        names = [n for n in _query(req, "names").split(",") if n]
        paths = []
        for snap, info, apps in self._infos(names):
            chosen = [a for a in info.services if not apps or a.name in apps]
            if names and not chosen:
                raise AppNotFoundError(f'snap "{snap}" has no services')
            paths += [log_path(self.manager.dirs.logs, f"{snap}.{a.name}") for a in chosen]
        try:
            n = int(_query(req, "n") or "10")
        except ValueError:
            raise BadRequest(f'invalid value for n: "{_query(req, "n")}"') from None
        headers = {"Content-Type": "application/json-seq"}
        if _query(req, "follow") == "true":
            return Response(200, headers, follow(paths, n))
        entries = await trio.to_thread.run_sync(read_entries, paths, n)
        return Response(200, headers, b"".join(map(record, entries)))

    # -- interfaces -------------------------------------------------------------------

    async def connections(self, req: Request, args: list[str]) -> Response:
        only = _query(req, "snap")
        if only and only not in self.manager.state.snaps:
            raise SnapNotFoundError(f'snap "{only}" not found', value=only)
        return sync_response(connections_json(
            installed_infos(self.manager), parse_conns(self.manager.state.conns),
            select_all=_query(req, "select") == "all", snap=only))

    async def interfaces(self, req: Request, args: list[str]) -> Response:
        return sync_response(interfaces_json(
            installed_infos(self.manager), parse_conns(self.manager.state.conns),
            select=_query(req, "select"),
            names=[n for n in _query(req, "names").split(",") if n],
            doc=_query(req, "doc") == "true", with_plugs=_query(req, "plugs") == "true",
            with_slots=_query(req, "slots") == "true"))

    async def post_interfaces(self, req: Request, args: list[str]) -> Response:
        """``snap connect``/``disconnect``: one plug and one slot reference each."""
        body = await _json_body(req)
        action = body.get("action")
        plugs, slots = body.get("plugs"), body.get("slots")
        if action not in ("connect", "disconnect"):
            raise BadRequest(f"unsupported interfaces action {json.dumps(action or '')}")
        if not (isinstance(plugs, list) and isinstance(slots, list) and len(plugs) == 1
                and len(slots) == 1 and isinstance(plugs[0], dict)
                and isinstance(slots[0], dict)):
            raise BadRequest("at most one plug and slot reference can be given")
        plug, slot = plugs[0], slots[0]
        refs = (str(plug.get("snap") or ""), str(plug.get("plug") or ""),
                str(slot.get("snap") or ""), str(slot.get("slot") or ""))
        infos = installed_infos(self.manager)
        conns = parse_conns(self.manager.state.conns)
        if action == "connect":
            change = connect_change(self.manager, resolve_connect(infos, *refs))
        else:
            change = disconnect_change(self.manager, resolve_disconnect(infos, conns, *refs),
                                       forget=body.get("forget") is True)
        return async_response(change.id)

    # -- aliases and warnings -------------------------------------------------------

    async def aliases(self, req: Request, args: list[str]) -> Response:
        return sync_response({})

    async def post_aliases(self, req: Request, args: list[str]) -> Response:
        await _json_body(req)
        raise Unavailable("usersnap does not manage aliases yet")

    async def warnings(self, req: Request, args: list[str]) -> Response:
        return sync_response([])

    async def post_warnings(self, req: Request, args: list[str]) -> Response:
        body = await _json_body(req)
        if body.get("action") != "okay":
            raise BadRequest(f"unknown warning action {json.dumps(body.get('action') or '')}")
        return sync_response(None)


class SnapctlApi:
    """The snap socket (snapd's /run/snapd-snap.socket): ``POST /v2/snapctl`` only.

    The socket is 0666 as snapd's is, so that a sandbox can be given it; the caller must
    still be the daemon's owner, who is snapd's root here (every snapctl command is
    allowed to it; nobody else may use it at all).
    """

    def __init__(self, manager: SnapManager, owner_uid: int) -> None:
        self.manager = manager
        self.owner_uid = owner_uid

    async def handle(self, req: Request) -> Response:
        try:
            if req.path.rstrip("/") != "/v2/snapctl":
                raise NotFoundError("not found")
            if req.method != "POST":
                raise MethodNotAllowed(f"method {req.method} not allowed")
            if req.peer.uid != self.owner_uid:
                raise Forbidden(f"cannot use snapctl with uid {req.peer.uid}: usersnapd "
                                f"serves uid {self.owner_uid}")
            return await self._snapctl(req)
        except UsersnapError as err:
            return error_response(err)

    async def _snapctl(self, req: Request) -> Response:
        raw = await req.read_body(limit=1 << 20)
        try:
            body = json.loads(raw or b"{}")
        except ValueError as err:
            raise BadRequest(f"cannot decode snapctl request: {err}") from err
        argv = body.get("args") if isinstance(body, dict) else None
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise BadRequest("cannot decode snapctl request: args must be a list of strings")
        if not argv:
            raise BadRequest("snapctl cannot run without args")
        context = self.manager.context_for(str(body.get("context-id") or ""))
        try:
            stdout, stderr = run_snapctl(context, argv, self.manager)
        except Unsuccessful as err:
            return error_response(_UnsuccessfulError(str(err), value=unsuccessful_value(err)),
                                  status=200)
        except SnapctlError as err:
            raise BadRequest(f"error running snapctl: {err.message}") from None
        if context is not None and context.ephemeral:
            # an app's snapctl acts at once (snapd's ephemeral context Done)
            await self.manager.commit_context(context)
        return sync_response({"stdout": stdout, "stderr": stderr})


class _UnsuccessfulError(UsersnapError):
    kind = "unsuccessful"


def _revision(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise BadRequest(f"invalid snap revision: {text!r}")
    return int(text)


def _query(req: Request, key: str) -> str:
    values = req.query.get(key)
    return values[0] if values else ""


async def _json_body(req: Request, into: str = "snap instruction") -> dict[str, object]:
    """A JSON object body; ``into`` names it in snapd's "cannot decode" message."""
    raw = await req.read_body(limit=1 << 20)
    try:
        body = json.loads(raw or b"{}")
    except ValueError as err:
        raise BadRequest(f"cannot decode request body into {into}: {err}") from err
    if not isinstance(body, dict):
        raise BadRequest(f"cannot decode request body into {into}")
    return body


def _on_mount(path: str, mount: Path) -> bool:
    try:
        return os.stat(path).st_dev == os.stat(mount).st_dev
    except OSError:
        return False  # load_try_dir says what is wrong with the path


def _os_release() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return {"id": "linux", "version-id": ""}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return {"id": fields.get("ID", "linux"), "version-id": fields.get("VERSION_ID", "")}


def upload_dir(root: Path) -> Path:
    """Uploads land next to the blobs so the final move is a rename, not a copy."""
    path = root / "snaps"
    os.makedirs(path, exist_ok=True)
    return path
