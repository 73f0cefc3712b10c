"""The usersnap FUSE filesystem in a process of its own, driven over stdin, for tests.

    python -m tests.helpers.fuse_server MOUNTPOINT [HOME]

With HOME, the mount also serves the home view of that directory at ``.home``.

It prints ``ready`` once mounted, then answers each command line with one line,
``ok [VALUE]`` or ``error MESSAGE``:

    add NAME REVISION IMAGE     mount IMAGE as NAME/REVISION
    dir NAME REVISION DIR       mount directory DIR, live, as NAME/REVISION (usersnap try)
    remove NAME REVISION
    current NAME REVISION|-
    closed NAME REVISION        "ok yes" once the tree has closed that revision's image
    handles                     open file and directory handles
    quit

A separate process, so that tests read the mount from outside the loop serving it, and
so that a test can kill it with SIGKILL to leave a dead mount behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# -- the server ---------------------------------------------------------------------------


def _serve(mountpoint: Path, home: Path | None) -> None:
    import trio

    from usersnap.errors import UsersnapError
    from usersnap.fusefs.home import HomeView
    from usersnap.fusefs.operations import SnapFS
    from usersnap.fusefs.serve import serve_snapfs
    from usersnap.fusefs.tree import SnapTree
    from usersnap.snapfile.dirsource import DirSource
    from usersnap.snapfile.squashfs import SquashfsImage

    class TrackedImage(SquashfsImage):
        closed = False

        def close(self) -> None:
            self.closed = True
            super().close()

    tree = SnapTree()
    fs = SnapFS(tree, home=HomeView(str(home), uid=tree.uid, gid=tree.gid) if home else None)
    images: dict[tuple[str, str], TrackedImage] = {}

    async def run(cmd: list[str]) -> str:
        match cmd:
            case ["add", name, rev, path]:
                image = await trio.to_thread.run_sync(TrackedImage, path)
                tree.add_revision(name, rev, image)
                images[(name, rev)] = image
                return "ok"
            case ["dir", name, rev, path]:
                source = await trio.to_thread.run_sync(DirSource, path)
                tree.add_revision(name, rev, source, mutable=True)
                return "ok"
            case ["remove", name, rev]:
                return "ok" if tree.remove_revision(name, rev) is not None else "error absent"
            case ["current", name, rev]:
                tree.set_current(name, None if rev == "-" else rev)
                return "ok"
            case ["closed", name, rev]:
                return "ok yes" if images[(name, rev)].closed else "ok no"
            case ["handles"]:
                return f"ok {fs.open_handles()}"
        return f"error bad command {cmd!r}"

    async def commands(stdin: trio.lowlevel.FdStream, scope: trio.CancelScope) -> None:
        buf = b""
        while True:
            while b"\n" not in buf:
                chunk = await stdin.receive_some()
                if not chunk:
                    scope.cancel()
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode().split()
            if cmd == ["quit"]:
                scope.cancel()
                return
            try:
                answer = await run(cmd)
            except (UsersnapError, ValueError, KeyError) as err:
                answer = f"error {err}"
            print(answer, flush=True)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_snapfs, mountpoint, fs)
            print("ready", flush=True)
            await commands(trio.lowlevel.FdStream(os.dup(0)), nursery.cancel_scope)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="fuse_server %(levelname)s %(message)s")
    trio.run(main)


# -- the test side ------------------------------------------------------------------------


class FuseServer:
    """A running server; ``command()`` talks to it, ``stop()`` always cleans up."""

    def __init__(self, mountpoint: Path, timeout: float = 60, home: Path | None = None
                 ) -> None:
        self.mountpoint = mountpoint
        self.timeout = timeout
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.fuse_server", str(mountpoint),
             *([str(home)] if home is not None else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=REPO, env=env, text=True,
        )  # fmt: skip
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        try:
            line = self._next_line()
            if line != "ready":
                raise RuntimeError(f"fuse server did not start: {line!r}")
        except BaseException:
            self.stop()
            raise

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _next_line(self) -> str:
        try:
            line = self._lines.get(timeout=self.timeout)
        except queue.Empty:
            raise RuntimeError("fuse server did not answer in time") from None
        if line is None:
            self.proc.wait(timeout=self.timeout)
            raise RuntimeError(f"fuse server exited ({self.proc.returncode}): "
                               + " | ".join(self.stderr[-5:]))
        return line

    def command(self, line: str) -> str:
        """Send one command; return the value of its ``ok`` answer or raise."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self._next_line()
        if answer != "ok" and not answer.startswith("ok "):
            raise RuntimeError(f"{line!r}: {answer}")
        return answer[3:]

    def kill(self) -> None:
        """SIGKILL: leaves the mount behind, dead."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=self.timeout)

    def stop(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        subprocess.run(["fusermount3", "-u", "-z", "--", str(self.mountpoint)],
                       capture_output=True, check=False, timeout=30)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=self.timeout)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def fuse_server(mountpoint: Path, home: Path | None = None) -> Iterator[FuseServer]:
    server = FuseServer(mountpoint, home=home)
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
