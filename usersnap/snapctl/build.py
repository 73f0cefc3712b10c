"""Build the sandbox's ``snapctl`` once per source change, with the host's C compiler.

Why C: snapctl runs inside the sandbox on the snap's base, which may have no Python and
whose libc we do not choose, and it needs an HTTP client over a unix socket (no curl or
socat is guaranteed either).  A static binary of ~200 lines runs on any base, as Debian's
Go snapctl does (docs/rest-api.md).  Debian's binary cannot be shipped, so usersnapd
compiles ours into ``<root>/cache/snapctl/`` (which the sandbox binds at /usr/lib/snapd,
as snap-confine binds the host's) and rebuilds only when the source or compiler flags
change.  ``USERSNAP_SNAPCTL`` names a binary to use instead (tests run Debian's).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.snapctl import snapctl_dir

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("snapctl.c")
CFLAGS = ("-static", "-Os", "-s", "-Wall")
COMPILE_TIMEOUT = 120


def ensure_snapctl(dirs: Dirs, env: Mapping[str, str] | None = None) -> Path | None:
    """The up-to-date binary, building it if needed; None (and a log line) when it cannot
    be built: sandboxes then run without snapctl."""
    env = os.environ if env is None else env
    override = env.get("USERSNAP_SNAPCTL", "")
    try:
        source = Path(override).read_bytes() if override else SOURCE.read_bytes()
    except OSError as err:
        log.error("cannot read %s: %s", override or SOURCE, err.strerror)
        return None
    digest = hashlib.sha256(source + " ".join(CFLAGS).encode() + override.encode()).hexdigest()
    out_dir = snapctl_dir(dirs)
    binary = out_dir / "snapctl"
    stamp = dirs.cache / "snapctl.stamp"
    try:
        if binary.is_file() and stamp.read_text() == digest:
            return binary
    except OSError:
        pass
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = dirs.cache / f".snapctl.{os.getpid()}"
        if override:
            shutil.copyfile(override, tmp)
            tmp.chmod(0o755)
        elif not _compile(tmp):
            return None
        os.replace(tmp, binary)
        stamp.write_text(digest)
    except OSError as err:
        log.error("cannot install snapctl in %s: %s", out_dir, err.strerror)
        return None
    return binary


def _compile(out: Path) -> bool:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        log.error("no C compiler (cc) found: sandboxes get no snapctl")
        return False
    try:
        proc = subprocess.run([cc, *CFLAGS, "-o", str(out), str(SOURCE)], capture_output=True,
                              text=True, timeout=COMPILE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        log.error("cannot compile snapctl: %s", err)
        return False
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        log.error("cannot compile snapctl: %s", proc.stderr.strip()[-2000:])
        return False
    return True
