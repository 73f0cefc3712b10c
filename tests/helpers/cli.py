"""Drive the real CLI (and through it a real usersnapd) from tests, and always clean up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from usersnap.dirs import Dirs


@dataclass
class Usersnap:
    """A usersnap root under test; ``run()`` invokes the CLI as a user would."""

    dirs: Dirs

    def run(self, *args: str, check: bool = True, timeout: float = 60,
            env: dict[str, str] | None = None, stdin: str | None = None,
            ) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "usersnap", *args], capture_output=True, text=True,
                timeout=timeout, env={**os.environ, **(env or {})}, input=stdin, check=False,
            )
        except subprocess.TimeoutExpired as err:
            # what the daemon was doing is the only clue to a hang seen once under load
            raise AssertionError(f"usersnap {' '.join(args)} timed out after {timeout} s\n"
                                 f"stderr: {err.stderr!r}\n{self.diagnosis()}") from None
        if check and proc.returncode != 0:
            raise AssertionError(
                f"usersnap {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def diagnosis(self) -> str:
        """The daemon's stacks and log tail and its process tree, for a failure message."""
        pid = self.daemon_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)  # faulthandler: every thread's stack to the log
            time.sleep(0.5)
        wchans = []
        for task in Path(f"/proc/{pid}/task").glob("*") if pid is not None else []:
            with contextlib.suppress(OSError):
                wchans.append(f"{task.name}:{(task / 'wchan').read_text()}")
        try:
            log = self.dirs.daemon_log.read_text(errors="replace").splitlines()[-120:]
        except OSError as err:
            log = [f"(no daemon log: {err})"]
        tree = subprocess.run(["ps", "-e", "-o", "pid,ppid,stat,etime,args", "--forest"],
                              capture_output=True, text=True, check=False).stdout
        mine = [line for line in tree.splitlines() if "usersnap" in line or "bwrap" in line]
        try:
            changes = subprocess.run([sys.executable, "-m", "usersnap", "changes"],
                                     capture_output=True, text=True, timeout=5,
                                     check=False).stdout
        except subprocess.TimeoutExpired:
            changes = "(usersnap changes timed out too)"
        return (f"usersnapd threads in the kernel: {' '.join(wchans)}\n"
                "usersnapd.log:\n" + "\n".join(log) + "\nprocesses:\n" + "\n".join(mine[-40:])
                + "\nchanges:\n" + changes)

    def daemon_pid(self) -> int | None:
        try:
            text = self.dirs.lock_file.read_text().strip()
        except OSError:
            return None
        if not text.isdigit():
            return None
        pid = int(text)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid if _is_daemon(pid) else None

    def stop_daemon(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        pid = self.daemon_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.daemon_pid() == pid:
            time.sleep(0.05)
        if self.daemon_pid() == pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def wait_daemon_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.daemon_pid() is None:
                return True
            time.sleep(0.1)
        return False

    def state_bytes(self) -> bytes:
        try:
            return self.dirs.state_file.read_bytes()
        except FileNotFoundError:
            return b""

    def tree(self) -> list[str]:
        """Every path under the root except logs and locks: to compare before/after."""
        out = []
        for path in sorted(self.dirs.root.rglob("*")):
            rel = path.relative_to(self.dirs.root)
            if rel.parts[0] in ("log",) or rel.name.endswith(".lock"):
                continue
            out.append(str(rel))
        return out


def _is_daemon(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"usersnap.daemon" in cmdline


def unmount(path: Path) -> None:
    subprocess.run(["fusermount3", "-u", "-z", str(path)], capture_output=True, check=False,
                   timeout=30)


@contextlib.contextmanager
def usersnap_session() -> Iterator[Usersnap]:
    """A fresh root (the autouse fixture already isolated the environment)."""
    us = Usersnap(Dirs.from_env())
    try:
        yield us
    finally:
        us.stop_daemon()
        unmount(us.dirs.mount)


def path_without(directory: Path, *missing: str) -> str:
    """A PATH holding links to everything on the usual one but ``missing``: a machine
    that lacks those tools, for one command."""
    directory.mkdir(parents=True, exist_ok=True)
    for where in ("/usr/local/bin", "/usr/bin", "/bin"):
        for entry in os.scandir(where) if os.path.isdir(where) else ():
            if entry.name not in missing and not (directory / entry.name).exists():
                (directory / entry.name).symlink_to(entry.path)
    return str(directory)


def run_lines(proc: subprocess.CompletedProcess[str]) -> Sequence[str]:
    return proc.stdout.splitlines()
