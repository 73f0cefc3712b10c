"""load_snap_dir / load_snap_file: read, validate and check a snap as snapd does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.snaps import build_snap, write_snap_dir
from usersnap.errors import ContainerError, SnapFileError, SnapYamlError
from usersnap.meta import SnapValidationError
from usersnap.snapfile.container import MissingFilesError
from usersnap.snapfile.load import load_snap_dir, load_snap_file

SNAP_YAML = """\
name: probe
version: '1.0'
plugs:
  net: network
apps:
  probe:
    command: bin/probe
"""


def snap_dir(tmp_path: Path, snap_yaml: str = SNAP_YAML, **files: str) -> Path:
    root = write_snap_dir(
        tmp_path / "src",
        snap_yaml,
        files or {"bin/probe": "#!/bin/sh\n"},
        executables=["bin/probe"] if not files else (),
    )
    root.chmod(0o755)
    return root


def test_load_dir(tmp_path: Path) -> None:
    info = load_snap_dir(snap_dir(tmp_path))
    assert (info.name, info.version, list(info.apps)) == ("probe", "1.0", ["probe"])


def test_load_dir_missing_snap_yaml(tmp_path: Path) -> None:
    with pytest.raises(SnapYamlError) as err:
        load_snap_dir(tmp_path)
    assert str(err.value) == f"open {tmp_path}/meta/snap.yaml: no such file or directory"


def test_load_dir_check_skeleton_tolerates_missing_files(tmp_path: Path) -> None:
    root = write_snap_dir(tmp_path / "src", SNAP_YAML)
    root.chmod(0o755)
    with pytest.raises(MissingFilesError):
        load_snap_dir(root)
    assert load_snap_dir(root, check_skeleton=True).name == "probe"


def test_load_dir_validates(tmp_path: Path) -> None:
    root = snap_dir(tmp_path, SNAP_YAML.replace("'1.0'", "'1.0 beta'"))
    with pytest.raises(SnapValidationError):
        load_snap_dir(root)


@pytest.mark.requires_mksquashfs
def test_load_file_adds_implicit_hooks(tmp_path: Path) -> None:
    image = build_snap(
        tmp_path,
        SNAP_YAML,
        {
            "bin/probe": "#!/bin/sh\n",
            "meta/hooks/install": "#!/bin/sh\n",
            "meta/hooks/not-a-hook": "#!/bin/sh\n",
        },
        executables=["bin/probe", "meta/hooks/install", "meta/hooks/not-a-hook"],
    )
    loaded = load_snap_file(image)
    try:
        assert loaded.info.name == "probe"
        install = loaded.info.hooks["install"]
        assert not install.explicit
        assert install.plugs == ("net",)
        assert list(loaded.info.hooks) == ["install"]
    finally:
        loaded.image.close()


@pytest.mark.requires_mksquashfs
def test_load_file_container_check(tmp_path: Path) -> None:
    image = build_snap(tmp_path, SNAP_YAML, {"bin/probe": "#!/bin/sh\n"})  # not executable
    with pytest.raises(ContainerError) as err:
        load_snap_file(image)
    assert str(err.value) == "snap is unusable due to bad permissions"


@pytest.mark.requires_mksquashfs
def test_load_file_implicit_hook_is_validated(tmp_path: Path) -> None:
    """A meta/hooks/ file with a supported but invalid hook name fails as at install."""
    image = build_snap(
        tmp_path,
        SNAP_YAML,
        {"bin/probe": "#!/bin/sh\n", "meta/hooks/connect-plug-a--b": "#!/bin/sh\n"},
        executables=["bin/probe", "meta/hooks/connect-plug-a--b"],
    )
    with pytest.raises(SnapValidationError) as err:
        load_snap_file(image)
    assert err.value.reason == 'invalid hook name: "connect-plug-a--b"'


@pytest.mark.requires_mksquashfs
def test_load_file_without_snap_yaml(tmp_path: Path) -> None:
    src = tmp_path / "empty"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "x").write_text("x")
    from tests.helpers.snaps import mksquashfs

    image = mksquashfs(src, tmp_path / "empty.snap")
    with pytest.raises(SnapYamlError) as err:
        load_snap_file(image)
    assert str(err.value).startswith('cannot read meta/snap.yaml in "')


def test_load_file_not_squashfs(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.snap"
    bogus.write_bytes(b"not a snap" * 100)
    with pytest.raises(SnapFileError):
        load_snap_file(bogus)
