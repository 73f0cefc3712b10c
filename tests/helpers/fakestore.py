"""A loopback Snap Store: the v2 API subset usersnap speaks, serving snaps built in the
test with assertions signed by the test authority (tests/helpers/assertsign.py)."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers.assertsign import Signer
from usersnap.asserts.format import Assertion, encode_stream
from usersnap.asserts.verify import encode_digest


@dataclass
class Published:
    name: str
    snap_id: str
    revision: int
    version: str
    blob: bytes
    channels: tuple[str, ...]

    @property
    def sha3(self) -> str:
        return encode_digest(hashlib.sha3_384(self.blob).digest())


@dataclass
class FakeStore:
    signer: Signer
    account: Assertion
    snaps: list[Published] = field(default_factory=list)
    #: account-key assertions served by key id
    keys: list[Assertion] = field(default_factory=list)
    assertions: dict[tuple[str, ...], bytes] = field(default_factory=dict)
    #: (method, path, headers) of every request
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    #: cut the next download after this many bytes
    cut_after: int | None = None
    #: serve these bytes instead of the blob
    corrupt: bool = False
    url: str = ""

    def publish(self, name: str, version: str, revision: int, blob: bytes,
                channels: tuple[str, ...] = ("latest/stable",), snap_name: str | None = None,
                decl_revision: int = 0) -> Published:
        snap_id = (name + "0" * 32)[:32]
        pub = Published(name, snap_id, revision, version, blob, channels)
        self.snaps.append(pub)
        decl = self.signer.sign([
            ("type", "snap-declaration"), ("revision", str(decl_revision)), ("series", "16"),
            ("snap-id", snap_id), ("publisher-id", self.signer.account_id),
            ("snap-name", name if snap_name is None else snap_name),
            ("timestamp", "2020-01-01T00:00:00Z")])
        rev = self.signer.sign([
            ("type", "snap-revision"), ("snap-sha3-384", pub.sha3), ("snap-id", snap_id),
            ("snap-size", str(len(blob))), ("snap-revision", str(revision)),
            ("developer-id", self.signer.account_id), ("timestamp", "2020-01-01T00:00:00Z")])
        self.assertions[("snap-declaration", "16", snap_id)] = decl.encode()
        self.assertions[("snap-revision", pub.sha3)] = rev.encode()
        self.assertions[("account", self.signer.account_id)] = self.account.encode()
        return pub

    def info(self, name: str) -> dict[str, object] | None:
        """``GET /v2/snaps/info/NAME``: the channel map, the best revision per channel."""
        found = [p for p in self.snaps if p.name == name]
        if not found:
            return None
        best: dict[str, Published] = {}
        for p in found:
            for ch in p.channels:
                if ch not in best or best[ch].revision < p.revision:
                    best[ch] = p
        channel_map = []
        for ch, p in best.items():
            track, risk = ch.split("/")[:2]
            channel_map.append({
                "channel": {"architecture": "amd64", "name": ch.removeprefix("latest/"),
                            "track": track, "risk": risk,
                            "released-at": "2020-01-02T03:04:05.000000+00:00"},
                "revision": p.revision, "version": p.version, "confinement": "strict",
                "download": {"size": len(p.blob), "sha3-384": p.sha3}})
        snap = self.snap_json(found[0])
        snap["description"] = f"All about {name}."
        snap["license"] = "MIT"
        return {"name": name, "snap-id": found[0].snap_id, "snap": snap,
                "channel-map": channel_map}

    def snap_json(self, p: Published, channel: str = "") -> dict[str, object]:
        return {"name": p.name, "snap-id": p.snap_id, "revision": p.revision,
                "version": p.version, "summary": f"the {p.name} snap",
                "publisher": {"id": self.signer.account_id, "username": self.signer.account_id,
                              "display-name": "Test Root", "validation": "verified"},
                "download": {"url": f"{self.url}/download/{p.name}_{p.revision}.snap",
                             "size": len(p.blob), "sha3-384": p.sha3},
                **({"channel": channel} if channel else {})}

    def action(self, action: dict[str, object],
               context: dict[str, dict[str, object]]) -> dict[str, object]:
        """An install/download action (by name), or a refresh action (by snap-id, its
        channel or the context's tracking channel; the best revision there, which may
        be the one installed, as the real store answers)."""
        if action.get("action") == "refresh":
            current = context[str(action["snap-id"])]
            name = next((p.name for p in self.snaps if p.snap_id == action["snap-id"]), None)
            action = {**action, "name": name,
                      "channel": action.get("channel") or current["tracking-channel"]}
        else:
            name = action.get("name")
        candidates = [p for p in self.snaps if p.name == name]
        base = {"instance-key": action.get("instance-key"), "name": name}
        if not candidates:
            return {**base, "result": "error",
                    "error": {"code": "name-not-found", "message": "No snap named"}}
        if "revision" in action:
            found = [p for p in candidates if p.revision == action["revision"]]
            channel = ""
        else:
            channel = str(action.get("channel"))
            found = [p for p in candidates if channel in p.channels]
        if not found:
            return {**base, "result": "error",
                    "error": {"code": "revision-not-found", "message": "No revision"}}
        best = max(found, key=lambda p: p.revision)
        return {**base, "result": action.get("action"), "snap-id": best.snap_id,
                "effective-channel": channel, "snap": self.snap_json(best)}


def _handler(store: FakeStore) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            store.requests.append(("POST", self.path, dict(self.headers)))
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v2/snaps/refresh":
                self._send(404, b"{}")
                return
            context = {str(c["snap-id"]): c for c in body.get("context") or []}
            results = [store.action(a, context) for a in body["actions"]]
            self._send(200, json.dumps({"results": results}).encode())

        def do_GET(self) -> None:
            store.requests.append(("GET", self.path, dict(self.headers)))
            url = urllib.parse.urlsplit(self.path)
            parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
            if parts[:3] == ["v2", "snaps", "find"]:
                q = urllib.parse.parse_qs(url.query).get("q", [""])[0]
                results = [{"name": p.name, "snap-id": p.snap_id, "snap": store.snap_json(p)}
                           for p in store.snaps if q in p.name]
                self._send(200, json.dumps({"results": results}).encode())
            elif parts[:3] == ["v2", "snaps", "info"]:
                info = store.info(parts[3])
                if info is None:
                    self._send(404, json.dumps({"error-list": [
                        {"code": "resource-not-found", "message": "No snap named"}]}).encode())
                else:
                    self._send(200, json.dumps(info).encode())
            elif parts[:2] == ["v2", "assertions"]:
                key = tuple(parts[2:])
                if key[:1] == ("account-key",):
                    found = [a for a in store.keys if a.primary_key == key[1:]]
                    data = encode_stream(found) if found else None
                else:
                    data = store.assertions.get(key)
                if data is None:
                    self._send(404, json.dumps({"error-list": [
                        {"code": "not-found", "message": "not found"}]}).encode())
                else:
                    self._send(200, data, "application/x.ubuntu.assertion")
            elif parts[:1] == ["download"]:
                self._download(parts[1])
            else:
                self._send(404, b"{}")

        def _download(self, file: str) -> None:
            pub = next(p for p in store.snaps if f"{p.name}_{p.revision}.snap" == file)
            data = b"X" * len(pub.blob) if store.corrupt else pub.blob
            start = 0
            rng = self.headers.get("Range")
            if rng:
                start = int(rng.removeprefix("bytes=").split("-")[0])
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if store.cut_after is not None:
                self.wfile.write(data[start:start + store.cut_after])
                store.cut_after = None
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data[start:])

    return Handler


@contextmanager
def serve(store: FakeStore) -> Iterator[FakeStore]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    store.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield store
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
