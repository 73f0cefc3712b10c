"""Tried revisions in state.json: an optional ``try-dir``, old files still readable."""

from __future__ import annotations

import pytest

from usersnap.state.model import RevisionState, State, add_revision, from_json, to_json


def test_try_dir_round_trip_and_only_written_when_set() -> None:
    snap, _ = add_revision(None, "hello", RevisionState("x1", "1.0", 1.0, 10), "app")
    snap, _ = add_revision(snap, "hello", RevisionState("x2", "1.1", 2.0, try_dir="/w/hello"),
                           "app")
    state = State(snaps={"hello": snap}, last_change_id=3)
    data = to_json(state)
    sequence = data["snaps"]["hello"]["sequence"]  # type: ignore[index]
    assert "try-dir" not in sequence[0] and sequence[1]["try-dir"] == "/w/hello"
    assert from_json(data) == state
    assert snap.next_local_revision() == "x3"  # a try is a local revision like a sideload


def test_a_file_from_before_try_existed_is_read() -> None:
    old = {"schema-version": 1, "last-change-id": 2, "snaps": {"hello": {
        "current": "x1", "active": True, "type": "app",
        "sequence": [{"revision": "x1", "version": "1.0", "installed-at": 1.0, "size": 5}]}}}
    state = from_json(old)
    assert state.snaps["hello"].sequence[0].try_dir is None
    assert to_json(state) == old


@pytest.mark.parametrize("bad", ["relative/dir", 7, ""])
def test_a_bad_try_dir_is_refused(bad: object) -> None:
    data = {"schema-version": 1, "snaps": {"hello": {"current": "x1", "sequence": [
        {"revision": "x1", "version": "1", "installed-at": 1.0, "try-dir": bad}]}}}
    with pytest.raises(ValueError, match="invalid try-dir"):
        from_json(data)
