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
from usersnap.daemon.envelope import (
    Response,
    async_response,
    error_response,
    rfc3339,
    sync_response,
)
from usersnap.daemon.http import Request
from usersnap.daemon.manager import SnapManager
from usersnap.errors import NotFoundError, UsersnapError
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
            ("GET", ("v2", "changes"), self.list_changes),
            ("GET", ("v2", "changes", "*"), self.get_change),
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
        apps = []
        for app in info.apps.values():
            entry: dict[str, object] = {"snap": snap.name, "name": app.name}
            if app.daemon:
                entry.update({"daemon": app.daemon, "daemon-scope": app.daemon_scope or "system"})
            apps.append(entry)
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
