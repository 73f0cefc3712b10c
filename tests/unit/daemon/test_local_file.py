"""usersnap's own client names its .snap instead of uploading it (copy_local_file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usersnap.daemon.http import BadRequestError, BodyTooLargeError, Peer, copy_local_file

ME = Peer(os.getpid(), os.getuid(), os.getgid())


async def test_copies_the_named_file(tmp_path: Path) -> None:
    blob = os.urandom(3 << 20)
    (tmp_path / "a.snap").write_bytes(blob)
    (tmp_path / "up").mkdir()
    got = await copy_local_file(str(tmp_path / "a.snap"), ME, tmp_path / "up",
                                field_name="snap", max_file_bytes=1 << 30)
    assert (got.field, got.filename, got.size) == ("snap", "a.snap", len(blob))
    assert got.path.parent == tmp_path / "up" and got.path.read_bytes() == blob


@pytest.mark.parametrize(("peer", "name", "limit", "error"), [
    (Peer(1, os.getuid() + 1, 0), "a.snap", 1 << 30, BadRequestError),
    (ME, "missing.snap", 1 << 30, BadRequestError),
    (ME, "dir", 1 << 30, BadRequestError),
    (ME, "fifo", 1 << 30, BadRequestError),
    (ME, "a.snap", 10, BodyTooLargeError),
])
async def test_refusals_leave_no_file(
    tmp_path: Path, peer: Peer, name: str, limit: int, error: type[Exception]
) -> None:
    (tmp_path / "a.snap").write_bytes(b"x" * 100)
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "up").mkdir()
    with pytest.raises(error):
        await copy_local_file(str(tmp_path / name), peer, tmp_path / "up",
                              field_name="snap", max_file_bytes=limit)
    assert list((tmp_path / "up").iterdir()) == []
