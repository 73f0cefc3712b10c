"""The launcher opens the sources of pinned binds itself, never through a symlink."""

from __future__ import annotations

import os
from pathlib import Path

from usersnap.sandbox.process import _open_pinned


def test_only_directories_and_files_are_opened_and_never_followed(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / "swapped").symlink_to(".ssh")  # a directory replaced by a link since
    os.mkfifo(tmp_path / "fifo")
    pins = [(16 + i, str(tmp_path / name))
            for i, name in enumerate(("dir", "file", "swapped", "fifo", "gone"))]
    opened = _open_pinned(pins)
    try:
        assert sorted(opened) == [16, 17]
        assert os.fstat(opened[16]).st_ino == (tmp_path / "dir").stat().st_ino
        assert os.fstat(opened[17]).st_ino == (tmp_path / "file").stat().st_ino
    finally:
        for fd in opened.values():
            os.close(fd)
