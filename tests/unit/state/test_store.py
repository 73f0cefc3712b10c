from __future__ import annotations

from pathlib import Path

import pytest

from usersnap.state.model import RevisionState, SnapState, State
from usersnap.state.store import StateError, load_state, save_state


def test_missing_state_is_empty(tmp_path: Path) -> None:
    assert load_state(tmp_path / "state.json") == State()


def test_save_then_load(tmp_path: Path) -> None:
    snap = SnapState(name="a", sequence=(RevisionState("x1", "1", 2.0, 10),), current="x1")
    (tmp_path / "s").mkdir()
    path = tmp_path / "s" / "state.json"
    save_state(path, State(snaps={"a": snap}, last_change_id=3))
    assert load_state(path).snaps["a"] == snap
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left


def test_corrupt_state_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="cannot read state"):
        load_state(path)
