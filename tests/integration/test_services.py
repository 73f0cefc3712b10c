"""Services supervised by a real usersnapd: started at install, restarted after SIGKILL
within the start limit, stopped with their whole tree, logged, and back after a daemon
crash with no orphan left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap
from usersnap.daemon.supervisor_procs import descendants

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(240)]

YAML = """\
name: svcs
version: '1.0'
summary: services
description: services under test
apps:
  ticker:
    command: bin/ticker
    daemon: simple
    restart-delay: 200ms
    stop-timeout: 5s
  crasher:
    command: bin/crasher
    daemon: simple
    restart-condition: always
    restart-delay: 10ms
    install-mode: disable
  notifier:
    command: bin/notifier
    daemon: notify
    install-mode: disable
  dog:
    command: bin/notifier
    daemon: simple
    watchdog-timeout: 1s
    restart-condition: never
    install-mode: disable
  ctl:
    command: bin/sh-wrap
"""
FILES: dict[str, str | bytes] = {
    # a child in the background too: stopping must take the whole tree
    "bin/ticker": "#!/bin/sh\nsleep 1000 &\ni=0\nwhile true; do echo \"tick $i\"; "
                  "i=$((i+1)); sleep 0.2; done\n",
    "bin/crasher": "#!/bin/sh\necho crashing\nexit 1\n",
    # sd_notify by hand: READY=1 after a while, never a WATCHDOG=1
    "bin/notifier": "#!/bin/sh\nsleep 1\necho notifying\npython3 -c 'import os, socket; "
                    "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", "
                    "os.environ[\"NOTIFY_SOCKET\"])'\nexec sleep 1000\n",
    "bin/sh-wrap": '#!/bin/sh\nexec /bin/sh "$@"\n',
}


@pytest.fixture
def us(tmp_path: Path) -> Iterator[Usersnap]:
    with usersnap_session() as session:
        snap = build_snap(tmp_path, YAML, FILES, executables=list(FILES), name="svcs.snap")
        session.run("install", "--dangerous", str(snap))
        yield session


def wait_for(what: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Running, not a zombie that this container's init has yet to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def services(us: Usersnap) -> str:
    return us.run("services").stdout


def row(us: Usersnap, name: str) -> list[str]:
    return next(line.split() for line in services(us).splitlines() if line.startswith(name))


def ticker_pid(us: Usersnap) -> int | None:
    """The ticker's launcher, from the daemon's children."""
    pid = us.daemon_pid()
    assert pid is not None
    for child in descendants(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"usersnap.daemon.svcrun" in cmdline and b"ticker" in cmdline:
            return child
    return None


def app_pid(launcher: int) -> int | None:
    for pid in descendants(launcher):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"sh") and b"bin/ticker" in argv[1]:  # not bwrap's argv
            return pid
    return None


def test_install_starts_enabled_services_and_logs_them(us: Usersnap) -> None:
    out = services(us)
    assert out.splitlines()[0].split() == ["Service", "Startup", "Current", "Notes"]
    assert row(us, "svcs.crasher") == ["svcs.crasher", "disabled", "inactive", "-"]
    assert row(us, "svcs.ticker") == ["svcs.ticker", "enabled", "active", "-"]
    wait_for(lambda: "tick 2" in us.run("logs", "svcs.ticker").stdout)
    line = next(x for x in us.run("logs", "-n", "3", "svcs.ticker").stdout.splitlines()
                if "tick" in x)
    assert "svcs.ticker[" in line


def running(us: Usersnap) -> tuple[int, int]:
    """The ticker's launcher and app, once both run."""
    wait_for(lambda: ticker_pid(us) is not None)
    launcher = ticker_pid(us)
    assert launcher is not None
    wait_for(lambda: app_pid(launcher) is not None)
    app = app_pid(launcher)
    assert app is not None
    return launcher, app


def test_sigkill_restarts_and_stop_kills_the_tree(us: Usersnap) -> None:
    first, app = running(us)
    os.kill(app, signal.SIGKILL)
    wait_for(lambda: ticker_pid(us) not in (None, first))
    logs = us.run("logs", "-n", "all", "svcs.ticker").stdout
    assert "code=killed, status=9/KILL" in logs
    assert "Scheduled restart job, restart counter is at 1." in logs
    second = ticker_pid(us)
    assert second is not None
    tree = [second, *descendants(second)]
    assert us.run("stop", "svcs.ticker").stdout == "Stopped.\n"
    assert not any(map(alive, tree))
    assert row(us, "svcs.ticker") == ["svcs.ticker", "enabled", "inactive", "-"]


def test_crash_loop_hits_the_start_limit(us: Usersnap) -> None:
    assert us.run("start", "--enable", "svcs.crasher").stdout == "Started.\n"
    wait_for(lambda: "start-limit-hit" in us.run("logs", "-n", "all", "svcs.crasher").stdout)
    logs = us.run("logs", "-n", "all", "svcs.crasher").stdout
    assert logs.count("crashing") == 5
    assert row(us, "svcs.crasher") == ["svcs.crasher", "enabled", "inactive", "-"]


def test_daemon_killed_services_come_back_without_orphans(us: Usersnap) -> None:
    wait_for(lambda: ticker_pid(us) is not None)
    old = ticker_pid(us)
    assert old is not None
    old_tree = [old, *descendants(old)]
    us.stop_daemon(signal.SIGKILL)
    # starts a new daemon, which kills the old tree and starts the service again (after
    # it began serving: the row may come first)
    wait_for(lambda: row(us, "svcs.ticker") == ["svcs.ticker", "enabled", "active", "-"])
    wait_for(lambda: ticker_pid(us) is not None)
    assert not any(map(alive, old_tree))


def test_remove_stops_services(us: Usersnap) -> None:
    wait_for(lambda: ticker_pid(us) is not None)
    launcher = ticker_pid(us)
    assert launcher is not None
    tree = [launcher, *descendants(launcher)]
    us.run("remove", "svcs")
    assert not any(map(alive, tree))
    assert not list((us.dirs.logs / "services").glob("svcs.*"))


def test_notify_waits_for_ready_and_the_watchdog_kills(us: Usersnap) -> None:
    assert us.run("start", "svcs.notifier").stdout == "Started.\n"
    logs = us.run("logs", "-n", "all", "svcs.notifier").stdout
    assert logs.index("notifying") < logs.index("Started Service")
    assert row(us, "svcs.notifier")[2] == "active"
    us.run("start", "svcs.dog")
    wait_for(lambda: "Watchdog timeout" in us.run("logs", "-n", "all", "svcs.dog").stdout)
    wait_for(lambda: row(us, "svcs.dog")[2] == "inactive")


def test_snapctl_controls_the_snaps_services(us: Usersnap) -> None:
    out = us.run("run", "svcs.ctl", "-c", "snapctl services svcs.ticker && "
                 "snapctl stop --disable svcs.ticker").stdout
    assert out.splitlines()[1].split() == ["svcs.ticker", "enabled", "active", "-"]
    wait_for(lambda: row(us, "svcs.ticker")[1:3] == ["disabled", "inactive"])
    bad = us.run("run", "svcs.ctl", "-c", "snapctl start other.svc", check=False)
    assert 'unknown service: "other.svc"' in bad.stderr


def test_refresh_and_revert_restart_services(us: Usersnap, tmp_path: Path) -> None:
    snap = build_snap(tmp_path / "v2", YAML, FILES, executables=list(FILES), name="svcs.snap")
    us.run("install", "--dangerous", str(snap))
    wait_for(lambda: ticker_pid(us) is not None)
    launcher = ticker_pid(us)
    assert launcher is not None
    assert b"x2" in Path(f"/proc/{launcher}/cmdline").read_bytes()
    us.run("revert", "svcs")
    wait_for(lambda: ticker_pid(us) not in (None, launcher))
    reverted = ticker_pid(us)
    assert reverted is not None
    assert b"x1" in Path(f"/proc/{reverted}/cmdline").read_bytes()
    assert not alive(launcher)


def test_logs_follow_streams_new_lines(us: Usersnap) -> None:
    follow = subprocess.Popen([sys.executable, "-m", "usersnap", "logs", "-n", "1", "-f",
                               "svcs.ticker"], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        seen = [follow.stdout.readline() for _ in range(4)]
    finally:
        follow.kill()
        follow.wait(timeout=10)
    ticks = [int(line.rsplit(" ", 1)[1]) for line in seen if ": tick " in line]
    assert len(ticks) >= 3 and ticks == sorted(ticks)
