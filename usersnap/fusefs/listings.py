"""Listings kept between the readdir calls of one pass over a live directory.

Directories are opened without a message (OPENDIR answers ENOSYS, and the kernel stops
sending it and RELEASEDIR): readdir gets the directory's inode and an offset, and there
is no handle to keep a listing on.  A pass over a live directory (the home view, a tried
revision) lists it once, at offset 0, and answers its later calls, one per reply page,
from that snapshot, so offsets stay consistent and a big directory is not listed again
per page.  The snapshot goes at the end of the pass; image directories need none (their
listings never change and are cached by the tree's index).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: Passes left unfinished (a reader that stopped early) kept at most: beyond, the
#: oldest goes, and its directory is listed again if its pass ever resumes.
PASSES = 256


class PassListings(Generic[T]):
    """The snapshot of each directory's current pass, by inode number."""

    def __init__(self, capacity: int = PASSES) -> None:
        self._capacity = capacity
        self._lists: dict[int, list[T]] = {}

    def get(self, ino: int, start_id: int, fresh: Callable[[], list[T]]) -> list[T]:
        """The pass's listing: ``fresh()`` at offset 0 (a new pass, or a rewind) and
        when the snapshot is gone; ``fresh`` may let the file system's lock go."""
        found = self._lists.get(ino) if start_id > 0 else None
        if found is None:
            found = fresh()
            self._lists.pop(ino, None)
            while len(self._lists) >= self._capacity:
                del self._lists[next(iter(self._lists))]
            self._lists[ino] = found
        return found

    def end(self, ino: int) -> None:
        """The pass reached the end of the directory (the kernel's last, empty call)."""
        self._lists.pop(ino, None)

    def __len__(self) -> int:
        return len(self._lists)
