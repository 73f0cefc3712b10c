"""usersnapd's service supervisor: systemd's part for snap services, without systemd.

Each running service is a :mod:`usersnap.daemon.svcrun` process in a session of its
own, watched by a trio task that copies its output into the service's log
(:mod:`usersnap.daemon.logs`) and, when it ends, applies ``restart-condition`` and
``restart-delay`` within systemd's start limit (5 starts in 10 s, then the service is
``failed`` until started again).  Stopping runs ``stop-command``, sends the stop-mode
signal, waits ``stop-timeout``, then SIGKILLs the whole tree, and runs
``post-stop-command``.

When usersnapd's own cgroup is delegated to the user (:mod:`usersnap.daemon.cgroups`),
each service's runs (its commands too) go into ``snap.SNAP.APP.service`` below it, made
here and entered by svcrun; a kill of the tree is then also a kill of that cgroup, and
the cgroup is removed, emptied, when the service is over.

A service with a ``timer`` or ``sockets`` is activated, as snapd's units are: starting it
arms its activators (:mod:`usersnap.daemon.activators`), and the timer's time or a
pending connection starts the service, which gets the listening sockets.

What survives the daemon: which services are disabled (``<root>/services.json``,
systemd's enablement) and, in the runtime directory, which run now and their launcher's
pid and start time and the cgroups made (``<runtime>/services.json``).  A new daemon
kills what a dead one left running (:meth:`Supervisor.kill_leftovers`) and starts again
what ran (:meth:`Supervisor.resume`); when the runtime directory is new (a new login,
like a boot), it starts every enabled service instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from usersnap.daemon import cgroups
from usersnap.daemon.activators import (
    DEFAULT_SOCKET_MODE,
    SocketError,
    TimerClock,
    open_listener,
)
from usersnap.daemon.logs import LogWriter, log_path
from usersnap.daemon.services import (
    DEFAULT_RESTART_DELAY,
    DEFAULT_START_TIMEOUT,
    DEFAULT_STOP_TIMEOUT,
    Outcome,
    StartLimit,
    activated,
    listen_address,
    outcome_of,
    parse_duration,
    remains_after_exit,
    should_restart,
    start_order,
    stop_signal,
)
from usersnap.daemon.supervisor_procs import descendants, kill_tree, signal_all, start_time
from usersnap.daemon.svcrun import notify_name
from usersnap.dirs import Dirs
from usersnap.errors import AppNotFoundError, SnapNotFoundError, UsersnapError
from usersnap.meta.model import App, SnapInfo
from usersnap.meta.schedule import Schedule, ScheduleError, next_fire, parse_schedule

log = logging.getLogger(__name__)

#: how long a killed tree may take to go
_REAP_SECONDS = 5.0
#: how often a cgroup being emptied is looked at
_POLL = 0.05


class ServiceError(UsersnapError):
    """A service could not be started, stopped or reloaded (systemctl's job failed)."""


@dataclass
class Service:
    """One snap.app's supervision state."""

    snap: str
    app: str
    limit: StartLimit = field(default_factory=StartLimit)
    proc: trio.Process | None = None
    #: set while it should run (cleared by a stop)
    wanted: bool = False
    #: oneshot that succeeded: active (exited), as RemainAfterExit=yes
    exited_ok: bool = False
    failed: str = ""
    restarts: int = 0
    done: trio.Event = field(default_factory=trio.Event)
    #: READY=1 came (notify services)
    ready: trio.Event = field(default_factory=trio.Event)
    #: the last WATCHDOG=1 (monotonic)
    pinged: float = 0.0
    #: why the supervisor killed it: "timeout" (start) or "watchdog", "" otherwise
    forced: str = ""
    #: its activators' task while they are armed (systemd's .timer/.socket active)
    listener: trio.CancelScope | None = None
    #: the listening sockets' fds and names, passed to each run (LISTEN_FDS)
    listen_fds: list[tuple[int, str]] = field(default_factory=list)
    #: its cgroup while it has one ("" without a delegated cgroup)
    cgroup: str = ""

    @property
    def sid(self) -> str:
        return f"{self.snap}.{self.app}"

    @property
    def active(self) -> bool:
        return self.proc is not None or self.exited_ok


InfoFor = Callable[[str], tuple[SnapInfo, str] | None]


class Supervisor:
    def __init__(self, dirs: Dirs, info_for: InfoFor) -> None:
        self.dirs = dirs
        self.info_for = info_for
        self.services: dict[str, Service] = {}
        self.nursery: trio.Nursery | None = None
        self.disabled: set[str] = set(_read_json(self._enabled_file).get("disabled", []))
        self.clock = TimerClock.from_env()
        found = cgroups.detect()
        #: where the services' cgroups go: usersnapd's own cgroup, if delegated
        self.cgroup_parent = found.path if found.delegated else ""
        #: the services' cgroups made and not removed yet (a dead daemon's are killed)
        self.made: set[str] = set()

    # -- persistence --------------------------------------------------------------

    @property
    def _enabled_file(self) -> Path:
        return self.dirs.root / "services.json"

    @property
    def _running_file(self) -> Path:
        return self.dirs.runtime / "services.json"

    def _save_enabled(self) -> None:
        _write_json(self._enabled_file, {"disabled": sorted(self.disabled)})

    def _save_running(self) -> None:
        running = {s.sid: {"pid": s.proc.pid, "start": start_time(s.proc.pid)}
                   for s in self.services.values() if s.proc is not None and s.wanted}
        wanted = sorted(s.sid for s in self.services.values()
                        if (s.wanted and not s.exited_ok) or s.listener is not None)
        exited = sorted(s.sid for s in self.services.values() if s.exited_ok)
        _write_json(self._running_file, {"running": running, "wanted": wanted,
                                         "exited": exited, "cgroups": sorted(self.made)})

    def kill_leftovers(self) -> list[str]:
        """Before the mount comes back: kill what a dead daemon's services left; return
        the services that were meant to run.  Oneshot services that had run are
        remembered as such, not run again."""
        saved = _read_json(self._running_file)
        for sid, entry in dict(saved.get("running", {})).items():
            pid = int(entry.get("pid", 0))
            if pid > 1 and start_time(pid) == entry.get("start"):
                log.info("killing %s left running by a previous usersnapd (pid %d)", sid, pid)
                kill_tree(pid)
        for path in saved.get("cgroups", []):
            log.info("killing and removing cgroup %s of a previous usersnapd", path)
            if not cgroups.kill_and_remove(str(path), _REAP_SECONDS):
                log.warning("cannot remove cgroup %s", path)
                self.made.add(str(path))
        for sid in saved.get("exited", []):
            snap, _, app = str(sid).partition(".")
            self.services[sid] = Service(snap, app, wanted=True, exited_ok=True)
        return list(saved.get("wanted", []))

    # -- queries ------------------------------------------------------------------

    def enabled(self, snap: str, app: str) -> bool:
        return f"{snap}.{app}" not in self.disabled

    def active(self, snap: str, app: str) -> bool:
        svc = self.services.get(f"{snap}.{app}")
        return svc is not None and svc.active

    def listening(self, snap: str, app: str) -> bool:
        """Its timer (or sockets) armed."""
        svc = self.services.get(f"{snap}.{app}")
        return svc is not None and svc.listener is not None

    def busy(self) -> bool:
        """A service runs, is to be restarted or waits for its timer: the daemon must
        stay (systemd is always there to fire a timer)."""
        return any(s.proc is not None or (s.wanted and not s.exited_ok)
                   or s.listener is not None for s in self.services.values())

    def writer(self, sid: str) -> LogWriter:
        return LogWriter(log_path(self.dirs.logs, sid))

    def note(self, sid: str, message: str) -> None:
        """A supervisor line in the service's log, as journald shows systemd's."""
        self.writer(sid).write("systemd", os.getpid(), message)

    # -- start-up -----------------------------------------------------------------

    async def run(self, snaps: list[str], wanted: list[str], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the service tasks until cancelled; then stop every service (they cannot
        outlive the mount)."""
        fresh = not self._running_file.exists()
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                task_status.started()
                for snap in snaps:
                    found = self.info_for(snap)
                    if found is None:
                        continue
                    apps = [a for a in start_order(list(found[0].services))
                            if (fresh and self.enabled(snap, a.name))
                            or f"{snap}.{a.name}" in wanted]
                    for app in apps:
                        try:
                            await self.start(snap, app.name)
                        except UsersnapError as err:  # in its log too; the others go on
                            log.warning("cannot start %s.%s: %s", snap, app.name, err)
                self._save_running()
                await trio.sleep_forever()
        finally:
            self.nursery = None
            for path in self.made:  # oneshots' (empty) ones; the record stays for resume
                cgroups.remove(path)

    # -- control ------------------------------------------------------------------

    def _app(self, snap: str, name: str) -> tuple[App, str]:
        found = self.info_for(snap)
        app = found[0].apps.get(name) if found else None
        if found is None or app is None or not app.daemon:
            raise AppNotFoundError(f'snap "{snap}" has no service "{name}"')
        return app, found[1]

    def set_enabled(self, snap: str, names: list[str], enabled: bool) -> None:
        for name in names:
            (self.disabled.discard if enabled else self.disabled.add)(f"{snap}.{name}")
        self._save_enabled()

    def forget(self, snap: str) -> None:
        """The snap is gone: its enablement and its logs go too."""
        self.disabled = {s for s in self.disabled if not s.startswith(f"{snap}.")}
        self._save_enabled()
        for sid in [s for s in self.services if s.startswith(f"{snap}.")]:
            del self.services[sid]
        for path in (self.dirs.logs / "services").glob(f"{snap}.*.log*"):
            path.unlink(missing_ok=True)

    async def start(self, snap: str, name: str) -> None:
        """``systemctl start``; for an activated service, of its timer (or sockets)."""
        app, revision = self._app(snap, name)
        svc = self.services.setdefault(f"{snap}.{name}", Service(snap, name))
        if activated(app):
            await self._arm(svc, app, revision)
            return
        if app.activates_on and not svc.active:
            self.note(svc.sid, "D-Bus activation (activates-on) is not available without "
                               "root: started at once instead.")
        await self._start_unit(svc, app, revision)

    async def _start_unit(self, svc: Service, app: App, revision: str) -> None:
        if svc.active:
            return
        svc.limit.reset()
        svc.failed = ""
        svc.wanted = True
        svc.restarts = 0
        await self._spawn(svc, app, revision)

    async def _arm(self, svc: Service, app: App, revision: str) -> None:
        """Start the service's timer and socket units."""
        if svc.listener is not None:
            return
        assert self.nursery is not None
        try:
            schedules = parse_schedule(app.timer) if app.timer else []
        except ScheduleError as err:  # validated at install: a snap tried live
            raise ServiceError(f"cannot start the timer of {svc.sid}: {err}") from err
        sockets = self._open_sockets(svc, app, revision)
        await self.nursery.start(self._activators, svc, app, schedules, sockets)
        self._save_running()

    def _open_sockets(self, svc: Service, app: App, revision: str) -> dict[str, socket.socket]:
        data, user = self.dirs.data_dir(svc.snap), self.dirs.user_data_dir(svc.snap)
        paths = {"SNAP_DATA": f"{data}/{revision}", "SNAP_COMMON": f"{data}/common",
                 "SNAP_USER_DATA": f"{user}/{revision}", "SNAP_USER_COMMON": f"{user}/common",
                 "XDG_RUNTIME_DIR": str(self.dirs.xdg_runtime(svc.snap))}
        opened: dict[str, socket.socket] = {}
        try:
            for name, attrs in sorted(app.sockets.items()):
                mode = attrs.get("socket-mode")
                address = listen_address(str(attrs.get("listen-stream")), paths)
                opened[name] = open_listener(
                    address, mode if isinstance(mode, int) else DEFAULT_SOCKET_MODE)
        except SocketError as err:
            for sock in opened.values():
                sock.close()
            self.note(svc.sid, f"snap.{svc.sid}.socket: Failed to listen: {err}")
            raise ServiceError(f"cannot start the sockets of {svc.sid}: {err}") from err
        return opened

    def _disarm(self, svc: Service) -> None:
        if svc.listener is not None:
            svc.listener.cancel()
            svc.listener = None

    async def _activators(self, svc: Service, app: App, schedules: list[Schedule],
                          sockets: dict[str, socket.socket], *,
                          task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The timer and socket units, until stopped; the sockets are passed to every
        run of the service meanwhile."""
        timer = f"Timer {svc.app} for snap application {svc.sid}"
        try:
            with trio.CancelScope() as scope:
                svc.listener = scope
                svc.listen_fds = [(sock.fileno(), name) for name, sock in sockets.items()]
                if schedules:
                    self.note(svc.sid, f"Started {timer}.")
                for name in sockets:
                    self.note(svc.sid, f"Listening on Socket {name} for snap application "
                                       f"{svc.sid}.")
                task_status.started()
                async with trio.open_nursery() as nursery:
                    if schedules:
                        nursery.start_soon(self._timer, svc, schedules)
                    if sockets:
                        nursery.start_soon(self._on_connection, svc, list(sockets.values()))
        finally:
            svc.listen_fds = []
            for name, sock in sockets.items():
                sock.close()
                self.note(svc.sid, f"Closed Socket {name} for snap application {svc.sid}.")
            if schedules:
                self.note(svc.sid, f"Stopped {timer}.")
            if svc.listener is not scope:  # disarmed, not the daemon leaving: remember
                self._save_running()

    async def _activate(self, svc: Service) -> None:
        """What a timer or a connection starts: the service, unless it runs already
        (systemd's start of an active unit is a no-op)."""
        if svc.active:
            return
        app, revision = self._app(svc.snap, svc.app)
        svc.failed = ""
        svc.wanted = True
        svc.restarts = 0
        await self._spawn(svc, app, revision)

    async def _timer(self, svc: Service, schedules: list[Schedule]) -> None:
        """systemd's ``OnCalendar=`` timer: starts the service at every time the schedule
        gives."""
        last = self.clock.now()
        while True:
            last = next_fire(schedules, max(last, self.clock.now()), svc.sid)
            await trio.sleep(self.clock.seconds_until(last))
            try:
                await self._activate(svc)
            except UsersnapError as err:  # in its log already; the timer goes on
                log.warning("timer of %s: %s", svc.sid, err)

    async def _on_connection(self, svc: Service, sockets: list[socket.socket]) -> None:
        """systemd's ``Accept=no``: a pending connection starts the service, which gets
        the listening sockets; they are watched again once it is over.  A service that
        cannot be started ends the socket unit (``service-start-limit-hit``)."""
        while True:
            await _first_readable(sockets)
            try:
                await self._activate(svc)
            except UsersnapError as err:
                log.warning("socket of %s: %s", svc.sid, err)
                reason = "service-start-limit-hit" if svc.failed == "start-limit-hit" \
                    else "resources"
                self.note(svc.sid, f"snap.{svc.sid}.socket: Failed with result '{reason}'.")
                self._disarm(svc)
                return
            while svc.proc is not None or svc.wanted:
                if svc.done.is_set():  # between a run and its restart
                    await trio.sleep(0.1)
                else:
                    await svc.done.wait()

    async def _spawn(self, svc: Service, app: App, revision: str) -> None:
        assert self.nursery is not None
        if not svc.limit.allow(time.monotonic()):
            svc.wanted = False
            svc.failed = "start-limit-hit"
            self.note(svc.sid, f"snap.{svc.sid}.service: Start request repeated too quickly.")
            self.note(svc.sid, f"snap.{svc.sid}.service: Failed with result 'start-limit-hit'.")
            self.note(svc.sid, f"Failed to start Service for snap application {svc.sid}.")
            self._save_running()
            raise ServiceError(f"service {svc.sid} is restarting too quickly: start limit hit")
        svc.exited_ok = False
        svc.done = trio.Event()
        svc.ready = trio.Event()
        svc.forced = ""
        notify = None
        if app.daemon == "notify" or app.watchdog_timeout:
            notify = await self._notify_socket(svc)
        proc = await self._open(svc, revision)
        svc.proc = proc
        self._save_running()
        self.nursery.start_soon(self._watch, svc, app, revision, proc)
        if notify is not None:
            self.nursery.start_soon(self._listen, svc, app, proc, notify)
        limit = parse_duration(app.start_timeout, DEFAULT_START_TIMEOUT)
        if app.daemon in ("oneshot", "notify"):
            with trio.move_on_after(limit):
                await _first(svc.done, svc.ready)
            if app.daemon == "notify" and not svc.ready.is_set() and svc.proc is proc:
                svc.forced = "timeout"
                self.note(svc.sid, f"snap.{svc.sid}.service: start operation timed out. "
                                   "Terminating.")
                self._kill(svc, proc)
            started = svc.ready.is_set() if app.daemon == "notify" \
                else svc.done.is_set() and not svc.failed
            if not started:
                raise ServiceError(f"service {svc.sid} failed to start: {svc.failed or 'timeout'}")
        self.note(svc.sid, f"Started Service for snap application {svc.sid}.")

    async def _notify_socket(self, svc: Service) -> trio.socket.SocketType:
        """sd_notify's socket, where svcrun's ``$NOTIFY_SOCKET`` points (in a 0700
        directory: only the user's processes can reach it)."""
        directory = self.dirs.xdg_runtime(svc.snap)
        path = directory / notify_name(svc.app)
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_DGRAM)
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            await sock.bind(str(path))
        except OSError as err:
            sock.close()
            raise ServiceError(f"cannot create the notify socket of {svc.sid}: {err}") from err
        return sock

    async def _listen(self, svc: Service, app: App, proc: trio.Process,
                      sock: trio.socket.SocketType) -> None:
        """READY=1, WATCHDOG=1 (and the watchdog itself) until the run ends."""
        watchdog = parse_duration(app.watchdog_timeout, 0.0)
        svc.pinged = time.monotonic()
        with sock:
            while svc.proc is proc:
                with trio.move_on_after(watchdog / 4 if watchdog else 1.0):
                    data = await sock.recv(4096)
                    fields = dict(line.partition("=")[::2] for line in
                                  data.decode("utf-8", "replace").splitlines())
                    if fields.get("READY") == "1":
                        svc.ready.set()
                    if fields.get("WATCHDOG") == "1":
                        svc.pinged = time.monotonic()
                if watchdog and svc.proc is proc and time.monotonic() - svc.pinged > watchdog:
                    svc.forced = "watchdog"
                    self.note(svc.sid, f"snap.{svc.sid}.service: Watchdog timeout! Killing.")
                    self._kill(svc, proc)
                    return

    def _unit_cgroup(self, svc: Service) -> str:
        """The service's cgroup, made if need be; "" to go without (none delegated, or
        another usersnapd's processes in one of that name: systemd's unit names are one
        per user, usersnap's per root)."""
        if not self.cgroup_parent:
            return ""
        path = cgroups.service_cgroup(self.cgroup_parent, svc.sid)
        if path not in self.made:
            try:
                os.mkdir(path)
            except FileExistsError:
                if cgroups.populated(path):
                    self.note(svc.sid, f"cgroup {path} is in use by another usersnapd: "
                                       "running without a cgroup of its own.")
                    return ""
            except OSError as err:
                log.warning("cannot make cgroup %s: %s", path, err)
                return ""
            self.made.add(path)
            self._save_running()
        svc.cgroup = path
        return path

    def _kill(self, svc: Service, proc: trio.Process) -> None:
        """SIGKILL the run's tree and its cgroup (what left the tree is still there)."""
        kill_tree(proc.pid)
        if svc.cgroup:
            cgroups.kill(svc.cgroup)

    async def _clear_cgroup(self, svc: Service) -> None:
        """The service is over: kill what is left in its cgroup, wait (bounded) for it
        to empty, and remove it."""
        path = svc.cgroup
        if not path:
            return
        svc.cgroup = ""
        cgroups.kill(path)
        for _ in range(int(_REAP_SECONDS / _POLL)):  # cgroup.events could be polled too
            if svc.cgroup or not cgroups.populated(path):
                break
            await trio.sleep(_POLL)
        if svc.cgroup:  # started again meanwhile, in the same cgroup
            return
        if cgroups.remove(path):
            self.made.discard(path)
            self._save_running()
        else:
            log.warning("cannot remove cgroup %s of %s", path, svc.sid)

    async def _open(self, svc: Service, revision: str, command: str = "") -> trio.Process:
        argv = [sys.executable, "-m", "usersnap.daemon.svcrun", "-r", revision]
        if command:
            argv += ["--command", command]
        cgroup = self._unit_cgroup(svc)
        if cgroup:
            argv += ["--cgroup", cgroup]
        fds = [] if command else svc.listen_fds
        for fd, name in fds:
            argv += ["--listen", f"{fd}:{name}"]
        argv += [svc.snap, svc.app]
        env = {**os.environ, "USERSNAP_ROOT": str(self.dirs.root),
               "USERSNAP_RUNTIME_DIR": str(self.dirs.runtime), "HOME": str(self.dirs.home)}
        try:
            return await trio.lowlevel.open_process(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd="/",
                pass_fds=[fd for fd, _ in fds])
        except OSError as err:
            raise ServiceError(f"cannot start {svc.sid}: {err.strerror or err}") from err

    async def _pump(self, sid: str, proc: trio.Process) -> None:
        """The process's output, line by line, into the log."""
        assert proc.stdout is not None
        writer = self.writer(sid)
        pending = b""
        async with proc.stdout:
            while data := await proc.stdout.receive_some(65536):
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    writer.write(sid, proc.pid, line.decode("utf-8", "replace"))
            if pending:
                writer.write(sid, proc.pid, pending.decode("utf-8", "replace"))

    async def _watch(self, svc: Service, app: App, revision: str, proc: trio.Process) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, svc.sid, proc)
                await proc.wait()
                # leftovers holding the pipe are gone (svcrun killed them; the cgroup's
                # kill takes those that left its tree)
                if svc.cgroup:
                    cgroups.kill(svc.cgroup)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._terminate(svc, app, proc)
            raise
        assert proc.returncode is not None
        outcome = Outcome(svc.forced, 0) if svc.forced else outcome_of(proc.returncode)
        svc.proc = None
        if app.daemon == "oneshot" and outcome.clean:
            svc.exited_ok = remains_after_exit(app)
        elif svc.wanted:  # a stop says so itself
            self.note(svc.sid, f"snap.{svc.sid}.service: Main process exited, "
                               f"{outcome.describe()}")
        if not outcome.clean:
            svc.failed = outcome.describe()
        svc.done.set()
        if svc.wanted and app.daemon != "oneshot" \
                and should_restart(app.restart_condition, outcome):
            delay = parse_duration(app.restart_delay, DEFAULT_RESTART_DELAY)
            await trio.sleep(delay)
            if svc.wanted and svc.proc is None:
                svc.restarts += 1
                self.note(svc.sid, f"snap.{svc.sid}.service: Scheduled restart job, restart "
                                   f"counter is at {svc.restarts}.")
                with contextlib.suppress(ServiceError):
                    await self._spawn(svc, app, revision)
                if svc.proc is None:  # the start limit
                    await self._clear_cgroup(svc)
                return
        if not svc.exited_ok:  # over, and not to be restarted
            ended = svc.wanted  # a stop clears the cgroup itself, after post-stop
            svc.wanted = False
            if ended:
                await self._clear_cgroup(svc)
        self._save_running()

    async def _terminate(self, svc: Service, app: App, proc: trio.Process) -> None:
        """The daemon is going: a short SIGTERM grace, then SIGKILL to the tree."""
        signum, _ = stop_signal(app.stop_mode)
        signal_all([proc.pid], signum)
        with trio.move_on_after(min(2.0, parse_duration(app.stop_timeout,
                                                        DEFAULT_STOP_TIMEOUT))):
            await proc.wait()
        self._kill(svc, proc)
        with trio.move_on_after(_REAP_SECONDS):
            await proc.wait()
        await self._clear_cgroup(svc)

    async def stop(self, snap: str, name: str) -> None:
        """``systemctl stop`` of the service and of its timer (or sockets), as snapd's
        StopServices does."""
        app, revision = self._app(snap, name)
        svc = self.services.get(f"{snap}.{name}")
        if svc is None:
            return
        self._disarm(svc)
        svc.wanted = False
        svc.exited_ok = False
        proc = svc.proc
        if proc is None:
            await self._clear_cgroup(svc)  # an exited oneshot's
            self._save_running()
            return
        timeout = parse_duration(app.stop_timeout, DEFAULT_STOP_TIMEOUT)
        self.note(svc.sid, f"Stopping Service for snap application {svc.sid}...")
        if app.stop_command:
            await self._run_command(svc, revision, "stop", timeout)
        signum, every = stop_signal(app.stop_mode)
        everyone = {*descendants(proc.pid), *(cgroups.procs(svc.cgroup) if svc.cgroup
                                              else [])} if every else set()
        signal_all([proc.pid, *sorted(everyone - {proc.pid})], signum)
        with trio.move_on_after(timeout) as scope:
            await svc.done.wait()
        if scope.cancelled_caught:
            self.note(svc.sid, f"snap.{svc.sid}.service: State 'stop-sigterm' timed out. "
                               "Killing.")
        self._kill(svc, proc)
        with trio.move_on_after(_REAP_SECONDS):
            await svc.done.wait()
        if app.post_stop_command:
            await self._run_command(svc, revision, "post-stop", timeout)
        await self._clear_cgroup(svc)
        self.note(svc.sid, f"Stopped Service for snap application {svc.sid}.")
        self._save_running()

    async def reload(self, snap: str, name: str) -> None:
        """``--reload``: the reload-command if there is one, else a restart (systemctl
        reload-or-restart)."""
        app, revision = self._app(snap, name)
        svc = self.services.get(f"{snap}.{name}")
        if app.reload_command and svc is not None and svc.proc is not None:
            timeout = parse_duration(app.stop_timeout, DEFAULT_STOP_TIMEOUT)
            if await self._run_command(svc, revision, "reload", timeout) != 0:
                raise ServiceError(f"cannot reload {svc.sid}: reload-command failed")
            return
        await self.restart(snap, name)

    async def restart(self, snap: str, name: str) -> None:
        """An activated service's activators are restarted, and the service itself only
        if it was running (snapd's restartServicesByStatus)."""
        app, revision = self._app(snap, name)
        was_active = self.active(snap, name)
        await self.stop(snap, name)
        await self.start(snap, name)
        if activated(app) and was_active:
            await self._start_unit(self.services[f"{snap}.{name}"], app, revision)

    async def _run_command(self, svc: Service, revision: str, command: str,
                           limit: float) -> int:
        proc = await self._open(svc, revision, command)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, svc.sid, proc)
            with trio.move_on_after(limit):
                await proc.wait()
            if proc.returncode is None:
                kill_tree(proc.pid)
                await proc.wait()
        return proc.returncode if proc.returncode is not None else 1

    # -- several at once ----------------------------------------------------------

    def resolve(self, names: list[str]) -> list[tuple[str, list[App]]]:
        """``snap`` or ``snap.app`` names -> services in start order, per snap."""
        wanted: dict[str, list[str]] = {}
        for name in names:
            snap, _, app = name.partition(".")
            found = self.info_for(snap)
            if found is None:
                raise SnapNotFoundError(f'snap "{snap}" not found', value=snap)
            all_services = [a.name for a in found[0].services]
            if not app:
                if not all_services:
                    raise AppNotFoundError(f'snap "{snap}" has no services')
                wanted.setdefault(snap, []).extend(all_services)
            elif app not in all_services:
                raise AppNotFoundError(f'snap "{snap}" has no service "{app}"')
            else:
                wanted.setdefault(snap, []).append(app)
        out = []
        for snap, apps in wanted.items():
            found = self.info_for(snap)
            assert found is not None
            out.append((snap, start_order([a for a in found[0].services if a.name in apps])))
        return out

    async def control(self, action: str, names: list[str], *, enable: bool = False,
                      disable: bool = False, reload: bool = False) -> None:
        """``POST /v2/apps``: start/stop/restart, optionally changing enablement."""
        for snap, apps in self.resolve(names):
            if enable or disable:
                self.set_enabled(snap, [a.name for a in apps], enabled=enable)
            if action == "stop":
                for app in reversed(apps):
                    await self.stop(snap, app.name)
                continue
            for app in apps:
                if action == "start":
                    await self.start(snap, app.name)
                elif reload:
                    await self.reload(snap, app.name)
                else:
                    await self.restart(snap, app.name)

    async def stop_snap(self, snap: str, *, refresh: bool = False) -> list[str]:
        """Stop the snap's running services (``endure`` ones stay at a refresh); the
        names stopped, to start again if the change is undone."""
        found = self.info_for(snap)
        if found is None:
            return []
        stopped = []
        for app in reversed(start_order(list(found[0].services))):
            if refresh and app.refresh_mode == "endure":
                continue
            if self.active(snap, app.name) or self.listening(snap, app.name):
                await self.stop(snap, app.name)
                stopped.append(app.name)
        return stopped

    async def start_snap(self, snap: str, *, install: bool = False,
                         only: list[str] | None = None) -> None:
        """Start the snap's enabled services; at install, ``install-mode: disable`` ones
        are disabled instead."""
        found = self.info_for(snap)
        if found is None:
            return
        for app in start_order(list(found[0].services)):
            if install and app.install_mode == "disable":
                self.set_enabled(snap, [app.name], enabled=False)
            if only is not None and app.name not in only:
                continue
            if self.enabled(snap, app.name):
                await self.start(snap, app.name)


async def _first_readable(sockets: list[socket.socket]) -> None:
    """Wait until one of ``sockets`` has a connection pending."""
    async with trio.open_nursery() as nursery:
        async def wait(sock: socket.socket) -> None:
            await trio.lowlevel.wait_readable(sock)
            nursery.cancel_scope.cancel()

        for sock in sockets:
            nursery.start_soon(wait, sock)


async def _first(*events: trio.Event) -> None:
    """Wait until one of ``events`` is set."""
    async with trio.open_nursery() as nursery:
        async def wait(event: trio.Event) -> None:
            await event.wait()
            nursery.cancel_scope.cancel()

        for event in events:
            nursery.start_soon(wait, event)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(tmp, path)
