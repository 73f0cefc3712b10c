"""Read and check a snap the way snapd does before installing, trying or packing it:
meta/snap.yaml parsed, implicit hooks from meta/hooks/ added (installs and tries, like
``snap.ReadInfoFromSnapFile``), ``snap.Validate``, then ``ValidateContainer``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from usersnap.errors import ContainerError, SnapFileError, SnapYamlError, UsersnapError
from usersnap.meta.gostd import go_clean, go_quote
from usersnap.meta.model import SnapInfo
from usersnap.meta.parse import parse_snap_yaml
from usersnap.meta.validate import validate_snap
from usersnap.snapfile.container import (
    DirContainer,
    ImageContainer,
    MissingFilesError,
    validate_container,
)
from usersnap.snapfile.dirsource import DirSource
from usersnap.snapfile.source import SnapSource
from usersnap.snapfile.squashfs import SquashfsImage

SNAP_YAML = "meta/snap.yaml"


@dataclass
class LoadedSnap:
    """An open, validated snap image (or tried directory); the caller closes ``image``."""

    image: SnapSource
    info: SnapInfo


def load_snap_file(path: str | os.PathLike[str]) -> LoadedSnap:
    """Open a .snap and validate it; any failure is a UsersnapError with snapd's text
    (yaml type errors list one per line, as snapd does) and leaves nothing open."""
    image = SquashfsImage(path)
    try:
        container = ImageContainer(image)
        try:
            data = container.read(SNAP_YAML)
        except OSError as err:
            raise SnapYamlError(
                f"cannot read {SNAP_YAML} in {go_quote(os.fspath(path))}: {_reason(err)}"
            ) from None
        info = parse_snap_yaml(data, hook_names=container.listdir("meta/hooks") or ())
        validate_snap(info)
        validate_container(info, container)
    except BaseException:
        image.close()
        raise
    return LoadedSnap(image, info)


def load_try_dir(path: str, *, check_container: bool = True) -> LoadedSnap:
    """Open an unpacked snap for ``snap try`` through the :class:`DirSource` that will
    serve it, with the wording of snapd's ``trySnap`` and ``InstallPath``; nothing is
    left open on failure.  ``check_container=False`` re-reads an already tried one."""
    if not os.path.isabs(path):
        raise UsersnapError(f"cannot try {go_quote(path)}: need an absolute path")
    if not os.path.isdir(path):
        raise UsersnapError(f"cannot try {go_quote(path)}: not a snap directory")
    try:
        source = DirSource(path)
    except SnapFileError as err:
        raise UsersnapError(f"cannot read snap info for {path}: {err}") from None
    try:
        container = ImageContainer(source)
        if container.lstat(SNAP_YAML) is None:
            raise SnapFileError(f"{go_quote(path)} is not a snap or snapdir", value=path)
        try:
            data = container.read(SNAP_YAML)
            info = parse_snap_yaml(data, hook_names=container.listdir("meta/hooks") or ())
            validate_snap(info)
        except OSError as err:
            where = go_clean(os.path.join(path, SNAP_YAML))
            raise SnapYamlError(
                f"cannot read snap info for {path}: open {where}: {_reason(err)}") from None
        except SnapYamlError as err:
            raise SnapYamlError(f"cannot read snap info for {path}: {err}") from None
        if check_container:
            try:
                validate_container(info, container)
            except ContainerError as err:
                raise type(err)(f"cannot try {path}: {err}", value=err.value) from None
    except BaseException:
        source.close()
        raise
    return LoadedSnap(source, info)


def load_snap_dir(path: str | os.PathLike[str], *, check_skeleton: bool = False) -> SnapInfo:
    """Validate an unpacked snap as ``snap pack`` does (no implicit hooks at pack time);
    ``check_skeleton`` tolerates missing command files like ``snap pack --check-skeleton``."""
    container = DirContainer(Path(path))
    try:
        data = container.read(SNAP_YAML)
    except OSError as err:
        where = go_clean(os.path.join(os.fspath(path), SNAP_YAML))
        raise SnapYamlError(f"open {where}: {_reason(err)}") from None
    info = parse_snap_yaml(data)
    validate_snap(info)
    try:
        validate_container(info, container)
    except MissingFilesError:
        if not check_skeleton:
            raise
    return info


def _reason(err: OSError) -> str:
    """Go's spelling of an errno ("no such file or directory")."""
    return os.strerror(err.errno).lower() if err.errno else str(err)
