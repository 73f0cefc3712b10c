"""snap.yaml files judged by Debian's snapd 2.57.6 (``snap pack --check-skeleton``).

Each ``invalid/NAME.yaml`` has snapd's exact message in ``NAME.err``; each
``valid/NAME.yaml`` is accepted, with snapd's "bad plugs or slots" notice in
``NAME.notice`` when it printed one.  Only cases whose verdict and message do not
depend on Go's random map order are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usersnap.errors import SnapYamlError
from usersnap.meta import SnapInfo, parse_snap_yaml, validate_snap
from usersnap.meta.interfaces import bad_interfaces_summary
from usersnap.snapfile.container import norm_path

DATA = Path(__file__).resolve().parents[2] / "data" / "snap-yaml"
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
VALID = sorted((DATA / "valid").glob("*.yaml"))


def _utf8(path: Path) -> bool:
    """tests.helpers.snapd_oracle reads snapd's output as strict UTF-8; yaml.v2 can cut a
    character in half when it shortens a value in an error."""
    try:
        for each in (path, path.with_suffix(".err")):
            if each.exists():
                each.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: A sample, to keep the run short.
ORACLE_SAMPLE = [path for path in INVALID[::9] + VALID[::9] if _utf8(path)]


def _text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _check(data: bytes) -> SnapInfo:
    info = parse_snap_yaml(data)
    validate_snap(info)
    return info


def _command_files(data: bytes) -> dict[str, int]:
    """The files the apps need, so that snapd judges the metadata, not missing files."""
    try:
        info = parse_snap_yaml(data)
    except SnapYamlError:
        return {}
    files = {}
    for app in info.apps.values():
        for command in (app.command, app.stop_command, app.reload_command, app.post_stop_command):
            if norm_path(command) and not norm_path(command).startswith("meta"):
                files[norm_path(command)] = 0o755
        if norm_path(app.completer):
            files[norm_path(app.completer)] = 0o644
    return files


def test_corpus_is_there() -> None:
    assert len(INVALID) > 300
    assert len(VALID) > 100


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid(path: Path) -> None:
    with pytest.raises(SnapYamlError) as err:
        _check(path.read_bytes())
    assert str(err.value) == _text(path.with_suffix(".err"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid(path: Path) -> None:
    info = _check(path.read_bytes())
    notice = path.with_suffix(".notice")
    expected = _text(notice) if notice.exists() else ""
    summary = bad_interfaces_summary(info.name, info.bad_interfaces) if info.bad_interfaces else ""
    assert summary == expected


@pytest.mark.requires_snapd
@pytest.mark.parametrize("path", ORACLE_SAMPLE, ids=lambda p: p.stem)
def test_oracle_agrees(path: Path, tmp_path: Path) -> None:
    """The stored verdicts are still snapd's."""
    from tests.helpers.snapd_oracle import oracle_check

    root = tmp_path / "snap"
    (root / "meta").mkdir(parents=True)
    data = path.read_bytes()
    (root / "meta" / "snap.yaml").write_bytes(data)
    for rel, mode in _command_files(data).items():
        target = root / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("#!/bin/sh\n")
            target.chmod(mode)
        except OSError:
            continue  # a command path no file can have; snapd reports it missing, not bad
    for directory, _, _ in os.walk(root):
        Path(directory).chmod(0o755)
    accepted, message = oracle_check(root)
    if path.parent.name == "valid":
        assert accepted, message
    else:
        assert not accepted
        assert message == _text(path.with_suffix(".err"))
