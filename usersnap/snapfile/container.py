"""Snap contents as snapd's ``snap.Container`` sees them, and ``ValidateContainer``
(``snap/container.go``): the files snap.yaml names must exist with usable modes.

snapd walks the tree without following symlinks, descending only into directories on
the way to a needed file and into meta/.  We check the same set of paths with
``lstat``: a needed path counts as present only if every directory above it is a real
directory, exactly the paths snapd's walk would reach.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from usersnap.errors import ContainerError
from usersnap.meta.gostd import go_clean, go_dir, go_quote
from usersnap.meta.model import SnapInfo
from usersnap.snapfile.source import SnapSource

log = logging.getLogger(__name__)

Stat = tuple[int, int]


class SnapContainer(Protocol):
    """Read access to a snap's files by path relative to its root ("." is the root)."""

    def lstat(self, path: str) -> Stat | None:
        """(st_mode, size) without following a final symlink; None if absent."""

    def read(self, path: str) -> bytes:
        """The file's bytes; OSError if it cannot be read."""

    def listdir(self, path: str) -> list[str] | None:
        """Entry names of a directory; None if ``path`` is not a readable directory."""


class DirContainer:
    """An unpacked snap directory (``snap pack``'s input)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, path: str) -> str:
        return os.path.join(self.root, path)

    def lstat(self, path: str) -> Stat | None:
        try:
            st = os.lstat(self._path(path))
        except OSError:
            return None
        return st.st_mode, st.st_size

    def read(self, path: str) -> bytes:
        with open(self._path(path), "rb") as f:
            return f.read()

    def listdir(self, path: str) -> list[str] | None:
        try:
            return sorted(os.listdir(self._path(path)))
        except OSError:
            return None


class ImageContainer:
    """A .snap (SquashFS) image, or a tried directory read as one (``DirSource``: no
    symlink followed); the caller owns and closes the image."""

    def __init__(self, image: SnapSource) -> None:
        self.image = image

    def lstat(self, path: str) -> Stat | None:
        try:
            inode = self.image.resolve(path)
        except OSError:
            return None
        return inode.mode, inode.size

    def read(self, path: str) -> bytes:
        return self.image.read_all(self.image.resolve(path))

    def listdir(self, path: str) -> list[str] | None:
        try:
            inode = self.image.resolve(path)
        except OSError:
            return None
        if not inode.is_dir:
            return None
        return [os.fsdecode(name) for name, _ in self.image.listdir(inode)]


class MissingFilesError(ContainerError):
    """Files snap.yaml names are absent (``snap pack --check-skeleton`` tolerates this)."""


class BadModesError(ContainerError):
    """Files snap.yaml names, or files under meta/, have modes snapd refuses."""


def norm_path(path: str) -> str:
    """snapd's ``normPath``: the file a command refers to, "" if none or outside the snap."""
    if not path:
        return ""
    path = go_clean(path).removeprefix("/")
    if path.startswith("../"):
        return ""
    return path.partition(" ")[0]


def _ancestors(path: str) -> Iterator[str]:
    path = go_dir(path)
    while path != ".":
        yield path
        path = go_dir(path)


def _needs(info: SnapInfo) -> tuple[set[str], set[str], set[str], set[str]]:
    """The paths needing r+x, x, r, and to be regular files (``ValidateContainer``'s bags)."""
    needs_rx = {".", "meta"}
    needs_x: set[str] = set()
    needs_r = {"meta/snap.yaml"}
    needs_f: set[str] = set()
    for app in info.apps.values():
        paths = [app.command]
        if app.is_service:
            paths += [app.stop_command, app.reload_command, app.post_stop_command]
        for raw in paths:
            path = norm_path(raw)
            if not path:
                continue
            needs_f.add(path)
            if app.is_service:
                needs_x.add(path)  # its directories need only be walkable, not checked
            else:
                needs_rx.add(path)
                needs_rx.update(_ancestors(path))
        completer = norm_path(app.completer)
        if completer:
            needs_r.add(completer)
            needs_rx.update(_ancestors(completer))
    needs_f |= needs_r
    needs_x -= needs_rx
    needs_r -= needs_rx
    both = needs_x & needs_r
    needs_x -= both
    needs_r -= both
    needs_rx |= both
    return needs_rx, needs_x, needs_r, needs_f


def go_mode_string(mode: int) -> str:
    """Go's ``os.FileMode.String()`` for a stat mode (``drwxr-xr-x``, ``Lrwxrwxrwx``)."""
    kinds = ""
    fmt = stat.S_IFMT(mode)
    if fmt == stat.S_IFDIR:
        kinds += "d"
    if fmt == stat.S_IFLNK:
        kinds += "L"
    if fmt in (stat.S_IFBLK, stat.S_IFCHR):
        kinds += "D"
    if fmt == stat.S_IFIFO:
        kinds += "p"
    if fmt == stat.S_IFSOCK:
        kinds += "S"
    if mode & stat.S_ISUID:
        kinds += "u"
    if mode & stat.S_ISGID:
        kinds += "g"
    if fmt == stat.S_IFCHR:
        kinds += "c"
    if mode & stat.S_ISVTX:
        kinds += "t"
    perms = "".join(
        char if mode & (1 << (8 - index)) else "-" for index, char in enumerate("rwxrwxrwx")
    )
    return (kinds or "-") + perms


def validate_container(info: SnapInfo, container: SnapContainer) -> None:
    """snapd's ``ValidateContainer``: MissingFilesError wins over BadModesError; the
    per-file details are logged (as snapd does) and kept in the error's ``value``."""
    needs_rx, needs_x, needs_r, needs_f = _needs(info)
    prefix = f"in snap {go_quote(info.name)}: "
    problems: list[str] = []

    def reachable(path: str) -> Stat | None:
        if path == ".." or path.startswith("../"):
            return None
        for parent in _ancestors(path):
            st = container.lstat(parent)
            if st is None or not stat.S_ISDIR(st[0]):
                return None
        return container.lstat(path)

    def check(path: str, mode: int) -> None:
        shown = go_quote(path)
        if path in needs_rx or stat.S_ISDIR(mode):
            if mode & 0o555 != 0o555:
                problems.append(
                    f"{shown} should be world-readable and executable, and isn't: "
                    f"{go_mode_string(mode)}"
                )
            return
        if path in needs_f and stat.S_IFMT(mode) in (
            stat.S_IFDIR, stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFBLK, stat.S_IFCHR
        ):
            problems.append(f"{shown} should be a regular file (or a symlink) and isn't")
        if path in needs_x or path.startswith("meta/hooks/"):
            if mode & 0o111 == 0:
                problems.append(f"{shown} should be executable, and isn't: {go_mode_string(mode)}")
        elif mode & 0o444 != 0o444:
            problems.append(f"{shown} should be world-readable, and isn't: {go_mode_string(mode)}")

    missing = []
    for path in sorted(needs_rx | needs_x | needs_r):
        st = reachable(path)
        if st is None:
            missing.append(path)
        elif not path.startswith("meta/"):
            check(path, st[0])
    for path, mode in _walk_meta(container):
        check(path, mode)
    if missing:
        details = [f"{prefix}path {go_quote(path)} does not exist" for path in missing]
        for line in details:
            log.info("%s", line)
        raise MissingFilesError("snap is unusable due to missing files", value=details)
    if problems:
        details = [prefix + problem for problem in problems]
        for line in details:
            log.info("%s", line)
        raise BadModesError("snap is unusable due to bad permissions", value=details)


def _walk_meta(container: SnapContainer) -> Iterator[tuple[str, int]]:
    """Everything under meta/ (not following symlinks), which snapd always checks."""
    st = container.lstat("meta")
    if st is None or not stat.S_ISDIR(st[0]):
        return
    pending = ["meta"]
    while pending:
        directory = pending.pop()
        for name in container.listdir(directory) or ():
            path = f"{directory}/{name}"
            child = container.lstat(path)
            if child is None:
                continue
            yield path, child[0]
            if stat.S_ISDIR(child[0]):
                pending.append(path)
