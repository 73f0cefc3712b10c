"""Which readdirplus replies describe a directory's files, not only its subdirectories.

A readdirplus entry with node id 0 is a plain directory entry: the kernel makes no
inode for it (``fuse_direntplus_link``).  Describing a file costs the kernel an inode
and a dentry on the walker's time and usersnapd a lookup to count: a cold ``find`` over
the bench's 8,000 files took 284 ms with every file described, 225 ms with none
(squashfuse_ll, which answers plain READDIR, 221).  A stat walk (``tar``, ``du``,
``ls -lR``) wants them: each file it stats undescribed is a LOOKUP round trip (349 ms
with, 874 without).

So subdirectories are always described (any walk enters them), and a directory's files
are when its parent's were, or when files of its parent were looked up after a pass
that left them out: a stat walk pays the lookups of its first directory, ``find`` none.
The state is per directory and forgotten oldest first; a directory unknown (its parent
never listed, or forgotten) leaves its files undescribed.
"""

from __future__ import annotations

#: Directories whose state is kept (a few dozen bytes each).
DIRECTORIES = 8192


class DescribedFiles:
    """For each directory listed lately, whether its files' attributes are wanted: they
    were described, or looked up after a pass that left them out."""

    def __init__(self, capacity: int = DIRECTORIES) -> None:
        self._capacity = capacity
        self._wanted: dict[int, bool] = {}

    def listing(self, directory: int, parent: int) -> bool:
        """Whether a readdirplus reply over ``directory`` (in ``parent``) describes its
        files; remembered, so that its subdirectories' replies follow it."""
        wanted = self._wanted
        describe = wanted.get(directory, False) or wanted.get(parent, False)
        if wanted.pop(directory, None) is None and len(wanted) >= self._capacity:
            del wanted[next(iter(wanted))]
        wanted[directory] = describe
        return describe

    def looked_up(self, directory: int) -> None:
        """A file (anything but a directory) of ``directory`` was looked up."""
        if self._wanted.get(directory) is False:
            self._wanted[directory] = True

    def __len__(self) -> int:
        return len(self._wanted)
