"""bwrap setup operations: a closed set of small values that render their own options.

Planners (:mod:`usersnap.sandbox.plan`, later the layout planner) produce tuples of these
and never touch the disk; :func:`usersnap.sandbox.bwrap.bwrap_argv` concatenates
``to_args()`` in order, because bwrap applies its setup operations in command-line order
(a mount point must exist before something is mounted under it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias


def _perms(mode: int | None) -> list[str]:
    return [] if mode is None else ["--perms", f"{mode:04o}"]


@dataclass(frozen=True, slots=True)
class Bind:
    """Read-write bind of a host path; ``optional`` skips a missing source (``--bind-try``)."""

    src: str
    dest: str
    optional: bool = False

    def to_args(self) -> list[str]:
        return ["--bind-try" if self.optional else "--bind", self.src, self.dest]


@dataclass(frozen=True, slots=True)
class PinnedBind(Bind):
    """A read-write bind of ``src`` (an existing entry the planner saw, ``dest`` itself)
    that nothing can redirect: the launcher opens it without following a symlink and
    puts that descriptor at ``fd`` (``bwrap.PINNED_FD`` on), and bwrap binds the
    descriptor.  One gone, or no longer a directory or file, by then is skipped, as
    ``--bind-try`` skips a missing source.  Else the entry could be swapped for a
    symlink to anywhere between planning and bwrap's mount, which follows it."""

    fd: int = -1

    def to_args(self) -> list[str]:
        return ["--bind-try", f"/proc/self/fd/{self.fd}", self.dest]


@dataclass(frozen=True, slots=True)
class RoBind:
    """Read-only (recursive) bind of a host path."""

    src: str
    dest: str
    optional: bool = False

    def to_args(self) -> list[str]:
        return ["--ro-bind-try" if self.optional else "--ro-bind", self.src, self.dest]


@dataclass(frozen=True, slots=True)
class DevBind:
    """Bind that keeps device nodes usable (plain binds are mounted nodev)."""

    src: str
    dest: str
    optional: bool = False

    def to_args(self) -> list[str]:
        return ["--dev-bind-try" if self.optional else "--dev-bind", self.src, self.dest]


@dataclass(frozen=True, slots=True)
class Tmpfs:
    """A fresh tmpfs; bwrap makes it 0755 unless ``mode`` says otherwise."""

    dest: str
    mode: int | None = None

    def to_args(self) -> list[str]:
        return [*_perms(self.mode), "--tmpfs", self.dest]


@dataclass(frozen=True, slots=True)
class Dir:
    """A directory (and its missing parents, 0755) created in whatever is mounted there."""

    dest: str
    mode: int | None = None

    def to_args(self) -> list[str]:
        return [*_perms(self.mode), "--dir", self.dest]


@dataclass(frozen=True, slots=True)
class Symlink:
    target: str
    dest: str

    def to_args(self) -> list[str]:
        return ["--symlink", self.target, self.dest]


@dataclass(frozen=True, slots=True)
class Proc:
    """A procfs for the sandbox's own pid namespace."""

    dest: str

    def to_args(self) -> list[str]:
        return ["--proc", self.dest]


@dataclass(frozen=True, slots=True)
class Dev:
    """bwrap's minimal /dev (null, zero, full, random, urandom, tty, a private devpts)."""

    dest: str

    def to_args(self) -> list[str]:
        return ["--dev", self.dest]


@dataclass(frozen=True, slots=True)
class Chmod:
    """Change the mode of something already set up (a mimic must copy its original's mode)."""

    path: str
    mode: int

    def to_args(self) -> list[str]:
        return ["--chmod", f"{self.mode:04o}", self.path]


@dataclass(frozen=True, slots=True)
class RemountRo:
    """Make one mount read-only, not its submounts (used on the root tmpfs, last)."""

    dest: str

    def to_args(self) -> list[str]:
        return ["--remount-ro", self.dest]


@dataclass(frozen=True, slots=True)
class SetEnv:
    """One variable of the app's environment (bwrap itself runs with an empty one)."""

    name: str
    value: str

    def to_args(self) -> list[str]:
        return ["--setenv", self.name, self.value]


Op: TypeAlias = (
    Bind | RoBind | DevBind | Tmpfs | Dir | Symlink | Proc | Dev | Chmod | RemountRo | SetEnv
)


# --- ops usersnap performs itself in the sandbox's namespace ------------------------------
#
# Layouts are applied the way snap-update-ns applies them: in the finished namespace,
# before the app starts (bwrap waits on ``--block-fd`` while the launcher joins the
# namespace and performs these; :mod:`usersnap.sandbox.nsops`).  Done by bwrap itself,
# a writable mimic of a big directory (one bind per entry) would cost seconds, since
# bwrap re-reads /proc/self/mountinfo for every mount, and overflow its 9000-argument
# limit (docs/layouts.md has the numbers).  Paths are sandbox paths; Dir, Symlink,
# Tmpfs and RemountRo mean what they mean to bwrap, Bind and RoBind are recursive binds
# (RoBind then makes its top mount read-only), and two more exist:


@dataclass(frozen=True, slots=True)
class File:
    """An empty file (mode 0755, as snap-update-ns creates it): a mount point or a source."""

    dest: str


@dataclass(frozen=True, slots=True)
class Mimic:
    """snap-update-ns's writable mimic of the directory ``dest``: its contents bound aside,
    a tmpfs with its mode mounted over it, every directory and file bound back (with
    what is mounted below them) and every symlink re-created; other special files are
    dropped, as snapd drops them.  The tmpfs stays writable until a RemountRo."""

    dest: str


NsOp: TypeAlias = Mimic | Dir | File | Symlink | Tmpfs | Bind | RoBind | RemountRo
