"""Compiled filters, kept so that ``usersnap run`` compiles only when the profile changed.

A filter depends only on the profile text (template + connected interfaces' snippets),
devmode, the machine and how usersnap compiles; the key is a hash of exactly these, so
one entry serves every revision and every snap with the same connections, and editing a
shipped snippet or connecting an interface gives a new key.  A hit costs reading the
profile sources, one hash and one ``listdir``; neither the parser nor libseccomp is
imported.

Not in the key: libseccomp's version.  Asking for it means loading libseccomp on every
run; BPF stays valid across libseccomp upgrades, only a syscall name an upgrade newly
knows stays denied until the entry is rebuilt (delete the cache directory).

An entry is a directory ``<key>/`` holding ``deny.bpf`` and/or ``allow.bpf`` (none under
``@unrestricted``), filled under a temporary name and renamed into place, so readers
see a whole entry or none and racing compilers both succeed.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from usersnap.errors import UsersnapError

#: Bump when compiling the same text would give a different filter.
COMPILER_VERSION = "usersnap-seccomp-2"
#: Program files in the order bwrap must load them (``--add-seccomp-fd`` each).
PROGRAMS = ("deny.bpf", "allow.bpf")


def cache_key(template: str, snippets: Mapping[str, str], *, devmode: bool, machine: str) -> str:
    """The entry name for a profile; pure, so tests can pin what changes it."""
    digest = hashlib.sha256()
    for part in (COMPILER_VERSION, machine, "devmode" if devmode else "strict", template):
        digest.update(part.encode() + b"\0")
    for name in sorted(snippets):
        digest.update(f"{name}\0{snippets[name]}\0".encode())
    return digest.hexdigest()[:32]


def cached_filter(cache_dir: Path, template: str, snippets: Mapping[str, str], *,
                  devmode: bool = False) -> tuple[Path, ...]:
    """The compiled programs for this profile, compiling them on a miss.

    Returns the files in load order; open each and pass it to bwrap as
    ``--add-seccomp-fd FD``.  Empty under ``@unrestricted``.
    """
    entry = cache_dir / cache_key(template, snippets, devmode=devmode,
                                  machine=os.uname().machine)
    try:
        names = os.listdir(entry)
    except (FileNotFoundError, NotADirectoryError):
        _fill(entry, template, snippets, devmode=devmode)
        names = os.listdir(entry)
    return tuple(entry / name for name in PROGRAMS if name in names)


class SeccompCacheError(UsersnapError):
    """The cache directory cannot be written."""


def _fill(entry: Path, template: str, snippets: Mapping[str, str], *, devmode: bool) -> None:
    # Only a miss pays for these imports, the parser and libseccomp.
    import shutil
    import tempfile

    from usersnap.seccomp.compile import compile_policy
    from usersnap.seccomp.policy import compose

    compiled = compile_policy(compose(template, snippets, devmode=devmode))
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=entry.parent))
    except OSError as err:
        raise SeccompCacheError(
            f"cannot write the seccomp filter cache {entry.parent}: {err.strerror}") from None
    try:
        for name, program in zip(PROGRAMS, (compiled.deny, compiled.allow), strict=True):
            if program:
                with open(staging / name, "xb") as out:
                    out.write(program)
                    out.flush()
                    os.fsync(out.fileno())
        os.rename(staging, entry)
    except OSError as err:
        # A racing run that renamed first made the same entry: keep it.
        if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise SeccompCacheError(
                f"cannot write the seccomp filter cache {entry}: {err.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
