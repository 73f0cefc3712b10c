from __future__ import annotations

from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.ops.recover import recover
from usersnap.state.model import RevisionState, SnapState, State


def test_recover_removes_what_state_does_not_own(tmp_path: Path) -> None:
    dirs = Dirs(root=tmp_path, runtime=tmp_path / "run", home=tmp_path, uid=1000)
    dirs.snaps.mkdir(parents=True)
    keep = dirs.blob("a", "x1")
    keep.write_text("")
    dirs.blob("a", "x2").write_text("")          # committed? no: orphan from a crash
    (dirs.snaps / ".upload-1234").write_text("")  # half-received upload
    for tree in (dirs.data_dir("a"), dirs.user_data_dir("a")):
        for sub in ("x1", "x2", "common", ".x2.copying"):
            (tree / sub).mkdir(parents=True)
        (tree / "current").symlink_to("x1")
    dirs.data_dir("gone").mkdir(parents=True)
    state = State(snaps={"a": SnapState("a", (RevisionState("x1", "1", 0.0),), "x1")})

    removed = recover(dirs, state)

    assert keep.exists()
    assert sorted(p.name for p in dirs.snaps.iterdir()) == ["a_x1.snap"]
    for tree in (dirs.data_dir("a"), dirs.user_data_dir("a")):
        assert sorted(p.name for p in tree.iterdir()) == ["common", "current", "x1"]
    assert not dirs.data_dir("gone").exists()
    assert len(removed) == 7
