"""Extraction for the no-FUSE mode, from a directory source (the same Inode records an
image gives): modes made read-only, symlinks kept as they are, nothing left on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from usersnap.errors import SnapFileError
from usersnap.snapfile.dirsource import DirSource
from usersnap.snapfile.extract import extract, remove_tree
from usersnap.snapfile.source import Inode


def make_tree(root: Path) -> None:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_text("#!/bin/sh\n")
    (root / "bin" / "tool").chmod(0o4775)  # setuid and group-writable in the source
    (root / "data").mkdir(mode=0o777)
    (root / "data" / "big").write_bytes(os.urandom(3 << 20))
    (root / "escape").symlink_to("/etc")
    (root / "rel").symlink_to("bin/tool")


def test_extract_keeps_content_and_makes_it_read_only(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    source = DirSource(tmp_path / "src")
    try:
        extract(source, tmp_path / "out", "demo x1")
    finally:
        source.close()
    out = tmp_path / "out"
    assert (out / "data" / "big").read_bytes() == (tmp_path / "src" / "data" / "big").read_bytes()
    assert stat.S_IMODE((out / "bin" / "tool").stat().st_mode) == 0o555
    assert stat.S_IMODE((out / "data").stat().st_mode) == 0o555
    assert os.readlink(out / "escape") == "/etc" and os.readlink(out / "rel") == "bin/tool"
    assert not (tmp_path / "out.partial").exists()
    remove_tree(out)
    assert not out.exists()


class Failing(DirSource):
    """A source whose second file is damaged."""

    def read(self, ino: Inode, offset: int, size: int) -> bytes:
        if ino.size > 1 << 20:
            raise SnapFileError("demo x1: data/big: damaged block")
        return super().read(ino, offset, size)


def test_a_failure_leaves_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    source = Failing(tmp_path / "src")
    try:
        with pytest.raises(SnapFileError, match="damaged block"):
            extract(source, tmp_path / "out", "demo x1")
    finally:
        source.close()
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_a_leftover_partial_tree_is_replaced(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    stale = tmp_path / "out.partial" / "junk"
    stale.mkdir(parents=True)
    stale.chmod(0o500)
    source = DirSource(tmp_path / "src")
    try:
        extract(source, tmp_path / "out", "demo x1")
    finally:
        source.close()
    assert not (tmp_path / "out" / "junk").exists() and (tmp_path / "out" / "bin").is_dir()
