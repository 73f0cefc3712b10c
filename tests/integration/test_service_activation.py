"""Activated services under a real usersnapd: a timer fires its service at the times of
its schedule (the timer clock sped up by the test-only USERSNAP_TEST_TIMER_SCALE), and
the service is inactive between runs; stop disarms the timer, start arms it again.  A
socket-activated service starts at the first connection and accepts on the sockets
usersnapd listened on (fd 3, 4 with LISTEN_FDS), inside its sandbox."""

from __future__ import annotations

import os
import signal
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap
from usersnap.daemon.activators import TIMER_SCALE_ENV

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(180)]

#: timer minutes per real second
SCALE = 120
YAML = """\
name: acts
version: '1.0'
summary: activated services
description: activated services under test
apps:
  stamp:
    command: bin/stamp
    daemon: oneshot
    # every 5 minutes: every 2.5 s at SCALE
    timer: 00:00-24:00/288
  weekly:
    command: bin/stamp
    daemon: simple
    timer: mon1,3:00~4:00
  echo:
    command: bin/echo-server
    daemon: simple
    plugs: [network-bind]
    sockets:
      sock:
        listen-stream: $SNAP_COMMON/echo.sock
        socket-mode: 0600
      tcp:
        listen-stream: 127.0.0.1:{port}
"""
ECHO_SERVER = """\
#!/usr/bin/env python3
import os, selectors, socket
assert os.environ["LISTEN_PID"] == str(os.getpid()), os.environ["LISTEN_PID"]
names = os.environ["LISTEN_FDNAMES"].split(":")
socks = [socket.socket(fileno=3 + i) for i in range(int(os.environ["LISTEN_FDS"]))]
print("activated with", len(socks), "sockets:", *names, flush=True)
selector = selectors.DefaultSelector()
for sock, name in zip(socks, names):
    selector.register(sock, selectors.EVENT_READ, name)
while True:
    for key, _ in selector.select():
        conn, _ = key.fileobj.accept()
        conn.sendall(("hello from " + key.data + "\\n").encode())
        conn.close()
"""
FILES: dict[str, str | bytes] = {
    "bin/stamp": '#!/bin/sh\necho "ran $SNAP_REVISION"\n',
    "bin/echo-server": ECHO_SERVER,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def us(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> Iterator[Usersnap]:
    monkeypatch.setenv(TIMER_SCALE_ENV, str(SCALE))  # the daemon inherits it
    with usersnap_session() as session:
        snap = build_snap(tmp_path, YAML.format(port=port), FILES, executables=list(FILES),
                          name="acts.snap")
        session.run("install", "--dangerous", str(snap))
        yield session


def wait_for(what: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def row(us: Usersnap, name: str) -> list[str]:
    out = us.run("services", name).stdout
    return out.splitlines()[1].split()


def runs(us: Usersnap) -> int:
    return us.run("logs", "-n", "all", "acts.stamp").stdout.count("ran x1")


def test_timer_fires_the_service_and_it_is_inactive_between_runs(us: Usersnap) -> None:
    assert row(us, "acts.weekly") == ["acts.weekly", "enabled", "inactive", "timer-activated"]
    assert "Started Timer stamp for snap application acts.stamp." in \
        us.run("logs", "-n", "all", "acts.stamp").stdout
    wait_for(lambda: runs(us) >= 2)
    logs = us.run("logs", "-n", "all", "acts.stamp").stdout
    assert logs.count("Started Service for snap application acts.stamp.") >= 2
    assert row(us, "acts.stamp") == ["acts.stamp", "enabled", "inactive", "timer-activated"]
    # the weekly one never ran (its next run is days of timer time away)
    assert "ran" not in us.run("logs", "-n", "all", "acts.weekly").stdout


def test_stop_disarms_the_timer_and_start_arms_it(us: Usersnap) -> None:
    wait_for(lambda: runs(us) >= 1)
    assert us.run("stop", "acts.stamp").stdout == "Stopped.\n"
    assert "Stopped Timer stamp" in us.run("logs", "-n", "all", "acts.stamp").stdout
    stopped_at = runs(us)
    time.sleep(6)  # two periods of the timer
    assert runs(us) == stopped_at
    assert us.run("start", "acts.stamp").stdout == "Started.\n"
    wait_for(lambda: runs(us) > stopped_at)


def ask(address: str | tuple[str, int]) -> str:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as client:
        client.settimeout(30)
        client.connect(address)
        return client.makefile().readline()


def test_first_connection_starts_the_service_with_the_sockets(us: Usersnap, port: int) -> None:
    path = us.dirs.data_dir("acts") / "common" / "echo.sock"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert row(us, "acts.echo") == ["acts.echo", "enabled", "inactive", "socket-activated"]
    assert ask(str(path)) == "hello from sock\n"
    assert row(us, "acts.echo")[2] == "active"
    assert ask(("127.0.0.1", port)) == "hello from tcp\n"
    logs = us.run("logs", "-n", "all", "acts.echo").stdout
    assert "Listening on Socket sock for snap application acts.echo." in logs
    assert "activated with 2 sockets: sock tcp" in logs
    assert us.run("stop", "acts.echo").stdout == "Stopped.\n"
    with pytest.raises(ConnectionRefusedError):
        ask(("127.0.0.1", port))
    us.run("start", "acts.echo")
    assert row(us, "acts.echo")[2] == "inactive"
    assert ask(str(path)) == "hello from sock\n"


def test_activators_are_back_after_the_daemon_is_killed(us: Usersnap, port: int) -> None:
    assert ask(("127.0.0.1", port)) == "hello from tcp\n"  # the service runs now
    us.stop_daemon(signal.SIGKILL)
    # the next daemon kills the old service and listens again; the timer fires again
    before = runs(us)
    assert row(us, "acts.echo") == ["acts.echo", "enabled", "inactive", "socket-activated"]
    assert ask(("127.0.0.1", port)) == "hello from tcp\n"
    wait_for(lambda: runs(us) > before)

def _port_start() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())


@pytest.mark.skipif(os.geteuid() == 0 or _port_start() <= 80,
                    reason="root (or the sysctl) may bind port 80")
def test_a_privileged_port_fails_the_install_with_the_reason(tmp_path: Path) -> None:
    yaml = YAML.format(port=80).replace("127.0.0.1:80", "80")
    with usersnap_session() as session:
        snap = build_snap(tmp_path, yaml, FILES, executables=list(FILES), name="acts.snap")
        out = session.run("install", "--dangerous", str(snap), check=False)
        assert out.returncode == 1
        assert (f"cannot listen on [::]:80: ports below {_port_start()} need root "
                "(net.ipv4.ip_unprivileged_port_start)") in out.stderr
        assert "acts" not in session.run("list", check=False).stdout
