"""Run a command on a pty that is its controlling terminal, as from a user's shell.

Terminal behaviour (Ctrl-C, TIOCSTI) only shows with a real controlling terminal; a
pipe would not do.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def run_in_terminal(
    argv: Sequence[str], *, cwd: Path, timeout: float,
    on_output: Callable[[bytes, int], None] | None = None,
) -> tuple[int, bytes]:
    """Run ``argv`` with a new pty as stdin, stdout, stderr and controlling terminal and
    collect what it writes until it exits.  ``on_output(output_so_far, master)`` may
    type into the terminal by writing to ``master``.  Returns (exit status, output)."""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        list(argv), cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True, preexec_fn=take_terminal,
    )
    os.close(slave)
    output = b""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = select.select([master], [], [], 0.1)[0]
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal has no more writers
                    break
                if not chunk:
                    break
                output += chunk
                if on_output is not None:
                    on_output(output, master)
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=timeout), output
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
