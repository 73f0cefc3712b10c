"""What starts an activated service instead of usersnapd's ``start``: the clock of its
timer and its listening sockets (systemd's ``.timer`` and ``.socket`` units, as snapd
writes them).

The schedule and the addresses are pure (:mod:`usersnap.meta.schedule`,
:func:`usersnap.daemon.services.listen_address`); this is the wall clock the schedule
is read against and the binding of the sockets, which usersnapd holds while the service
is not running and passes to it when a client connects (``LISTEN_FDS``).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from usersnap.daemon.services import UNPRIVILEGED_PORT_START, ListenAddress
from usersnap.errors import UsersnapError

#: systemd's SocketMode= default
DEFAULT_SOCKET_MODE = 0o666
_PORT_START = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")


class SocketError(UsersnapError):
    """A service's socket cannot be listened on (systemd's socket unit fails)."""


def open_listener(address: ListenAddress, mode: int = DEFAULT_SOCKET_MODE) -> socket.socket:
    """Bind and listen as systemd does for ``ListenStream=``: a stale socket file is
    replaced, missing directories are created, the file gets ``socket-mode``."""
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        if address.family == socket.AF_UNIX:
            if not address.host.startswith("\0"):
                path = Path(address.host)
                path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                path.unlink(missing_ok=True)
            sock.bind(address.host)
            if not address.host.startswith("\0"):
                os.chmod(address.host, mode)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if address.family == socket.AF_INET6:
                # a bare port or [::] takes IPv4 too, as systemd's BindIPv6Only=default
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                                int(address.host != "::"))
            sock.bind((address.host, address.port))
        sock.listen(socket.SOMAXCONN)
    except OSError as err:
        sock.close()
        raise SocketError(_bind_failure(address, err)) from err
    return sock


def _bind_failure(address: ListenAddress, err: OSError) -> str:
    where = address.describe()
    if err.errno == errno.EACCES and address.family != socket.AF_UNIX:
        try:
            start = int(_PORT_START.read_text())
        except (OSError, ValueError):
            start = UNPRIVILEGED_PORT_START
        if address.port < start:
            return (f"cannot listen on {where}: ports below {start} need root "
                    "(net.ipv4.ip_unprivileged_port_start)")
    return f"cannot listen on {where}: {err.strerror or err}"

#: test-only: timer time runs this many times faster than the wall clock from the
#: daemon's start, so that a schedule in minutes fires within seconds in a test
TIMER_SCALE_ENV = "USERSNAP_TEST_TIMER_SCALE"


class TimerClock:
    """Local wall-clock time for timers, as systemd reads ``OnCalendar=``."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.origin = time.time()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TimerClock:
        return cls(float(env.get(TIMER_SCALE_ENV) or 1.0))

    def _timestamp(self) -> float:
        return self.origin + (time.time() - self.origin) * self.scale

    def now(self) -> dt.datetime:
        """Naive local time, the schedule's frame."""
        return dt.datetime.fromtimestamp(self._timestamp())

    def seconds_until(self, when: dt.datetime) -> float:
        """Real seconds to sleep until ``when`` (naive local time)."""
        return max(0.0, (when.timestamp() - self._timestamp()) / self.scale)
