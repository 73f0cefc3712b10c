"""Debian's snapd 2.57.6 ``snap`` binary as an oracle for snap.yaml validation and packing.

``snap pack`` runs snapd's complete validation offline and needs no daemon, so the
real thing judges what usersnap accepts.  The package is fetched once with
``apt-get download`` (works unprivileged) and unpacked into ``<repo>/.cache/snapd/``.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "snapd"
VERSION_PREFIX = "2.57.6"
TIMEOUT = 30

#: snapd must not re-exec into a core snap's snap, nor read the caller's login.
ORACLE_ENV = {"SNAP_REEXEC": "0", "SNAPD_AUTH_DATA_FILENAME": "/nonexistent", "LC_ALL": "C"}


@functools.cache
def snap_binary() -> Path | None:
    """The cached ``snap`` binary, fetching Debian's package first if needed; None if
    there is no package source (offline machine, no apt)."""
    binary = CACHE / "root" / "usr" / "bin" / "snap"
    if binary.exists():
        return binary
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        with (CACHE / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes fetch only once
            if not binary.exists():
                _fetch_into(CACHE / "root")
    except (OSError, subprocess.SubprocessError):
        return None
    return binary if binary.exists() else None


def _fetch_into(root: Path) -> None:
    """Download and unpack the package next to ``root``, then rename into place."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        subprocess.run(
            ["apt-get", "download", "snapd"], cwd=tmp, check=True, capture_output=True,
            timeout=300,
        )
        (deb,) = Path(tmp).glob("snapd_*.deb")
        version = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True,
            timeout=60,
        ).stdout.strip()
        if not version.startswith(VERSION_PREFIX):
            return  # another snapd validates differently; no oracle rather than a wrong one
        unpacked = Path(tmp) / "root"
        subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, capture_output=True,
            timeout=300,
        )
        shutil.rmtree(root, ignore_errors=True)
        unpacked.rename(root)


def run_snap(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the oracle's ``snap`` with ``args``; the caller checks :func:`snap_binary` first."""
    binary = snap_binary()
    assert binary is not None, "snapd oracle unavailable"
    return subprocess.run(
        [str(binary), *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, **ORACLE_ENV}, check=False,
    )


def error_message(stderr: str) -> str:
    """The text after ``error: `` in snap's output (snap wraps nothing for pipes)."""
    _, sep, message = stderr.partition("error: ")
    return message.rstrip("\n") if sep else stderr.strip()


def oracle_check(snap_dir: Path) -> tuple[bool, str]:
    """snapd's verdict on ``snap_dir``'s metadata: (accepted, message after ``error: ``)."""
    proc = run_snap(["pack", "--check-skeleton", str(snap_dir)])
    return proc.returncode == 0, "" if proc.returncode == 0 else error_message(proc.stderr)
