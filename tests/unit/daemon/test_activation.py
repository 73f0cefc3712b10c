"""Activated services, the pure parts: which services are activated, their activators
in ``/v2/apps``, listen-stream addresses, the privileged-port message, the timer clock's
test scale and the socket passing into the sandbox."""

from __future__ import annotations

import datetime as dt
import errno
import socket
from pathlib import Path

import pytest

from usersnap.daemon import activators
from usersnap.daemon.activators import SocketError, TimerClock, open_listener
from usersnap.daemon.services import (
    ListenAddress,
    activated,
    app_json,
    listen_address,
    notes,
    remains_after_exit,
)
from usersnap.daemon.svcrun import socket_activation
from usersnap.meta import parse_snap_yaml

YAML = """\
name: acts
version: '1'
slots:
  bus:
    interface: dbus
    bus: session
    name: org.example.Acts
apps:
  tick:
    command: t
    daemon: oneshot
    timer: 10:00
  web:
    command: w
    daemon: simple
    plugs: [network-bind]
    sockets:
      http:
        listen-stream: 8080
  dbus:
    command: d
    daemon: simple
    activates-on: [bus]
  once:
    command: o
    daemon: oneshot
    stop-command: s
"""
INFO = parse_snap_yaml(YAML)
PATHS = {"SNAP_DATA": "/r/data/acts/x1", "SNAP_COMMON": "/r/data/acts/common",
         "XDG_RUNTIME_DIR": "/run/xdg/snap.acts"}


def test_timer_and_socket_services_are_activated_dbus_ones_are_not() -> None:
    assert [n for n, a in sorted(INFO.apps.items()) if activated(a)] == ["tick", "web"]


def test_only_a_oneshot_with_a_stop_command_remains_active() -> None:
    assert [n for n, a in sorted(INFO.apps.items()) if remains_after_exit(a)] == ["once"]


def test_activators_as_snapd_reports_them() -> None:
    tick = app_json("acts", INFO.apps["tick"], INFO, enabled=True, listening=True)
    assert tick["activators"] == [{"name": "tick", "type": "timer", "active": True,
                                   "enabled": True}]
    assert notes(tick) == "timer-activated"
    web = app_json("acts", INFO.apps["web"], INFO, enabled=False)
    assert web["activators"] == [{"name": "http", "type": "socket", "active": False,
                                  "enabled": False}]
    dbus = app_json("acts", INFO.apps["dbus"], INFO)
    assert dbus["activators"] == [{"name": "org.example.Acts", "type": "dbus", "active": True,
                                   "enabled": True}]
    assert notes(dbus) == "dbus-activated"


@pytest.mark.parametrize(("value", "family", "host", "port", "shown"), [
    ("$SNAP_DATA/s.sock", socket.AF_UNIX, "/r/data/acts/x1/s.sock", 0,
     "/r/data/acts/x1/s.sock"),
    ("$XDG_RUNTIME_DIR/a/b", socket.AF_UNIX, "/run/xdg/snap.acts/a/b", 0,
     "/run/xdg/snap.acts/a/b"),
    ("@snap.acts.x", socket.AF_UNIX, "\0snap.acts.x", 0, "@snap.acts.x"),
    ("8080", socket.AF_INET6, "::", 8080, "[::]:8080"),
    ("127.0.0.1:80", socket.AF_INET, "127.0.0.1", 80, "127.0.0.1:80"),
    ("[::1]:9000", socket.AF_INET6, "::1", 9000, "[::1]:9000"),
    ("[::]:9000", socket.AF_INET6, "::", 9000, "[::]:9000"),
])
def test_listen_addresses(value: str, family: socket.AddressFamily, host: str, port: int,
                          shown: str) -> None:
    address = listen_address(value, PATHS)
    assert address == ListenAddress(family, host, port)
    assert address.describe() == shown


def test_a_privileged_port_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refuse)
    sysctl = tmp_path / "ip_unprivileged_port_start"
    sysctl.write_text("1000\n")
    monkeypatch.setattr(activators, "_PORT_START", sysctl)
    with pytest.raises(SocketError) as err:
        open_listener(ListenAddress(socket.AF_INET, "127.0.0.1", 80))
    assert str(err.value) == ("cannot listen on 127.0.0.1:80: ports below 1000 need root "
                              "(net.ipv4.ip_unprivileged_port_start)")
    with pytest.raises(SocketError) as err:
        open_listener(ListenAddress(socket.AF_INET, "127.0.0.1", 8080))
    assert str(err.value) == "cannot listen on 127.0.0.1:8080: Permission denied"


def test_sockets_are_renumbered_from_3_in_the_sandbox() -> None:
    env, argv = socket_activation({"HOME": "/h"}, ("/snap/acts/x1/w", "-v"), [50, 51],
                                  ["http", "admin"])
    assert env == {"HOME": "/h", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "http:admin"}
    assert argv == ("/bin/bash", "-c", 'exec 3<&50 4<&51 50<&- 51<&-; export LISTEN_PID=$$; '
                    'exec "$@"', "usersnap-listen", "/snap/acts/x1/w", "-v")


def test_the_test_timer_scale_speeds_the_timer_clock() -> None:
    clock = TimerClock(scale=60)
    in_a_minute = clock.now() + dt.timedelta(minutes=1)
    assert 0.9 < clock.seconds_until(in_a_minute) <= 1.0
    assert TimerClock.from_env({}).scale == 1.0
    assert TimerClock.from_env({"USERSNAP_TEST_TIMER_SCALE": "120"}).scale == 120
