"""Build real snap directories and SquashFS images for tests."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

#: snapd's mksquashfs options (snap/squashfs/squashfs.go: Build) for app snaps.
SNAPD_MKSQUASHFS_FLAGS = ("-noappend", "-no-fragments", "-no-progress", "-all-root", "-no-xattrs")


def write_snap_dir(
    root: Path,
    snap_yaml: str,
    files: Mapping[str, str | bytes] | None = None,
    executables: Iterable[str] = (),
) -> Path:
    """Write ``meta/snap.yaml`` and ``files`` under ``root``; ``executables`` get mode 0755."""
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "snap.yaml").write_text(textwrap.dedent(snap_yaml))
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content))
        path.chmod(0o644)
    for rel in executables:
        (root / rel).chmod(0o755)
    return root


def mksquashfs(
    src: Path, out: Path, comp: str = "xz", extra: Iterable[str] = (), snapd_flags: bool = True
) -> Path:
    """Build ``out`` from ``src`` with mksquashfs (snapd's flags unless told otherwise)."""
    args = ["mksquashfs", str(src), str(out), "-comp", comp]
    args += SNAPD_MKSQUASHFS_FLAGS if snapd_flags else ("-noappend", "-no-progress")
    args += list(extra)
    subprocess.run(args, check=True, capture_output=True, timeout=300)
    return out


def build_snap(
    tmp: Path,
    snap_yaml: str,
    files: Mapping[str, str | bytes] | None = None,
    executables: Iterable[str] = (),
    comp: str = "xz",
    name: str = "test.snap",
) -> Path:
    src = write_snap_dir(tmp / (name + ".d"), snap_yaml, files, executables)
    return mksquashfs(src, tmp / name, comp=comp)
