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
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import trio

from usersnap import __version__
from usersnap.daemon.envelope import (
    Response,
    async_response,
    error_response,
    rfc3339,
    sync_response,
)
from usersnap.daemon.http import Request
from usersnap.daemon.manager import SnapManager
from usersnap.daemon.services import app_json
from usersnap.daemon.snapctl import SnapctlError, Unsuccessful, run_snapctl, unsuccessful_value
from usersnap.errors import (
    AppNotFoundError,
    NotFoundError,
    SnapNotFoundError,
    UsersnapError,
)
from usersnap.meta.model import SnapInfo
from usersnap.sandbox.environment import dpkg_arch
from usersnap.snapfile.load import load_snap_file, load_try_dir
from usersnap.state.model import RevisionState, SnapState

log = logging.getLogger(__name__)

#: Largest snap accepted by upload (snapd has no limit; this bounds a runaway client).
MAX_UPLOAD = 8 << 30
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


#: What a snapd without a store answers for a store-only query.
NO_STORE = "usersnap has no store: it installs local .snap files only"
#: snapd's doc URL for an interface (interfaces/builtin: docURL)
DOC_URL = "https://snapcraft.io/docs/{}-interface"


class Api:
    def __init__(self, manager: SnapManager, upload_dir: Path) -> None:
        self.manager = manager
        self.upload_dir = upload_dir
        self._routes: list[tuple[str, tuple[str, ...], Route]] = [
            ("GET", ("v2", "system-info"), self.system_info),
            ("GET", ("v2", "snaps"), self.list_snaps),
            ("POST", ("v2", "snaps"), self.post_snaps),
            ("GET", ("v2", "snaps", "*"), self.get_snap),
            ("POST", ("v2", "snaps", "*"), self.post_snap),
            ("GET", ("v2", "snaps", "*", "conf"), self.get_conf),
            ("PUT", ("v2", "snaps", "*", "conf"), self.put_conf),
            ("GET", ("v2", "find"), self.find),
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
                         "socket": str(dirs.socket)},
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
        apps = [app_json(snap.name, app, info) for app in info.apps.values()]
        extra: dict[str, object] = {}
        if snap.health is not None and active:
            extra["health"] = dict(snap.health)
        return {
            "id": "",
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
            "channel": "",
            "tracking-channel": "",
            "developer": "",
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
            raise BadRequest(f"unsupported multi-snap operation {body.get('action')!r}")
        form = await req.multipart(self.upload_dir, max_file_bytes=MAX_UPLOAD)
        if form.fields.get("action") == "try":
            for part in form.files:
                part.path.unlink(missing_ok=True)
            return await self._try(form.fields.get("snap-path"))
        try:
            if form.fields.get("action", "install") != "install":
                raise BadRequest(f"unsupported action {form.fields.get('action')!r}")
            if len(form.files) != 1:
                raise BadRequest("cannot find \"snap\" file field in provided multipart/form-data")
            upload = form.files[0]
            display = form.fields.get("snap-path") or upload.filename
            if form.fields.get("dangerous") != "true":
                raise BadRequest(
                    f'cannot find signatures with metadata for snap "{display}"')
            loaded = await trio.to_thread.run_sync(load_snap_file, upload.path)
            # from here on the change owns the upload (and removes it when it fails)
            change = self.manager.install(upload.path, loaded, display)
        except BaseException:
            for part in form.files:
                part.path.unlink(missing_ok=True)
            raise
        return async_response(change.id)

    async def _try(self, path: str | None) -> Response:
        """snapd's trySnap: the client sends the directory's absolute path, no file."""
        if not path:
            raise BadRequest("need 'snap-path' value in form")
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
        if action == "remove":
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
        assert self.manager.changes is not None
        return sync_response(self.manager.changes.get(args[0]).to_json())

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
        raw = await req.read_body(limit=1 << 20)
        try:
            patch = json.loads(raw or b"{}")
        except ValueError as err:
            raise BadRequest(f"cannot decode request body into patch values: {err}") from err
        if not isinstance(patch, dict):
            raise BadRequest("cannot decode request body into patch values: not an object")
        return async_response(self.manager.configure(args[0], patch).id)

    # -- the store --------------------------------------------------------------------

    async def find(self, req: Request, args: list[str]) -> Response:
        raise Unavailable(NO_STORE)

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

    async def list_apps(self, req: Request, args: list[str]) -> Response:
        """``snap services``: services are listed, never supervised (issue #6)."""
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
                found.append(app_json(snap, app, info))
            for app_name in apps:
                if app_name not in info.apps:
                    what = "service" if select == "service" else "app"
                    raise AppNotFoundError(f'snap "{snap}" has no {what} "{app_name}"')
            if names and not found:
                raise AppNotFoundError(f'snap "{snap}" has no services')
            out.extend(found)
        return sync_response(out)

    async def post_apps(self, req: Request, args: list[str]) -> Response:
        body = await _json_body(req)
        raise Unavailable(f"cannot {body.get('action') or 'control'} services: usersnap does "
                          "not supervise services yet")

    async def logs(self, req: Request, args: list[str]) -> Response:
        """No service runs, so there is nothing to log: an empty json-seq stream."""
        names = [n for n in _query(req, "names").split(",") if n]
        for snap, info, apps in self._infos(names):
            if not any(a.daemon for a in info.apps.values() if not apps or a.name in apps):
                raise AppNotFoundError(f'snap "{snap}" has no services')
        return Response(200, {"Content-Type": "application/json-seq"}, b"")

    # -- interfaces -------------------------------------------------------------------

    async def connections(self, req: Request, args: list[str]) -> Response:
        """Plugs and slots from snap.yaml; nothing is connected before issue #4, so only
        ``select=all`` lists them (snapd lists connected ones otherwise)."""
        everything = _query(req, "select") == "all"
        only = _query(req, "snap")
        if only and only not in self.manager.state.snaps:
            raise SnapNotFoundError(f'snap "{only}" not found', value=only)
        plugs: list[dict[str, object]] = []
        slots: list[dict[str, object]] = []
        if everything:
            for snap, info, _ in self._infos([only] if only else []):
                plugs += (_endpoint(snap, "plug", p.name, p.interface, p.attrs)
                          for p in sorted(info.plugs.values(), key=lambda p: p.name))
                slots += (_endpoint(snap, "slot", s.name, s.interface, s.attrs)
                          for s in sorted(info.slots.values(), key=lambda s: s.name))
        return sync_response({"established": [], "undesired": [], "plugs": plugs,
                              "slots": slots})

    async def interfaces(self, req: Request, args: list[str]) -> Response:
        """Interfaces in use by installed snaps (usersnap has no registry with summaries
        yet); ``select=connected`` is empty as nothing is connected."""
        if _query(req, "select") != "all" and not _query(req, "names"):
            return sync_response([])
        names = {n for n in _query(req, "names").split(",") if n}
        found: dict[str, dict[str, object]] = {}
        for snap, info, _ in self._infos([]):
            for kind, items in (("plugs", info.plugs.values()), ("slots", info.slots.values())):
                for item in items:
                    if names and item.interface not in names:
                        continue
                    entry = found.setdefault(item.interface, {
                        "name": item.interface, "summary": "",
                        "doc-url": DOC_URL.format(item.interface), "plugs": [], "slots": []})
                    side = kind[:-1]
                    endpoints = entry[kind]
                    assert isinstance(endpoints, list)
                    endpoints.append(_endpoint(snap, side, item.name, item.interface,
                                               item.attrs))
        out = []
        for name in sorted(found):
            entry = found[name]
            if _query(req, "doc") != "true":
                entry.pop("doc-url")
            for kind in ("plugs", "slots"):
                if _query(req, kind) != "true":
                    entry.pop(kind)
            out.append(entry)
        return sync_response(out)

    async def post_interfaces(self, req: Request, args: list[str]) -> Response:
        body = await _json_body(req)
        raise Unavailable(f"cannot {body.get('action') or 'change'} interfaces: usersnap has no "
                          "interface connections yet")

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


def _endpoint(snap: str, side: str, name: str, interface: str, attrs: Mapping[str, object]
              ) -> dict[str, object]:
    out: dict[str, object] = {"snap": snap, side: name, "interface": interface}
    if attrs:
        out["attrs"] = _plain(attrs)
    return out


def _plain(value: object) -> object:
    """snap.yaml attributes (read-only mappings, tuples) as JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _query(req: Request, key: str) -> str:
    values = req.query.get(key)
    return values[0] if values else ""


async def _json_body(req: Request) -> dict[str, object]:
    raw = await req.read_body(limit=1 << 20)
    try:
        body = json.loads(raw or b"{}")
    except ValueError as err:
        raise BadRequest(f"cannot decode request body into snap instruction: {err}") from err
    if not isinstance(body, dict):
        raise BadRequest("cannot decode request body into snap instruction")
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
