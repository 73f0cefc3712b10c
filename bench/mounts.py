"""The filesystems under test, each able to serve the benchmark's images, to go cold and
to say which processes serve them.

"Cold" means: the FUSE daemon restarted (its caches and the kernel's page cache of the
mounted files die with the mount) and the image files dropped from the page cache
(``POSIX_FADV_DONTNEED``, which any user may do; as root also ``drop_caches``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.images import BuiltImage

STOP_TIMEOUT = 20.0
START_TIMEOUT = 60.0


def drop_page_cache(paths: list[Path]) -> str:
    """Evict ``paths`` from the page cache; also every clean cache when we are root.
    Returns how it was done, for the report."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    if os.geteuid() == 0:
        try:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            return "drop_caches"
        except OSError:
            pass
    return "fadvise"


def wait_until(pred: Callable[[], bool], timeout: float, what: str, poll: float = 0.0005
               ) -> float:
    """Poll ``pred`` until true; returns the seconds it took."""
    start = time.perf_counter()
    while not pred():
        if time.perf_counter() - start > timeout:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)
    return time.perf_counter() - start


def stat_ok(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def is_mounted(path: Path) -> bool:
    target = os.fsencode(os.path.abspath(path)).replace(b" ", b"\\040")
    with open("/proc/self/mounts", "rb") as f:
        return any(line.split()[1] == target for line in f)


def fuse_unmount(path: Path) -> None:
    if is_mounted(path):
        subprocess.run(["fusermount3", "-u", "-z", str(path)], capture_output=True, timeout=30)


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (all its threads) so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Filesystem:
    """One implementation under test."""

    name = ""
    label = ""

    def start(self, images: list[BuiltImage]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def cold(self, image: BuiltImage) -> None:
        """Make ``image`` cold: restart what serves it, evict its file from the page cache."""
        raise NotImplementedError

    def tree(self, image: BuiltImage) -> Path:
        raise NotImplementedError

    def pid(self, image: BuiltImage) -> int | None:
        return None

    def mount_once(self, image: BuiltImage) -> float:
        """Serve ``image`` at a fresh place; seconds from start until a stat inside answers."""
        raise NotImplementedError


class Squashfuse(Filesystem):
    """squashfuse or squashfuse_ll, one foreground process per image, default options."""

    def __init__(self, binary: str, work: Path) -> None:
        self.binary = binary
        self.name = self.label = Path(binary).name
        self.work = work / self.name
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.images: dict[str, BuiltImage] = {}

    def _mountpoint(self, image: BuiltImage) -> Path:
        return self.work / image.spec.name

    def _spawn(self, snap: Path, mnt: Path) -> subprocess.Popen[bytes]:
        mnt.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen([self.binary, "-f", str(snap), str(mnt)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)

    def _mount(self, image: BuiltImage) -> None:
        mnt = self._mountpoint(image)
        proc = self._spawn(image.snap, mnt)
        self.procs[image.spec.name] = proc
        probe = mnt / "meta" / "snap.yaml"
        try:
            wait_until(lambda: stat_ok(probe) or proc.poll() is not None, START_TIMEOUT,
                       f"{self.name} to mount {image.snap}")
        finally:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise BenchError(f"{self.name} {image.snap} exited {proc.returncode}: {err}")

    def _unmount(self, name: str, mnt: Path) -> None:
        proc = self.procs.pop(name, None)
        fuse_unmount(mnt)
        if proc is not None:
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT)

    def start(self, images: list[BuiltImage]) -> None:
        for image in images:
            self.images[image.spec.name] = image
            self._mount(image)

    def stop(self) -> None:
        for name in list(self.procs):
            self._unmount(name, self.work / name)

    def cold(self, image: BuiltImage) -> None:
        self._unmount(image.spec.name, self._mountpoint(image))
        drop_page_cache([image.snap])
        self._mount(image)

    def tree(self, image: BuiltImage) -> Path:
        return self._mountpoint(image)

    def pid(self, image: BuiltImage) -> int | None:
        proc = self.procs.get(image.spec.name)
        return proc.pid if proc else None

    def mount_once(self, image: BuiltImage) -> float:
        mnt = self.work / "once"
        probe = mnt / "meta" / "snap.yaml"
        drop_page_cache([image.snap])
        start = time.perf_counter()
        proc = self._spawn(image.snap, mnt)
        try:
            wait_until(lambda: stat_ok(probe) or proc.poll() is not None, START_TIMEOUT,
                       f"{self.name} to mount {image.snap}")
            if proc.poll() is not None:
                raise BenchError(f"{self.name} {image.snap} exited {proc.returncode}")
            return time.perf_counter() - start
        finally:
            fuse_unmount(mnt)
            proc.wait(STOP_TIMEOUT)


class KernelSquashfs(Filesystem):
    """The kernel's squashfs over a loop device: root only, the yardstick of the baseline."""

    name = "kernel"
    label = "kernel squashfs"

    def __init__(self, work: Path) -> None:
        self.work = work / "kernel"
        self.images: dict[str, BuiltImage] = {}

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0 and shutil.which("mount") is not None

    def _mount(self, snap: Path, mnt: Path) -> None:
        mnt.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "squashfs", "-o", "loop,ro", str(snap), str(mnt)],
                       check=True, capture_output=True, timeout=60)

    def _umount(self, mnt: Path) -> None:
        if is_mounted(mnt):
            subprocess.run(["umount", str(mnt)], check=True, capture_output=True, timeout=60)

    def start(self, images: list[BuiltImage]) -> None:
        for image in images:
            self.images[image.spec.name] = image
            self._mount(image.snap, self.work / image.spec.name)

    def stop(self) -> None:
        for name in self.images:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._umount(self.work / name)

    def cold(self, image: BuiltImage) -> None:
        mnt = self.work / image.spec.name
        self._umount(mnt)
        drop_page_cache([image.snap])
        self._mount(image.snap, mnt)

    def tree(self, image: BuiltImage) -> Path:
        return self.work / image.spec.name

    def mount_once(self, image: BuiltImage) -> float:
        mnt = self.work / "once"
        drop_page_cache([image.snap])
        start = time.perf_counter()
        self._mount(image.snap, mnt)
        try:
            wait_until(lambda: stat_ok(mnt / "meta" / "snap.yaml"), START_TIMEOUT, "mount")
            return time.perf_counter() - start
        finally:
            self._umount(mnt)


class Usersnap(Filesystem):
    """usersnapd's FUSE mount, driven only through the real CLI (``usersnap install
    --dangerous``, ``usersnap list``) in a root and runtime directory of its own."""

    name = "usersnap"
    label = "usersnap (usersnapd FUSE)"

    def __init__(self, usersnap: Path, work: Path) -> None:
        self.usersnap = usersnap
        self.root = work / "root"
        self.runtime = work / "run"
        self.env = dict(os.environ)
        self.env.update(USERSNAP_ROOT=str(self.root), USERSNAP_RUNTIME_DIR=str(self.runtime),
                        USERSNAP_IDLE_TIMEOUT="0")
        self.mount = self.runtime / "snap"
        self.revisions: dict[str, str] = {}
        self.images: dict[str, BuiltImage] = {}

    def cli(self, *args: str, timeout: float = 600) -> str:
        proc = subprocess.run([str(self.usersnap), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise BenchError(f"usersnap {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def daemon_pid(self) -> int | None:
        try:
            text = (self.root / "usersnapd.lock").read_text().strip()
        except OSError:
            return None
        return int(text) if text and self._locked() else None

    def _locked(self) -> bool:
        """True while a usersnapd holds the root lock (it is released when it exits)."""
        try:
            fd = os.open(self.root / "usersnapd.lock", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def api_get(self, path: str) -> Any:
        """GET from usersnapd's REST API (the ``result`` of its envelope)."""
        conn = _UnixHTTPConnection(str(self.runtime / "usersnapd.socket"))
        try:
            conn.request("GET", path)
            body = conn.getresponse().read()
        finally:
            conn.close()
        return json.loads(body)["result"]

    def last_install_phases(self, started: float, returned: float) -> dict[str, float]:
        """Seconds spent in each phase of the newest install: before its change exists
        (upload, open, validate), each task (they run one after another), and until the
        CLI returned.  ``started``/``returned`` are ``time.time()`` values."""
        changes = [c for c in self.api_get("/v2/changes?select=all")
                   if c["kind"] == "install-snap"]
        change = max(changes, key=lambda c: int(c["id"]))
        phases = {"CLI start-up, upload, open, validate (before the change exists)":
                  _rfc3339(change["spawn-time"]) - started}
        last = _rfc3339(change["spawn-time"])
        for task in change["tasks"]:
            ready = _rfc3339(task["ready-time"])
            phases[f"task {task['kind']}"] = ready - last
            last = ready
        phases["until the CLI returns (it polls the change)"] = returned - last
        return phases

    def install(self, image: BuiltImage) -> None:
        self.cli("install", "--dangerous", str(image.snap))
        self.images[image.spec.name] = image
        self._resolve(image)

    def _resolve(self, image: BuiltImage) -> None:
        self.revisions[image.spec.name] = os.readlink(self.mount / image.spec.name / "current")

    def start(self, images: list[BuiltImage]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.cli("list")
        for image in images:
            if image.spec.name in self.images:
                self._resolve(image)
            else:
                self.install(image)

    def stop(self) -> None:
        pid = self.daemon_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                wait_until(lambda: not self._locked(), STOP_TIMEOUT, "usersnapd to stop", 0.005)
            except BenchError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_until(lambda: not self._locked(), STOP_TIMEOUT, "usersnapd to die", 0.005)
        fuse_unmount(self.mount)

    def blobs(self) -> list[Path]:
        return sorted((self.root / "snaps").glob("*.snap"))

    def restart(self) -> float:
        """Stop usersnapd and start it again through the CLI; seconds until a stat inside
        every installed snap answers."""
        self.stop()
        drop_page_cache(self.blobs())
        probes = [self.mount / name / rev / "meta" / "snap.yaml"
                  for name, rev in self.revisions.items()]
        start = time.perf_counter()
        proc = subprocess.Popen([str(self.usersnap), "list"], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: all(map(stat_ok, probes)) or proc.poll() not in (None, 0),
                       START_TIMEOUT, "usersnapd to serve its snaps")
            took = time.perf_counter() - start
        finally:
            _, err = proc.communicate(timeout=START_TIMEOUT)
        if proc.returncode:
            raise BenchError(f"usersnap list failed: {err.decode(errors='replace').strip()}")
        return took

    def cold(self, image: BuiltImage) -> None:
        self.restart()

    def tree(self, image: BuiltImage) -> Path:
        return self.mount / image.spec.name / self.revisions[image.spec.name]

    def pid(self, image: BuiltImage) -> int | None:
        return self.daemon_pid()

    def install_timed(self, image: BuiltImage) -> tuple[float, dict[str, float]]:
        """Install ``image`` afresh (removed first, so no refresh, no old revision to
        discard), its file evicted from the page cache, with nothing else running;
        seconds until the CLI returns, and per phase (``install_until_stat``'s watcher
        would share the CPU and the daemon with it)."""
        self.cli("remove", "--purge", image.spec.name)
        drop_page_cache([image.snap])
        wall = time.time()
        start = time.perf_counter()
        self.cli("install", "--dangerous", str(image.snap))
        took = time.perf_counter() - start
        self._resolve(image)
        return took, self.last_install_phases(wall, wall + took)

    def install_until_stat(self, image: BuiltImage) -> tuple[float, dict[str, float]]:
        """Install ``image`` again (a new revision); seconds until a stat inside the new
        revision answers, and per phase."""
        top = self.mount / image.spec.name
        before = set(os.listdir(top)) if top.exists() else set()
        # usersnap numbers local revisions x1, x2, …: stat the next one only, one LOOKUP
        # per poll, so that polling does not load the daemon it measures (a listdir per
        # poll would be three requests); list the directory only now and then.
        numbers = [int(e[1:]) for e in before if e.startswith("x") and e[1:].isdigit()]
        guess = top / f"x{max(numbers, default=0) + 1}" / "meta" / "snap.yaml"
        drop_page_cache([image.snap])
        seen: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            polls = 0
            while not stop.is_set():
                polls += 1
                if stat_ok(guess):
                    seen.append(time.perf_counter())
                    return
                if polls % 50 == 0:
                    with contextlib.suppress(OSError):
                        new = [e for e in os.listdir(top) if e not in before | {"current"}]
                        if new and stat_ok(top / new[0] / "meta" / "snap.yaml"):
                            seen.append(time.perf_counter())
                            return
                time.sleep(0.001)

        watcher = threading.Thread(target=watch, daemon=True)
        wall = time.time()
        start = time.perf_counter()
        watcher.start()
        try:
            self.cli("install", "--dangerous", str(image.snap))
            done = time.perf_counter()
            watcher.join(10)
        finally:
            stop.set()
        if not seen:
            raise BenchError(f"no new revision of {image.spec.name} appeared in {top}")
        self._resolve(image)
        return seen[0] - start, self.last_install_phases(wall, wall + done - start)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self.path)
        self.sock = sock


def _rfc3339(text: str) -> float:
    """usersnapd's RFC 3339 UTC times (``…:05.123456Z``) as POSIX seconds."""
    stamp = dt.datetime.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    frac = text.rstrip("Z").partition(".")[2]
    return stamp.replace(tzinfo=dt.timezone.utc).timestamp() + float(f"0.{frac or 0}")


@contextlib.contextmanager
def serving(fs: Filesystem, images: list[BuiltImage]) -> Iterator[Filesystem]:
    try:
        fs.start(images)
        yield fs
    finally:
        fs.stop()
