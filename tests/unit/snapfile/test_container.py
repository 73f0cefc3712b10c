"""validate_container: snapd's ValidateContainer on directories (verdicts checked against
``snap pack`` while writing it; the cases below pin them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.snaps import write_snap_dir
from usersnap.meta import parse_snap_yaml
from usersnap.snapfile.container import (
    BadModesError,
    DirContainer,
    MissingFilesError,
    go_mode_string,
    norm_path,
    validate_container,
)

APP = "name: probe\nversion: '1'\napps:\n  a:\n    command: bin/a --flag\n"
SERVICE = (
    "name: probe\nversion: '1'\napps:\n  s:\n    command: bin/s\n    daemon: simple\n"
    "    stop-command: bin/stop\n"
)


def check(root: Path, snap_yaml: str) -> None:
    validate_container(parse_snap_yaml(snap_yaml), DirContainer(root))


def make(tmp_path: Path, snap_yaml: str, modes: dict[str, int] | None = None) -> Path:
    root = write_snap_dir(tmp_path / "snap", snap_yaml, dict.fromkeys(modes or {}, "#!/bin/sh\n"))
    root.chmod(0o755)
    for rel, mode in (modes or {}).items():
        (root / rel).chmod(mode)
    return root


def test_good_app(tmp_path: Path) -> None:
    check(make(tmp_path, APP, {"bin/a": 0o755}), APP)


def test_missing_command(tmp_path: Path) -> None:
    with pytest.raises(MissingFilesError) as err:
        check(make(tmp_path, APP), APP)
    assert str(err.value) == "snap is unusable due to missing files"
    assert err.value.value == [
        'in snap "probe": path "bin" does not exist',
        'in snap "probe": path "bin/a" does not exist',
    ]


@pytest.mark.parametrize("mode", [0o644, 0o744, 0o754])
def test_command_not_world_executable(tmp_path: Path, mode: int) -> None:
    with pytest.raises(BadModesError) as err:
        check(make(tmp_path, APP, {"bin/a": mode}), APP)
    assert str(err.value) == "snap is unusable due to bad permissions"


def test_directory_on_the_way_must_be_world_readable(tmp_path: Path) -> None:
    root = make(tmp_path, APP, {"bin/a": 0o755})
    (root / "bin").chmod(0o711)
    with pytest.raises(BadModesError) as err:
        check(root, APP)
    assert err.value.value == [
        'in snap "probe": "bin" should be world-readable and executable, and isn\'t: drwx--x--x'
    ]


def test_services_need_only_an_executable_bit(tmp_path: Path) -> None:
    root = make(tmp_path, SERVICE, {"bin/s": 0o700, "bin/stop": 0o100})
    (root / "bin").chmod(0o700)
    check(root, SERVICE)


def test_symlinked_directory_is_not_followed(tmp_path: Path) -> None:
    root = make(tmp_path, APP, {"real/a": 0o755})
    os.symlink("real", root / "bin")
    with pytest.raises(MissingFilesError):
        check(root, APP)


def test_symlinked_command_is_fine(tmp_path: Path) -> None:
    root = make(tmp_path, APP, {"bin/real": 0o755})
    os.symlink("real", root / "bin" / "a")
    check(root, APP)


def test_everything_under_meta_is_checked(tmp_path: Path) -> None:
    snap_yaml = "name: probe\nversion: '1'\n"
    root = make(tmp_path, snap_yaml, {"meta/gui/icon.png": 0o600, "meta/hooks/install": 0o644})
    with pytest.raises(BadModesError) as err:
        check(root, snap_yaml)
    assert isinstance(err.value.value, list)
    assert sorted(err.value.value) == [
        'in snap "probe": "meta/gui/icon.png" should be world-readable, and isn\'t: -rw-------',
        'in snap "probe": "meta/hooks/install" should be executable, and isn\'t: -rw-r--r--',
    ]


def test_missing_wins_over_bad_modes(tmp_path: Path) -> None:
    snap_yaml = APP + "  b:\n    command: bin/b\n"
    with pytest.raises(MissingFilesError):
        check(make(tmp_path, snap_yaml, {"bin/a": 0o600}), snap_yaml)


def test_completer_needs_read_only(tmp_path: Path) -> None:
    snap_yaml = APP + "    completer: share/complete.sh\n"
    check(make(tmp_path, snap_yaml, {"bin/a": 0o755, "share/complete.sh": 0o644}), snap_yaml)


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ("bin/a --x", "bin/a"),
        ("/bin/a", "bin/a"),
        ("bin/../bin/a", "bin/a"),
        ("../x", ""),
        ("", ""),
        ("$SNAP/bin/a", "$SNAP/bin/a"),
        ("..", ".."),
    ],
)
def test_norm_path(command: str, path: str) -> None:
    assert norm_path(command) == path


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        (0o40755, "drwxr-xr-x"),
        (0o100644, "-rw-r--r--"),
        (0o120777, "Lrwxrwxrwx"),
        (0o104755, "urwxr-xr-x"),
        (0o41777, "dtrwxrwxrwx"),
        (0o20600, "Dcrw-------"),
    ],
)
def test_go_mode_string(mode: int, text: str) -> None:
    assert go_mode_string(mode) == text
