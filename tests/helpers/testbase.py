"""A small base snap built from the host's own programs, laid out like ``core`` (real /bin
and /lib directories, no usr-merge symlinks), for tests that need an installed base."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.helpers.snaps import mksquashfs

TOOLS = ("sh", "cat", "ls", "stat", "readlink", "touch", "mkdir", "id", "true", "grep", "rm")
_LDD_PATH = re.compile(r"(/\S+) \(0x[0-9a-f]+\)")


def _libraries(program: str) -> set[str]:
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=False,
                         timeout=30).stdout
    return {match.group(1) for match in _LDD_PATH.finditer(out)}


def _copy(src: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(os.path.realpath(src), dest)
    dest.chmod(0o755)


def build_testbase(
    tmp: Path,
    files: Mapping[str, str] | None = None,
    dirs: Iterable[str] = (),
    modes: Mapping[str, int] | None = None,
    name: str = "testbase",
) -> Path:
    """``testbase.snap``: TOOLS in /bin with their libraries, ``files`` (path -> content),
    empty ``dirs`` and the base's usual top-level directories; ``modes`` set afterwards."""
    root = tmp / f"{name}.d"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "snap.yaml").write_text(
        f"name: {name}\nversion: '1'\nsummary: a test base\ntype: base\n")
    libraries: set[str] = set()
    for tool in TOOLS:
        found = shutil.which(tool)
        if found is None:
            raise RuntimeError(f"{tool} not found on the host")
        _copy(found, root / "bin" / tool)
        libraries |= _libraries(found)
    for library in libraries:
        _copy(library, root / library.lstrip("/"))
    for top in ("etc", "opt", "usr/bin", "usr/share", "var/lib", "var/cache", "var/tmp",
                "var/log", "dev", "proc", "sys", "tmp", "home", "run", "snap", "root", "mnt",
                "media", *dirs):
        (root / top).mkdir(parents=True, exist_ok=True)
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    for rel, mode in (modes or {}).items():
        (root / rel).chmod(mode)
    return mksquashfs(root, tmp / f"{name}.snap")
