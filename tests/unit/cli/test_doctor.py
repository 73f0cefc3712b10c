"""``usersnap doctor``'s checks on inputs of the test's making: each says what it found
and what to do, in one line."""

from __future__ import annotations

from pathlib import Path

from usersnap.cli.commands.doctor import (
    ERROR,
    OK,
    WARNING,
    Finding,
    check_bwrap,
    check_disk,
    check_fuse_device,
    check_fusermount,
    check_mount,
    check_path,
    render,
)
from usersnap.dirs import Dirs


def test_a_missing_fuse_device_is_a_warning_with_the_fix(tmp_path: Path) -> None:
    """usersnapd falls back to extracted copies without FUSE: not an error."""
    found = check_fuse_device(str(tmp_path / "fuse"))
    assert found.status == WARNING
    assert "No such file" in found.detail and "modprobe fuse" in found.detail
    assert "extracted copies" in found.detail
    unreadable = tmp_path / "dev"
    unreadable.write_text("")
    unreadable.chmod(0)
    found = check_fuse_device(str(unreadable))
    if found.status == WARNING:  # root opens anything
        assert "chmod 666" in found.detail


def test_missing_tools_are_reported(tmp_path: Path) -> None:
    assert check_fusermount(str(tmp_path)).status == WARNING
    found = check_bwrap(str(tmp_path))
    assert found.status == ERROR and "bubblewrap" in found.detail
    assert "\n" not in found.detail


def test_mount_absent_is_fine(tmp_path: Path) -> None:
    assert check_mount(tmp_path / "snap").status == OK


def test_disk_and_path(tmp_path: Path) -> None:
    assert check_disk(tmp_path / "not" / "yet").status in (OK, WARNING)
    dirs = Dirs(root=tmp_path, runtime=tmp_path / "run", home=tmp_path, uid=1000)
    found = check_path(dirs)
    assert found.status == WARNING and f'export PATH="{dirs.bin}:$PATH"' in found.detail


def test_render_aligns_one_line_per_check() -> None:
    text = render([Finding(OK, "fuse", "/dev/fuse usable"),
                   Finding(ERROR, "fusermount3", "missing")])
    assert text.splitlines() == ["ok       fuse         /dev/fuse usable",
                                 "error    fusermount3  missing"]
