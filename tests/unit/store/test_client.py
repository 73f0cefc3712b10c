"""The store client's pure parts: headers, configuration, error wording."""

from __future__ import annotations

import pytest

from usersnap.cli.commands.install import channel_note
from usersnap.daemon.storeops import info_json
from usersnap.errors import SnapNotFoundError
from usersnap.store.client import (
    DEFAULT_URL,
    Installed,
    StoreClient,
    StoreError,
    _action_error,
    _snap,
)


def test_configuration_from_environment() -> None:
    assert StoreClient(environ={}).base_url == DEFAULT_URL
    client = StoreClient(environ={"USERSNAP_STORE_URL": "http://h:1/", "USERSNAP_STORE_ID": "s"})
    assert client.base_url == "http://h:1"
    assert client.headers["Snap-Device-Series"] == "16"
    assert client.headers["Snap-Device-Store"] == "s"


def test_action_errors() -> None:
    assert isinstance(_action_error("x", None, {"code": "name-not-found"}), SnapNotFoundError)
    assert str(_action_error("x", "beta", {"code": "revision-not-found"})) == \
        'snap "x" is not available on beta'
    assert str(_action_error("x", None, {"code": "other", "message": "m"})) == "store error: m"


def test_malformed_snap_object() -> None:
    with pytest.raises(StoreError, match="cannot decode the store's answer"):
        _snap({"revision": 1})
    snap = _snap({"name": "a", "revision": "3", "download": {"size": 5, "sha3-384": "d"}})
    assert (snap.revision, snap.size, snap.json()["revision"]) == (3, 5, "3")


def test_refresh_keeps_newer_revisions_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store answers with the installed revision when nothing is newer, and a
    revision reverted from (snapd's Block) is no update either."""
    sent: list[object] = []

    def answer(self: StoreClient, path: str, body: object = None) -> object:
        sent.append(body)
        snap = {"name": "a", "snap-id": "ida", "download": {"size": 1, "sha3-384": "d"}}
        return {"results": [
            {"result": "refresh", "instance-key": "ida", "snap": {**snap, "revision": 5}},
            {"result": "refresh", "instance-key": "idb",
             "snap": {**snap, "name": "b", "snap-id": "idb", "revision": 3}},
            {"result": "refresh", "instance-key": "idc",
             "snap": {**snap, "name": "c", "snap-id": "idc", "revision": 9}},
            {"result": "error", "instance-key": "idd", "error": {"code": "revision-not-found"}},
        ]}

    monkeypatch.setattr(StoreClient, "_json", answer)
    installed = [Installed("a", "ida", 4, "latest/stable"), Installed("b", "idb", 3, ""),
                 Installed("c", "idc", 7, "latest/beta", block=(9,)),
                 Installed("d", "idd", 1, "latest/edge")]
    found, errors = StoreClient(environ={}).refresh(installed)
    assert [(s.name, s.revision) for s in found] == [("a", 5)]
    assert str(errors["d"]) == 'snap "d" is not available on latest/edge'
    body = sent[0]
    assert isinstance(body, dict)
    assert body["context"][1]["tracking-channel"] == "latest/stable"  # untracked: stable
    assert body["actions"][0] == {"action": "refresh", "instance-key": "ida", "snap-id": "ida"}
    StoreClient(environ={}).refresh(installed[:1], "beta")
    assert sent[1]["actions"][0]["channel"] == "latest/beta"  # type: ignore[index]


def test_remote_info_json() -> None:
    answer = {"name": "a", "snap-id": "ida", "snap": {"summary": "s", "publisher": {
        "username": "u", "validation": "verified"}}, "channel-map": [
        {"channel": {"track": "2", "risk": "edge", "released-at": "2020-01-02T00:00:00Z"},
         "revision": 4, "version": "2.1", "download": {"size": 10}},
        {"channel": {"track": "latest", "risk": "stable"}, "revision": 3, "version": "1"}]}
    out = info_json(answer)
    assert out["tracks"] == ["latest", "2"]
    assert out["channels"] == {
        "2/edge": {"revision": "4", "version": "2.1", "channel": "2/edge",
                   "confinement": "strict", "size": 10,
                   "released-at": "2020-01-02T00:00:00Z"},
        "latest/stable": {"revision": "3", "version": "1", "channel": "latest/stable",
                          "confinement": "strict", "size": 0, "released-at": ""}}
    assert (out["id"], out["developer"], out["status"]) == ("ida", "u", "available")


@pytest.mark.parametrize(("channel", "note"), [
    ("", ""), ("latest/stable", ""), ("stable", ""), ("latest/beta", " (beta)"),
    ("2.0/stable", " (2.0/stable)"), ("latest/edge/fix", " (edge/fix)")])
def test_channel_note(channel: str, note: str) -> None:
    assert channel_note(channel) == note
