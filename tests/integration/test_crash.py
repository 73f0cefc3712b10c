"""Crash safety of remove, revert and set, by killing for real: usersnapd SIGKILLs itself
before or after each task of the change (USERSNAP_CRASH_AT), or the CLI is killed while
it waits.  The next start must show the state before or after the change, never between,
and no file the state does not own.  (Install's crash tests are in test_end_to_end.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap
from tests.integration.test_end_to_end import FILES, PROBE_YAML, _environ_root, sh

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

CONFIGURE = "#!/bin/sh\nexit 0\n"


@pytest.fixture
def us(tmp_path: Path) -> Iterator[Usersnap]:
    """probe installed twice (x1, x2 current), with data in $SNAP_DATA; daemon stopped."""
    with usersnap_session() as session:
        for version in ("1.0", "2.0"):
            snap = build_snap(tmp_path, PROBE_YAML.format(version=version),
                              {**FILES, "meta/hooks/configure": CONFIGURE},
                              executables=["bin/probe", "bin/sh-wrap", "meta/hooks/configure"],
                              name=f"probe-{version}.snap")
            session.run("install", "--dangerous", str(snap))
        sh(session, "echo kept > $SNAP_DATA/v")
        session.stop_daemon()
        yield session


def snaps(us: Usersnap) -> dict[str, Any]:
    return dict(json.loads(us.state_bytes())["snaps"])


def assert_consistent(us: Usersnap) -> None:
    """After a restart: blobs and data directories are exactly those of the state."""
    us.stop_daemon()
    us.run("list", check=False)  # starts usersnapd, which recovers
    state = snaps(us)
    revs = {name: [r["revision"] for r in snap["sequence"]] for name, snap in state.items()}
    assert sorted(p.name for p in us.dirs.snaps.iterdir()) == sorted(
        f"{name}_{r}.snap" for name, rs in revs.items() for r in rs)
    for tree in (us.dirs.root / "data", us.dirs.root / "user-data"):
        found = {p.name: sorted(q.name for q in p.iterdir()) for p in tree.iterdir()}
        assert found == {name: sorted(["common", "current", *rs])
                         for name, rs in revs.items()}, tree


def crash(us: Usersnap, point: str, *args: str) -> None:
    proc = us.run(*args, check=False, env={"USERSNAP_CRASH_AT": point})
    assert proc.returncode != 0, proc.stdout
    assert us.wait_daemon_gone(15)


@pytest.mark.parametrize("point", [
    "before:stop-snap-services", "after:stop-snap-services", "before:run-hook",
    "before:unlink-snap", "after:unlink-snap", "before:discard-snap", "after:discard-snap",
])
def test_kill_9_during_remove(us: Usersnap, point: str) -> None:
    before = snaps(us)
    crash(us, point, "remove", "probe")
    assert_consistent(us)
    after = snaps(us)
    if after == before:
        assert sh(us, "cat $SNAP_DATA/v").stdout == "kept\n"
    else:
        assert after == {}
        assert us.run("run", "probe", check=False).returncode != 0


@pytest.mark.parametrize("point", ["before:unlink-snap", "after:unlink-snap",
                                   "after:discard-snap"])
def test_kill_9_during_remove_of_one_revision(us: Usersnap, point: str) -> None:
    crash(us, point, "remove", "probe", "--revision=x1")
    assert_consistent(us)
    assert [r["revision"] for r in snaps(us)["probe"]["sequence"]] in (["x1", "x2"], ["x2"])
    assert sh(us, "echo $SNAP_REVISION; cat $SNAP_DATA/v").stdout.split() == ["x2", "kept"]


@pytest.mark.parametrize("point", [
    "before:stop-snap-services", "before:link-snap", "after:link-snap",
    "after:start-snap-services", "before:run-hook",
])
def test_kill_9_during_revert(us: Usersnap, point: str) -> None:
    crash(us, point, "revert", "probe")
    assert_consistent(us)
    current = snaps(us)["probe"]["current"]
    assert current in ("x1", "x2")
    assert sh(us, "echo $SNAP_REVISION").stdout.split() == [current]


@pytest.mark.parametrize("point", ["before:run-hook", "after:run-hook"])
def test_kill_9_during_set(us: Usersnap, point: str) -> None:
    crash(us, point, "set", "probe", "answer=42")
    assert_consistent(us)
    got = us.run("get", "probe", "answer", check=False)
    assert (got.returncode, got.stdout) in ((0, "42\n"), (1, ""))


@pytest.mark.parametrize("args", [("remove", "probe"), ("revert", "probe"),
                                  ("set", "probe", "answer=42")])
@pytest.mark.parametrize("delay", [0.05, 0.4])
def test_kill_9_of_the_cli(us: Usersnap, args: tuple[str, ...], delay: float) -> None:
    """The change belongs to usersnapd: it completes (or never started) without the CLI."""
    us.run("list")
    proc = subprocess.Popen([sys.executable, "-m", "usersnap", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while "Doing" in us.run("changes", check=False).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Doing" not in us.run("changes", check=False).stdout
    assert_consistent(us)


def test_an_app_reading_the_mount_of_a_killed_daemon_fails_and_does_not_hang(
        us: Usersnap) -> None:
    """usersnapd dies under a running app: the app's reads of /snap fail at once (the FUSE
    connection is gone), the run ends, and the next start serves the snap again."""
    us.run("list")
    proc = subprocess.Popen(
        [sys.executable, "-m", "usersnap", "run", "probe.sh", "-c",
         "sleep 3; cat $SNAP/share/message; echo status=$?"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    us.stop_daemon(signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert out.splitlines()[-1] == "status=1", out
    assert "Transport endpoint is not connected" in err, err
    time.sleep(0.5)
    assert [d for d in os.listdir("/proc")
            if d.isdigit() and _environ_root(int(d)) == str(us.dirs.root)] == []
    assert sh(us, "cat $SNAP/share/message").stdout == "hello from the image\n"


PLUG_YAML = """\
name: plugger
version: '1'
plugs:
  media:
    interface: removable-media
apps:
  plugger:
    command: bin/probe
"""
PLUG_HOOKS = {f"meta/hooks/{hook}-plug-media": "#!/bin/sh\nexit 0\n"
              for hook in ("prepare", "connect", "disconnect")}


@pytest.fixture
def plugged(tmp_path: Path) -> Iterator[Usersnap]:
    """plugger installed, its removable-media plug (with hooks) not connected; daemon
    stopped."""
    with usersnap_session() as session:
        snap = build_snap(tmp_path, PLUG_YAML, {**FILES, **PLUG_HOOKS},
                          executables=["bin/probe", *PLUG_HOOKS], name="plugger.snap")
        session.run("install", "--dangerous", str(snap))
        session.stop_daemon()
        yield session


def media_connected(us: Usersnap) -> bool:
    """What the state says, checked against what the daemon answers."""
    stored = any(key.startswith("plugger:media ")
                 and not value.get("undesired")
                 for key, value in json.loads(us.state_bytes()).get("conns", {}).items())
    lines = us.run("connections", "plugger").stdout.splitlines()
    shown = any(line.split()[:3] == ["removable-media", "plugger:media", ":removable-media"]
                for line in lines)
    assert stored == shown, lines
    return shown


def settled(us: Usersnap) -> str:
    """Wait until no change is in progress; the changes table."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = us.run("changes", check=False).stdout
        if "Doing" not in out and "Undoing" not in out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"changes still in progress: {out}")


@pytest.mark.parametrize("point", ["before:run-hook", "after:run-hook", "before:connect",
                                   "after:connect"])
def test_kill_9_during_connect(plugged: Usersnap, point: str) -> None:
    crash(plugged, point, "connect", "plugger:media")
    assert_consistent(plugged)
    settled(plugged)
    media_connected(plugged)  # either way, but the state and the answers agree
    plugged.run("connect", "plugger:media")  # and nothing is left holding the snap
    assert media_connected(plugged)


@pytest.mark.parametrize("point", ["before:run-hook", "after:run-hook", "before:disconnect",
                                   "after:disconnect"])
def test_kill_9_during_disconnect(plugged: Usersnap, point: str) -> None:
    plugged.run("connect", "plugger:media")
    plugged.stop_daemon()
    crash(plugged, point, "disconnect", "plugger:media")
    assert_consistent(plugged)
    settled(plugged)
    media_connected(plugged)
    plugged.run("disconnect", "plugger:media", check=False)
    assert not media_connected(plugged)


def test_doctor_reports_a_stale_mount_and_the_next_start_clears_it(us: Usersnap) -> None:
    """After kill -9 of usersnapd its mount is stale (ENOTCONN): doctor says so, with the
    fix, and the next start clears it without help."""
    healthy = us.run("doctor", check=False)
    assert healthy.returncode == 0, healthy.stdout
    statuses = {line.split()[1]: line.split()[0] for line in healthy.stdout.splitlines()}
    for check in ("python", "fuse", "fusermount3", "bubblewrap", "seccomp", "mount",
                  "usersnapd", "disk"):
        assert statuses[check] == "ok", healthy.stdout
    us.run("list")
    us.stop_daemon(signal.SIGKILL)
    stale = us.run("doctor", check=False).stdout
    line = next(line for line in stale.splitlines() if line.split()[1] == "mount")
    assert line.startswith("warning") and "stale FUSE mount" in line
    assert f"fusermount3 -uz {us.dirs.mount}" in line
    assert sh(us, "cat $SNAP/share/message").stdout == "hello from the image\n"
    line = next(line for line in us.run("doctor").stdout.splitlines()
                if line.split()[1] == "mount")
    assert line.startswith("ok")


def test_racing_clis_start_one_daemon() -> None:
    """Six CLIs started at once on a root with no usersnapd: all succeed, and one daemon
    serves them (the start lock, then the root lock)."""
    with usersnap_session() as session:
        procs = [subprocess.Popen([sys.executable, "-m", "usersnap", "list"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(6)]
        outs = [proc.communicate(timeout=60) for proc in procs]
        assert [proc.returncode for proc in procs] == [0] * 6, outs
        daemons = [int(d) for d in os.listdir("/proc") if d.isdigit()
                   and _environ_root(int(d)) == str(session.dirs.root)
                   and b"usersnap.daemon" in _cmdline(int(d))]
        assert daemons == [session.daemon_pid()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
