"""Layout sources created in the snap's data: snap-update-ns's modes, never through symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usersnap.layouts.plan import SourceCreate
from usersnap.layouts.validate import LayoutError
from usersnap.sandbox.nsops import create_sources


def source(root: Path, path: str, kind: str = "dir") -> SourceCreate:
    return SourceCreate("/etc/demo", str(root), path, kind,  # type: ignore[arg-type]
                        f"/var/snap/demo/{path}")


def test_directories_and_files_are_created_0755_whatever_the_umask(tmp_path: Path) -> None:
    (tmp_path / "common").mkdir()
    old = os.umask(0o077)
    try:
        create_sources([source(tmp_path, "common/etc"), source(tmp_path, "common/etc/demo"),
                        source(tmp_path, "common/etc/demo.conf", "file")])
    finally:
        os.umask(old)
    assert (tmp_path / "common/etc/demo").stat().st_mode & 0o7777 == 0o755
    conf = tmp_path / "common/etc/demo.conf"
    assert conf.read_bytes() == b"" and conf.stat().st_mode & 0o7777 == 0o755


def test_existing_sources_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir(mode=0o700)
    (tmp_path / "etc/demo.conf").write_text("kept")
    create_sources([source(tmp_path, "etc"), source(tmp_path, "etc/demo.conf", "file")])
    assert (tmp_path / "etc").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "etc/demo.conf").read_text() == "kept"


def test_symlinks_planted_in_the_data_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "etc").symlink_to(outside)
    with pytest.raises(LayoutError) as err:
        create_sources([source(data, "etc/demo")])
    assert err.value.message == ('cannot set up layout "/etc/demo": cannot open directory '
                                 '"/var/snap/demo/etc": not a directory')
    (data / "conf").symlink_to(outside / "conf")
    with pytest.raises(LayoutError) as err:
        create_sources([source(data, "conf", "file")])
    assert err.value.message.endswith(
        'cannot create file "/var/snap/demo/conf": too many levels of symbolic links')
    assert list(outside.iterdir()) == []


def test_a_directory_where_a_file_is_wanted_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "demo.conf").mkdir()
    with pytest.raises(LayoutError) as err:
        create_sources([source(tmp_path, "demo.conf", "file")])
    assert err.value.message.endswith('cannot create file "/var/snap/demo/demo.conf": '
                                      "not a regular file")
