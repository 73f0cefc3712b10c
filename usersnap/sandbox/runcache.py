"""The run cache: a warm ``usersnap run`` reuses its last plan when nothing it was made
from has changed, and so skips the daemon round trip, snap.yaml, planning and their
imports (issue #8: a warm run within 60 ms of bare bwrap).

A record (``<root>/cache/run/SNAP.APP``, written by a planned run of an app without
layouts) holds what :func:`usersnap.sandbox.process.start` needs apart from the caller's
environment and arguments — bwrap's options up to the environment, the seccomp
programs, the notices — plus the recipes that turn the caller's environment, the
snap's cookie and the arguments into the app's environment and argv, exactly as
planning does (``environment.apply_recipe``, ``command.command_line``).

It is reused only if its *fingerprint* still matches: ``lstat`` (and link target) of
every file the plan was made from — state.json (revisions, connections), the
revision's snap.yaml in the live FUSE mount (which also proves usersnapd is serving
it), the host facts' sources (``facts.fact_sources``), the seccomp programs, bwrap,
usersnap's own modules — and the values of the caller's environment variables that
planning looked up (``network``'s and ``x11``'s sockets, say).  Global inputs are
fingerprinted *before* planning reads them, so a change racing a planned run leaves a
record that no longer matches, never one that matches stale data.  Anything else —
no record, another Python, a stale mount — falls back to planning.

Snaps with layouts are not cached: their plan depends on what $SNAP_DATA holds at
each start.  This module imports only the standard library's C modules on a hit.
"""

# contextlib is not imported on the launch path.
# ruff: noqa: SIM105
from __future__ import annotations

import marshal
import os
import sys

from usersnap.roots import locate
from usersnap.sandbox.command import command_line
from usersnap.sandbox.environment import apply_recipe
from usersnap.sandbox.process import Launch, make_host_dirs, start

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from usersnap.sandbox.environment import EnvRecipe

#: Bumped when the record's layout changes; records of another version are misses.
RECORD_VERSION = 2


def record_path(root: str, snap: str, app: str) -> str:
    return f"{root}/cache/run/{snap}.{app}"


def _file_print(path: str) -> object:
    try:
        st = os.lstat(path)
    except OSError as err:
        return err.errno
    mark: tuple[object, ...] = (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns,
                                st.st_size, st.st_mode, st.st_uid)
    if (st.st_mode & 0o170000) == 0o120000:
        try:
            target = os.stat(path)
            mark += (os.readlink(path), target.st_ino, target.st_mtime_ns, target.st_size)
        except OSError as err:
            mark += (err.errno,)
    return mark


def code_files() -> list[str]:
    """usersnap's own modules: a changed planner invalidates every record."""
    found = []
    stack = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    found.append(entry.path)
    return sorted(found)


def file_prints(paths: Iterable[str]) -> tuple[object, ...]:
    return tuple(_file_print(path) for path in paths)


def fingerprint(prints: tuple[object, ...], env: Mapping[str, str], env_keys: Iterable[str]
                ) -> tuple[object, ...]:
    """What must be equal for a record to be reused: :func:`file_prints` of its paths
    and the looked-up environment (see the module's docstring)."""
    return (sys.version, os.getgid(), prints, tuple(env.get(key) for key in env_keys))


class Record:
    """One cached plan (see the module's docstring)."""

    __slots__ = ("argv", "env", "env_keys", "host_dirs", "launch", "paths", "revision",
                 "stamp")

    def __init__(self, *, launch: Launch, env: EnvRecipe,
                 argv: tuple[Sequence[str], Sequence[str]], revision: str,
                 host_dirs: tuple[str, str, str, str], paths: Sequence[str],
                 env_keys: Sequence[str], stamp: tuple[object, ...]) -> None:
        self.launch = launch
        self.env = env
        self.argv = argv
        self.revision = revision
        #: make_host_dirs's user, data, private /tmp and XDG_RUNTIME_DIR
        self.host_dirs = host_dirs
        self.paths = tuple(paths)
        self.env_keys = tuple(env_keys)
        self.stamp = stamp

    def dump(self) -> bytes:
        fixed, expansions = self.env
        # the stamp holds ints, strings and tuples of them, which mypy cannot see
        return marshal.dumps((  # type: ignore[arg-type]
            RECORD_VERSION, sys.version, self.launch.to_data(), (fixed, expansions),
            (tuple(self.argv[0]), tuple(self.argv[1])), self.revision, self.host_dirs,
            self.paths, self.env_keys, self.stamp,
        ))

    @classmethod
    def load(cls, blob: bytes) -> Record | None:
        try:
            data = marshal.loads(blob)
            if data[0] != RECORD_VERSION or data[1] != sys.version:
                return None
            _, _, launch, env, argv, revision, host_dirs, paths, env_keys, stamp = data
            return cls(launch=Launch.from_data(launch), env=env, argv=argv,
                       revision=revision, host_dirs=host_dirs, paths=paths,
                       env_keys=env_keys, stamp=stamp)
        except (ValueError, EOFError, TypeError, IndexError):
            return None

    def matches(self, env: Mapping[str, str]) -> bool:
        return fingerprint(file_prints(self.paths), env, self.env_keys) == self.stamp

    def run(self, cookie: str, env: Mapping[str, str], args: Sequence[str],
            run_lock: str) -> int:
        """Start the app as the plan this record was made from would."""
        make_host_dirs(*self.host_dirs, self.revision)
        app_env = apply_recipe(self.env, env, cookie)
        return start(self.launch, app_env, command_line(self.argv, app_env, args),
                     run_lock=run_lock)


def read_cookie_file(root: str, snap: str) -> str:
    """``ops.cookies.read_cookie`` for the cached path (which has no Dirs)."""
    try:
        with open(f"{root}/cookie/snap.{snap}", encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def run_cached(env: Mapping[str, str], snap: str, app: str, args: Sequence[str]) -> int | None:
    """Run ``snap.app`` from its record if it still matches; None: plan instead."""
    root, runtime, _, _ = locate(env)
    try:
        with open(record_path(root, snap, app), "rb") as f:
            record = Record.load(f.read())
    except OSError:
        return None
    if record is None or not record.matches(env):
        return None
    return record.run(read_cookie_file(root, snap), env, args, f"{runtime}/run.lock")


def save(root: str, snap: str, app: str, record: Record | None) -> None:
    """Write ``record`` atomically, or remove the app's record when there is none (a
    refresh brought layouts, say).  The cache is an optimisation, so failing is silent:
    the next run plans again."""
    path = record_path(root, snap, app)
    if record is None:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, record.dump())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
