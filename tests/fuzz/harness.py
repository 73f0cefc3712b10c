"""The fuzz targets' bodies, shared by the atheris runners (``fuzz_*.py``) and by the
pytest that replays the committed crashers (``tests/integration/test_hostile_images.py``).

A target may only fail with a :class:`UsersnapError`: anything else (a struct, codec,
ctypes or recursion error, a MemoryError) is a finding.  Work is capped so that a
hostile image cannot make one input take long: a bounded number of entries, and of
bytes read per file and in all.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from usersnap.errors import UsersnapError
from usersnap.meta.parse import parse_snap_yaml
from usersnap.meta.validate import validate_snap
from usersnap.snapfile.load import load_snap_file
from usersnap.snapfile.squashfs import SquashfsImage

MAX_ENTRIES = 2000
MAX_READ_PER_FILE = 256 * 1024
MAX_READ_TOTAL = 4 * 1024 * 1024


def walk_image(path: str | os.PathLike[str]) -> None:
    """Open the image, list every directory, read links, xattrs and (a bounded prefix
    and the tail of) every file; then load it as a snap, snap.yaml and all."""
    with SquashfsImage(path) as img:
        todo, seen, budget = [img.root], 0, MAX_READ_TOTAL
        while todo and seen < MAX_ENTRIES:
            for _name, ino in img.listdir(todo.pop()):
                seen += 1
                img.xattrs(ino)
                if ino.is_dir:
                    todo.append(ino)
                elif ino.is_symlink:
                    img.readlink(ino)
                elif ino.is_reg and budget > 0:
                    head = img.read(ino, 0, min(MAX_READ_PER_FILE, budget))
                    tail = img.read(ino, max(0, ino.size - 100), 100)
                    budget -= len(head) + len(tail)
    load_snap_file(path).image.close()


def fuzz_image(data: bytes) -> None:
    """One squashfs input: served from a memfd, so no file is left behind."""
    fd = os.memfd_create("fuzz.snap", os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        with contextlib.suppress(UsersnapError):
            walk_image(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def fuzz_snap_yaml(data: bytes) -> None:
    """One snap.yaml input: parsed and validated as an install would."""
    with contextlib.suppress(UsersnapError):
        validate_snap(parse_snap_yaml(data, hook_names=("install", "configure")))


def corpus_files(directory: Path) -> list[Path]:
    """The inputs of a corpus directory (dot files, like ``.keep``, are not inputs)."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
