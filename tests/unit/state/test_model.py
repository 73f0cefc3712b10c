from __future__ import annotations

from dataclasses import replace

import pytest

from usersnap.state.model import (
    RevisionState,
    SnapState,
    State,
    add_revision,
    drop_revision,
    from_json,
    revision_sort_key,
    to_json,
)


def rev(r: str) -> RevisionState:
    return RevisionState(revision=r, version="1.0", installed_at=1.0)


def test_local_revisions_count_up_from_x1() -> None:
    snap, _ = add_revision(None, "hello", rev("x1"), "app")
    assert snap.next_local_revision() == "x2"
    snap, _ = add_revision(snap, "hello", rev("x2"), "app")
    assert snap.next_local_revision() == "x3"


def test_numbering_restarts_when_no_local_revision_is_kept() -> None:
    snap = SnapState(name="hello", sequence=(rev("12"),), current="12")
    assert snap.next_local_revision() == "x1"


def test_only_two_revisions_are_retained() -> None:
    snap, dropped = add_revision(None, "hello", rev("x1"), "app")
    snap, dropped = add_revision(snap, "hello", rev("x2"), "app")
    assert dropped == ()
    snap, dropped = add_revision(snap, "hello", rev("x3"), "app")
    assert [r.revision for r in dropped] == ["x1"]
    assert [r.revision for r in snap.sequence] == ["x2", "x3"]
    assert snap.current == "x3"


def test_drop_revision_moves_current_and_empties() -> None:
    snap = SnapState(name="a", sequence=(rev("x1"), rev("x2")), current="x2")
    after = drop_revision(snap, "x2")
    assert after is not None and after.current == "x1"
    assert drop_revision(SnapState(name="a", sequence=(rev("x1"),), current="x1"), "x1") is None


def test_json_round_trip() -> None:
    snap, _ = add_revision(None, "hello", rev("x1"), "app")
    state = State(snaps={"hello": snap}, last_change_id=7)
    assert from_json(to_json(state)) == state


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level is not an object"),
        ({"schema-version": 99}, "unsupported schema-version 99"),
        ({"schema-version": 1, "snaps": {"a": {"sequence": [], "current": "x1"}}},
         "snap 'a' has no current revision"),
    ],
)
def test_bad_state_is_refused(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_json(data)


def test_revision_order() -> None:
    assert sorted(["x10", "3", "x2", "12"], key=revision_sort_key) == ["x2", "x10", "3", "12"]


def test_config_health_and_cookies_round_trip_and_follow_refreshes() -> None:
    snap, _ = add_revision(None, "hello", rev("x1"), "app")
    snap = replace(snap, config={"a": {"b": [1, "x"]}}, health={"status": "okay"})
    state = State(snaps={"hello": snap}).with_cookie("c1", "hello").with_cookie("c2", "gone")
    loaded = from_json(to_json(state))
    assert loaded.snaps == state.snaps
    assert loaded.cookies == {"c1": "hello"}  # cookies of snaps not in the state are dropped
    assert state.cookie_of("hello") == "c1" and state.with_cookie(None, "hello").cookies == {
        "c2": "gone"}
    refreshed, _ = add_revision(snap, "hello", rev("x2"), "app")
    assert refreshed.config == snap.config and refreshed.health == snap.health


def test_tracking_round_trips_follows_refreshes_and_is_optional() -> None:
    snap, _ = add_revision(None, "hello", rev("7"), "app")
    assert "tracking" not in to_json(State(snaps={"hello": snap}))["snaps"]["hello"]  # type: ignore[index]
    tracked = replace(snap, tracking="latest/beta")
    loaded = from_json(to_json(State(snaps={"hello": tracked})))
    assert loaded.snaps["hello"].tracking == "latest/beta"
    refreshed, _ = add_revision(tracked, "hello", rev("8"), "app")
    assert refreshed.tracking == "latest/beta"
