"""The Snap Store's v2 API as snapd speaks it (store/store_action.go, store_download.go).

Endpoints: ``POST /v2/snaps/refresh`` (an ``install``/``download`` action resolves a name
and channel to a revision and its download), ``GET /v2/snaps/find``, ``GET
/v2/assertions/TYPE/KEY…``.  The store is ``USERSNAP_STORE_URL`` (default
api.snapcraft.io); proxies come from the usual ``https_proxy``/``http_proxy`` variables
(urllib's ProxyHandler); ``Snap-Device-*`` headers as snapd sends them.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from usersnap import __version__
from usersnap.errors import SnapNotFoundError, UsersnapError
from usersnap.sandbox.environment import dpkg_arch
from usersnap.store.channels import parse_channel

DEFAULT_URL = "https://api.snapcraft.io"
TIMEOUT = 30.0
#: the fields snapd asks for in a refresh action (the ones we use)
FIELDS = ["download", "revision", "version", "summary", "publisher", "snap-id", "type",
          "confinement", "base", "license", "description", "title"]


#: what snapd asks ``snaps/info`` for (store/details_v2.go, the ones shown)
INFO_FIELDS = ["title", "summary", "description", "license", "publisher", "snap-id",
               "channel-map", "revision", "version", "confinement", "type", "base",
               "download", "created-at"]


class StoreError(UsersnapError):
    """The store cannot be reached or answered with an error."""


class _NotFound(StoreError):
    """The store answered 404."""


@dataclass(frozen=True, slots=True)
class Installed:
    """An installed store snap, as a refresh action's context describes it."""

    name: str
    snap_id: str
    revision: int
    tracking: str
    #: revisions reverted from (kept after the current one): no update to them
    #: (snapd's SnapState.Block)
    block: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreSnap:
    name: str
    snap_id: str
    revision: int
    version: str
    summary: str
    publisher: Mapping[str, str]
    download_url: str
    size: int
    sha3_384: str
    channel: str

    def json(self) -> dict[str, object]:
        """snapd's REST snap object for a store result (``snap find`` reads it)."""
        return {"id": self.snap_id, "name": self.name, "version": self.version,
                "revision": str(self.revision), "summary": self.summary,
                "publisher": dict(self.publisher), "developer": self.publisher.get("username", ""),
                "channel": self.channel, "download-size": self.size, "type": "app",
                "status": "available"}


def _snap(raw: Mapping[str, Any], channel: str = "") -> StoreSnap:
    download = raw.get("download") or {}
    pub = raw.get("publisher") or {}
    try:
        return StoreSnap(
            name=str(raw["name"]), snap_id=str(raw.get("snap-id", "")),
            revision=int(raw.get("revision", 0)), version=str(raw.get("version", "")),
            summary=str(raw.get("summary", "")),
            publisher={k: str(pub.get(k, "")) for k in ("id", "username", "display-name",
                                                         "validation")},
            download_url=str(download.get("url", "")), size=int(download.get("size", 0)),
            sha3_384=str(download.get("sha3-384", "")), channel=channel)
    except (KeyError, TypeError, ValueError) as e:
        raise StoreError(f"cannot decode the store's answer: {e}") from None


class StoreClient:
    def __init__(self, base_url: str | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.base_url = (base_url or env.get("USERSNAP_STORE_URL") or DEFAULT_URL).rstrip("/")
        self.headers = {
            "User-Agent": f"usersnap/{__version__}",
            "Snap-Device-Series": "16",
            "Snap-Device-Architecture": dpkg_arch(),
            "Snap-Classic": "true",
        }
        if env.get("USERSNAP_STORE_ID"):
            self.headers["Snap-Device-Store"] = env["USERSNAP_STORE_ID"]
        self._opener = urllib.request.build_opener()

    def open(self, url: str, *, data: bytes | None = None,
             headers: Mapping[str, str] | None = None) -> Any:
        """One request; any network failure becomes one line naming the store."""
        req = urllib.request.Request(url, data=data, headers={**self.headers, **(headers or {})})
        try:
            return self._opener.open(req, timeout=TIMEOUT)
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", None) or e
            reason = getattr(reason, "strerror", None) or str(reason)
            raise StoreError(f"cannot reach the store at {self.base_url}: {reason}") from None

    def _json(self, path: str, body: object | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        try:
            with self.open(self.base_url + path, data=data, headers=hdrs) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            message = _error_message(e.read()) or f"HTTP {e.code}"
            raise (_NotFound if e.code == 404 else StoreError)(
                f"store error: {message}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise StoreError("cannot decode the store's answer: not JSON") from None

    def resolve(self, name: str, channel: str | None = None, revision: int | None = None,
                action_name: str = "download") -> StoreSnap:
        """snapd's install/download action: which revision ``name`` is at on ``channel``."""
        action: dict[str, object] = {"action": action_name,
                                     "instance-key": f"{action_name}-1", "name": name}
        if revision is not None:
            action["revision"] = revision
        else:
            action["channel"] = str(parse_channel(channel or "stable"))
        answer = self._json("/v2/snaps/refresh", {"context": [], "actions": [action],
                                                  "fields": FIELDS})
        for result in answer.get("results") or []:
            if result.get("result") == "error":
                raise _action_error(name, channel, result.get("error") or {})
            return _snap(result.get("snap") or {}, str(result.get("effective-channel", "")))
        for err in answer.get("error-list") or []:
            raise StoreError(f"store error: {err.get('message', err)}")
        raise SnapNotFoundError(f'snap "{name}" not found', value=name)

    def refresh(self, installed: list[Installed], channel: str | None = None
                ) -> tuple[list[StoreSnap], dict[str, UsersnapError]]:
        """snapd's refresh actions (store_action.go): one per installed snap, its
        snap-id, revision and tracking channel in the context; ``channel`` switches the
        channel of each.  Returns the newer revisions, and the errors by snap name; the
        store answering with the revision installed means no update."""
        if not installed:
            return [], {}
        ask = None if channel is None else str(parse_channel(channel))
        by_key = {i.snap_id: i for i in installed}
        context = [{"snap-id": i.snap_id, "instance-key": i.snap_id, "revision": i.revision,
                    "tracking-channel": i.tracking or "latest/stable", "epoch": {"read": [0],
                                                                                "write": [0]}}
                   for i in installed]
        actions = [{"action": "refresh", "instance-key": i.snap_id, "snap-id": i.snap_id,
                    **({"channel": ask} if ask else {})} for i in installed]
        answer = self._json("/v2/snaps/refresh", {"context": context, "actions": actions,
                                                  "fields": FIELDS})
        found: list[StoreSnap] = []
        errors: dict[str, UsersnapError] = {}
        for result in answer.get("results") or []:
            cur = by_key.get(str(result.get("instance-key")))
            if cur is None:
                continue
            if result.get("result") == "error":
                errors[cur.name] = _action_error(
                    cur.name, ask or cur.tracking, result.get("error") or {})
                continue
            snap = _snap(result.get("snap") or {}, str(result.get("effective-channel", "")))
            if snap.revision != cur.revision and snap.revision not in cur.block:
                found.append(snap)
        for err in answer.get("error-list") or []:
            raise StoreError(f"store error: {err.get('message', err)}")
        return found, errors

    def info(self, name: str) -> Mapping[str, Any]:
        """``GET /v2/snaps/info/NAME``: the snap and its channel map (snapd's SnapInfo)."""
        q = urllib.parse.urlencode({"fields": ",".join(INFO_FIELDS),
                                    "architecture": self.headers["Snap-Device-Architecture"]})
        try:
            answer = self._json(f"/v2/snaps/info/{urllib.parse.quote(name, safe='')}?{q}")
        except _NotFound:
            raise SnapNotFoundError(f'snap "{name}" not found', value=name) from None
        if not isinstance(answer, dict):
            raise StoreError("cannot decode the store's answer: not an object")
        return answer

    def find(self, query: str) -> list[StoreSnap]:
        q = urllib.parse.urlencode({"q": query, "fields": ",".join(FIELDS)})
        answer = self._json(f"/v2/snaps/find?{q}")
        return [_snap({"name": r.get("name"), "snap-id": r.get("snap-id"), **(r.get("snap")
                                                                            or {})})
                for r in answer.get("results") or []]

    def assertion(self, type_: str, key: list[str]) -> bytes:
        path = "/".join(urllib.parse.quote(k, safe="") for k in key)
        url = f"{self.base_url}/v2/assertions/{type_}/{path}"
        try:
            with self.open(url, headers={"Accept": "application/x.ubuntu.assertion"}) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            raise StoreError(f"cannot fetch {type_} assertion {'/'.join(key)}: "
                             f"{_error_message(e.read()) or f'HTTP {e.code}'}") from None


def _error_message(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    errors = body.get("error-list") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))
    return ""


def _action_error(name: str, channel: str | None, err: Mapping[str, Any]) -> UsersnapError:
    """snapd's wording for the action errors ``snap install``/``download`` show."""
    code = err.get("code")
    if code == "name-not-found":
        return SnapNotFoundError(f'snap "{name}" not found', value=name)
    if code == "revision-not-found" and channel:
        return StoreError(f'snap "{name}" is not available on {channel}')
    if code == "revision-not-found":
        return StoreError(f'snap "{name}" revision not found')
    return StoreError(f"store error: {err.get('message', code)}")
