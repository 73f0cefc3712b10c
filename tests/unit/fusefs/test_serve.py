from __future__ import annotations

from pathlib import Path

import pytest

from usersnap.errors import MountError
from usersnap.fusefs.operations import SnapFS
from usersnap.fusefs.serve import _absolute, _unescape, clear_stale_mount, is_mounted, serve_snapfs
from usersnap.fusefs.tree import SnapTree


def test_mountinfo_escapes() -> None:
    assert _unescape(rb"/run/user/1000/with\040space\011tab\134back") == \
        b"/run/user/1000/with space\ttab\\back"
    assert _unescape(b"/plain") == b"/plain"


def test_only_the_parent_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    assert _absolute(tmp_path / "alias" / "mnt") == str(tmp_path.resolve() / "real" / "mnt")
    assert _absolute(Path("/")) == "/"


def test_is_mounted_reads_mountinfo(tmp_path: Path) -> None:
    assert is_mounted(Path("/proc"))
    assert not is_mounted(tmp_path)


def test_clear_stale_mount_leaves_other_things_alone(tmp_path: Path) -> None:
    clear_stale_mount(tmp_path)  # not a mount point
    clear_stale_mount(tmp_path / "missing")
    with pytest.raises(MountError, match="a proc filesystem is mounted there"):
        clear_stale_mount(Path("/proc"))


async def test_serve_refuses_a_bad_mountpoint(tmp_path: Path) -> None:
    with pytest.raises(MountError, match="cannot mount snaps"):
        await serve_snapfs(tmp_path / "missing", SnapFS(SnapTree()))
