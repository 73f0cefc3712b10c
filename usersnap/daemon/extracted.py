"""The snap tree without FUSE: every revision extracted read-only on disk.

When FUSE cannot be used (no usable ``/dev/fuse``, no ``fusermount3``: containers, some
CI runners) or ``USERSNAP_NO_FUSE=1`` asks for it, usersnapd serves installed revisions
from ``<root>/cache/extracted/NAME/REVISION`` (see :mod:`usersnap.snapfile.extract`), with
``NAME/current`` a relative symlink, and makes ``Dirs.mount`` a symlink to that directory.
Everything that reads the mount (the CLI, hooks, services, the sandbox's ``/snap``) then
finds the same layout as on the FUSE mount.  ``usersnap try`` is refused in this mode
(the API says why), and a revision tried earlier over FUSE is reported broken.  The cost
is the extraction: time and disk at install (and once per revision already installed
when the mode is first used), which is why FUSE is preferred whenever it works.

Same methods as :class:`usersnap.fusefs.tree.SnapTree` for the manager; ``materialize``
does the slow part in the caller's worker thread, ``add_revision`` only checks it is done.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from usersnap.fusefs.tree import CURRENT, check_name
from usersnap.snapfile.extract import PARTIAL, extract, remove_tree
from usersnap.snapfile.source import SnapSource

log = logging.getLogger(__name__)


class ExtractedTree:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.uid = os.getuid()
        self.gid = os.getgid()
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob(f"*/*{PARTIAL}"):  # a crash mid-extraction
            remove_tree(leftover)
        self._images: dict[tuple[str, str], SnapSource] = {}

    def _path(self, name: str, revision: str) -> Path:
        check_name("snap name", name)
        check_name("revision", revision)
        return self.directory / name / revision

    def materialize(self, name: str, revision: str, image: SnapSource, *,
                    mutable: bool = False, source_dir: str | None = None) -> None:
        """Extract the revision unless it already is: revisions never change, so an
        extraction from an earlier start is kept."""
        if mutable:
            raise OSError(errno.EOPNOTSUPP, f"tried directory {source_dir} needs FUSE")
        path = self._path(name, revision)
        if os.path.lexists(path):
            return
        path.parent.mkdir(exist_ok=True)
        log.info("extracting %s %s (FUSE is not used)", name, revision)
        extract(image, path, f"{name} {revision}")

    def add_revision(self, name: str, revision: str, image: SnapSource, *,
                     mutable: bool = False) -> None:
        if not os.path.lexists(self._path(name, revision)):
            raise ValueError(f"revision {revision} of snap {name} was not extracted")
        self._images[(name, revision)] = image

    def remove_revision(self, name: str, revision: str) -> SnapSource | None:
        """Delete the extracted tree; the image is closed here (as the FUSE tree does
        once unused), and returned so the caller does not close it again."""
        path = self._path(name, revision)
        remove_tree(path)
        if path.parent.is_dir() and not any(p.name != CURRENT for p in path.parent.iterdir()):
            remove_tree(path.parent)
        image = self._images.pop((name, revision), None)
        if image is not None:
            image.close()
        return image

    def set_current(self, name: str, revision: str | None) -> None:
        snap_dir = self.directory / name
        link = snap_dir / CURRENT
        if revision is None:
            if os.path.lexists(link):
                link.unlink()
            if snap_dir.is_dir() and not any(snap_dir.iterdir()):
                snap_dir.rmdir()
            return
        self._path(name, revision)
        snap_dir.mkdir(exist_ok=True)
        tmp = snap_dir / f".{CURRENT}.tmp"
        if os.path.lexists(tmp):
            tmp.unlink()
        os.symlink(revision, tmp)
        os.replace(tmp, link)

    def retain(self, revisions: set[tuple[str, str]]) -> None:
        """Delete extracted revisions the state no longer has (a crash between the
        state's commit and the deletion)."""
        for snap_dir in self.directory.iterdir():
            for path in snap_dir.iterdir() if snap_dir.is_dir() else ():
                if path.name != CURRENT and (snap_dir.name, path.name) not in revisions:
                    remove_tree(path)
