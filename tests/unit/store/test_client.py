"""The store client's pure parts: headers, configuration, error wording."""

from __future__ import annotations

import pytest

from usersnap.errors import SnapNotFoundError
from usersnap.store.client import DEFAULT_URL, StoreClient, StoreError, _action_error, _snap


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
