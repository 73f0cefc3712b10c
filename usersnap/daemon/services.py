"""Services as snapd and systemd define them: the pure half of supervision.

``/v2/apps`` and ``snapctl services`` entries (client.AppInfo), and the rules
:mod:`usersnap.daemon.supervisor` applies: durations, restart conditions as systemd's
``Restart=`` table has them, the start rate limit, stop signals and start order.
Activators come from snap.yaml as snapd derives them (``snap.AppInfo``: sockets, timer,
D-Bus activation).
"""

from __future__ import annotations

import re
import signal
import socket
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from usersnap.errors import UsersnapError
from usersnap.meta.model import App, SnapInfo


def app_json(snap: str, app: App, info: SnapInfo, *, enabled: bool = False,
             active: bool = False, listening: bool = False) -> dict[str, object]:
    """``listening``: its timer or sockets are armed (the .timer/.socket unit active)."""
    out: dict[str, object] = {"snap": snap, "name": app.name}
    if app.desktop:
        out["desktop-file"] = app.desktop
    if not app.daemon:
        return out
    unit = {"active": listening, "enabled": enabled}
    activators: list[dict[str, object]] = [
        {"name": name, "type": "socket", **unit} for name in sorted(app.sockets)]
    if app.timer:
        activators.append({"name": app.name, "type": "timer", **unit})
    for slot in app.activates_on:
        # snapd names it by the bus name and reports it enabled and active
        activators.append({"name": info.slots[slot].attrs.get("name", slot), "type": "dbus",
                           "active": True, "enabled": True})
    out.update({"daemon": app.daemon, "daemon-scope": app.daemon_scope or "system",
                "enabled": enabled, "active": active})
    if activators:
        out["activators"] = activators
    return out


def activated(app: App) -> bool:
    """Started by its timer or sockets, not at once: snapd's unit for such a service
    has no ``[Install]`` section; ``start`` arms the activators instead.  (D-Bus
    activation cannot be honoured: those services are started at once.)"""
    return bool(app.timer or app.sockets)


def remains_after_exit(app: App) -> bool:
    """snapd sets ``RemainAfterExit=yes`` only for a oneshot with a ``stop-command``."""
    return app.daemon == "oneshot" and bool(app.stop_command)


def services(info: SnapInfo) -> list[App]:
    return sorted((a for a in info.apps.values() if a.daemon), key=lambda a: a.name)


def notes(entry: dict[str, object]) -> str:
    """clientutil.ClientAppInfoNotes."""
    if not entry.get("daemon"):
        return "-"
    out = ["user"] if entry.get("daemon-scope") == "user" else []
    activators = entry.get("activators")
    kinds = {a.get("type") for a in activators if isinstance(a, dict)} \
        if isinstance(activators, list) else set()
    out += [f"{k}-activated" for k in ("timer", "socket", "dbus") if k in kinds]
    return ",".join(out) or "-"


def status_row(entry: dict[str, object]) -> list[str]:
    """One row of ``snap services`` / ``snapctl services``."""
    startup = "enabled" if entry.get("enabled") else "disabled"
    if entry.get("daemon-scope") == "user":
        current = "-"
    else:
        current = "active" if entry.get("active") else "inactive"
    return [f"{entry['snap']}.{entry['name']}", startup, current, notes(entry)]


# --- durations ------------------------------------------------------------------------

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
#: snapd's timeout.DefaultTimeout, used for stop-timeout (wrappers/services.go)
DEFAULT_STOP_TIMEOUT = 30.0
#: systemd's DefaultTimeoutStartSec (snapd sets TimeoutStartSec only when given)
DEFAULT_START_TIMEOUT = 90.0
#: systemd's RestartSec default
DEFAULT_RESTART_DELAY = 0.1
#: systemd's DefaultStartLimitBurst / DefaultStartLimitIntervalSec
START_LIMIT_BURST = 5
START_LIMIT_INTERVAL = 10.0


def parse_duration(text: str, default: float) -> float:
    """Go's ``time.ParseDuration`` (snapd's ``timeout.Timeout``): ``1m30s``, ``500ms``, ``0``."""
    text = text.strip()
    if not text:
        return default
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise UsersnapError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total


# --- how a run ended, and whether to restart ---------------------------------------------

#: systemd counts these as a clean death for ``Restart=on-success``/``on-failure``
CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a service's main process ended, in systemd's terms."""

    #: "exited", "killed" (by a signal), "timeout" (start) or "watchdog"
    code: str
    status: int

    @property
    def clean(self) -> bool:
        if self.code == "exited":
            return self.status == 0
        return self.code == "killed" and self.status in CLEAN_SIGNALS

    def describe(self) -> str:
        """journald's ``Main process exited, code=…, status=…`` tail."""
        if self.code == "killed":
            try:
                name = signal.Signals(self.status).name.removeprefix("SIG")
            except ValueError:
                name = str(self.status)
            return f"code=killed, status={self.status}/{name}"
        if self.code == "exited":
            word = "SUCCESS" if self.status == 0 else "FAILURE"
            return f"code=exited, status={self.status}/{word}"
        return f"code={self.code}"


def outcome_of(returncode: int) -> Outcome:
    """The launcher's status: bwrap reports an app killed by N as 128+N (launch.py), the
    launcher itself killed by N is -N; both count as killed by N, as systemd would see."""
    if returncode < 0:
        return Outcome("killed", -returncode)
    if 128 < returncode < 128 + 65:
        return Outcome("killed", returncode - 128)
    return Outcome("exited", returncode)


def should_restart(condition: str, outcome: Outcome) -> bool:
    """systemd's ``Restart=`` table; snapd maps ``never`` to ``no`` and defaults to
    ``on-failure``."""
    condition = condition or "on-failure"
    abnormal_signal = outcome.code == "killed" and not outcome.clean
    return {
        "never": False,
        "always": True,
        "on-success": outcome.clean,
        "on-failure": not outcome.clean,
        "on-abnormal": abnormal_signal or outcome.code in ("timeout", "watchdog"),
        "on-abort": abnormal_signal,
        "on-watchdog": outcome.code == "watchdog",
    }.get(condition, not outcome.clean)


class StartLimit:
    """systemd's start rate limit: at most ``burst`` starts per ``interval`` seconds."""

    def __init__(self, burst: int = START_LIMIT_BURST,
                 interval: float = START_LIMIT_INTERVAL) -> None:
        self.burst = burst
        self.interval = interval
        self._starts: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a start at ``now`` if the limit allows it."""
        while self._starts and now - self._starts[0] >= self.interval:
            self._starts.popleft()
        if len(self._starts) >= self.burst:
            return False
        self._starts.append(now)
        return True

    def reset(self) -> None:
        """A start asked for by the user clears the limit (``systemctl reset-failed``)."""
        self._starts.clear()


# --- stopping -------------------------------------------------------------------------

_STOP_SIGNALS = {"sigterm": signal.SIGTERM, "sighup": signal.SIGHUP, "sigusr1": signal.SIGUSR1,
                 "sigusr2": signal.SIGUSR2, "sigint": signal.SIGINT}


def stop_signal(stop_mode: str) -> tuple[signal.Signals, bool]:
    """``stop-mode`` -> (KillSignal, to every process): snapd's ``StopModeType`` gives
    ``KillMode=process`` unless the mode ends in ``-all``."""
    mode = stop_mode or "sigterm"
    every = mode.endswith("-all")
    return _STOP_SIGNALS.get(mode.removesuffix("-all"), signal.SIGTERM), every


# --- sockets --------------------------------------------------------------------------

#: the lowest port an unprivileged process may bind unless the sysctl
#: ``net.ipv4.ip_unprivileged_port_start`` says otherwise
UNPRIVILEGED_PORT_START = 1024


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """What systemd's ``ListenStream=`` binds for a ``listen-stream`` value."""

    family: socket.AddressFamily
    #: a path, an abstract name (starting with NUL) or an IP address
    host: str
    port: int = 0

    def describe(self) -> str:
        if self.family == socket.AF_UNIX:
            return self.host.replace("\0", "@", 1)
        return f"[{self.host}]:{self.port}" if self.family == socket.AF_INET6 \
            else f"{self.host}:{self.port}"


def listen_address(value: str, paths: Mapping[str, str]) -> ListenAddress:
    """A validated ``listen-stream`` -> its address; ``paths`` gives the host directory
    behind each variable it may start with (``SNAP_DATA``, ``SNAP_COMMON``,
    ``XDG_RUNTIME_DIR``, ``SNAP_USER_DATA``, ``SNAP_USER_COMMON``).  A bare port listens
    on every address, IPv4 and IPv6, as ``ListenStream=PORT`` does."""
    if value.startswith("$"):
        variable, _, rest = value[1:].partition("/")
        return ListenAddress(socket.AF_UNIX, f"{paths[variable]}/{rest}")
    if value.startswith("@"):
        return ListenAddress(socket.AF_UNIX, "\0" + value[1:])
    host, _, port = value.rpartition(":")
    if host == "127.0.0.1":
        return ListenAddress(socket.AF_INET, host, int(port))
    return ListenAddress(socket.AF_INET6, host.strip("[]") or "::", int(port))


# --- order ----------------------------------------------------------------------------


def start_order(apps: list[App]) -> list[App]:
    """``before``/``after`` as snapd's ``SortServices``: a stable topological order (by
    name among equals); unknown names are ignored (snap.yaml validation rejects them)."""
    names = {a.name for a in apps}
    after: dict[str, set[str]] = {a.name: {n for n in a.after if n in names} for a in apps}
    for app in apps:
        for other in app.before:
            if other in names:
                after[other].add(app.name)
    by_name = {a.name: a for a in apps}
    out: list[App] = []
    done: set[str] = set()
    while len(out) < len(apps):
        ready = sorted(n for n in after if n not in done and after[n] <= done)
        if not ready:  # a cycle (validation refuses it): keep the rest by name
            ready = sorted(n for n in after if n not in done)
        for name in ready:
            done.add(name)
            out.append(by_name[name])
    return out
