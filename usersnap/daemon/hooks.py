"""Running hooks from usersnapd, as snapd's hook manager does.

snapd runs a hook as a child process, ``snap run --hook NAME -r REV SNAP`` with
``SNAP_COOKIE``/``SNAP_CONTEXT`` naming a fresh hook context, in a process group of its
own, its stdout and stderr combined and only the last 100 lines / 10 KiB kept, killed
with the whole group after a timeout (overlord/hookstate/hookmgr.go ``runHookAndWait``,
osutil ``RunAndWait``).  usersnapd does the same with ``python -m
usersnap.daemon.hookrun``: the sandbox launcher is synchronous and owns its process's
signals, so it runs in a process of its own rather than in a daemon thread.

A :class:`Context` is what ``snapctl`` acts on: the hook's (its id is the cookie given
to that one hook run) or, for apps, the snap's persistent cookie, an "ephemeral" context
whose changes are committed as soon as the command ends.  Configuration changes made in a
hook's context are committed only if the hook succeeds.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.state.config import Transaction

#: snapd's defaultHookTimeout; configure hooks get ConfigureHookTimeout (5 min) and
#: check-health 30 s (SNAPD_CHECK_HEALTH_HOOK_TIMEOUT overrides it there too).
DEFAULT_TIMEOUT = 600.0
TIMEOUTS = {"configure": 300.0, "check-health": 30.0}
#: strutil.NewLimitedBuffer(100, 10*1024)
OUTPUT_LINES = 100
OUTPUT_BYTES = 10 * 1024
#: how long a killed hook may take to be reaped (osutil's cmdWaitTimeout)
_REAP_SECONDS = 5.0
#: how long output is still read after the hook exited
_LINGER_SECONDS = 1.0


def hook_timeout(hook: str, env: Mapping[str, str] | None = None) -> float:
    """The limit for ``hook``; ``USERSNAP_HOOK_TIMEOUT`` (seconds) overrides all (tests)."""
    env = os.environ if env is None else env
    override = env.get("USERSNAP_HOOK_TIMEOUT", "")
    if override:
        return float(override)
    return TIMEOUTS.get(hook, DEFAULT_TIMEOUT)


class HookFailed(UsersnapError):
    """The hook exited non-zero, timed out or could not start; the message is snapd's
    ``osutil.OutputErr``: the output when there was some, else the exit status."""


@dataclass
class Context:
    """What one snapctl caller may see and change."""

    id: str
    snap: str
    revision: str
    #: the hook being run, "" for an app (snapd's ephemeral context)
    hook: str = ""
    config: Transaction | None = None
    #: set-health's HealthState, committed with the context
    health: dict[str, Any] | None = None
    #: extra data of the hook's setup (e.g. the configure patch), for handlers
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ephemeral(self) -> bool:
        return not self.hook


class Contexts:
    """The hook contexts alive now, by id (snapd's HookManager.contexts)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Context] = {}

    def new(self, snap: str, revision: str, hook: str) -> Context:
        context = Context(new_cookie(), snap, revision, hook)
        self._by_id[context.id] = context
        return context

    def get(self, context_id: str) -> Context | None:
        return self._by_id.get(context_id)

    def drop(self, context: Context) -> None:
        self._by_id.pop(context.id, None)


def new_cookie() -> str:
    """snapd's cookies and context ids are 44 URL-safe base64 characters of randomness."""
    return secrets.token_urlsafe(33)


def limit_output(data: bytes, lines: int = OUTPUT_LINES, size: int = OUTPUT_BYTES) -> bytes:
    """The tail that snapd's LimitedBuffer keeps: the last ``lines`` lines, then the last
    ``size`` bytes of those."""
    parts = data.split(b"\n")
    if len(parts) > lines + 1 or (len(parts) == lines + 1 and parts[-1]):
        parts = parts[-(lines + (0 if parts[-1] else 1)):]
    return b"\n".join(parts)[-size:]


def output_error(output: bytes, fallback: str) -> str:
    """osutil.OutputErr: the trimmed output (framed when it has several lines), else
    ``fallback`` (``exit status 1``)."""
    text = output.strip().decode("utf-8", "replace")
    if not text:
        return fallback
    if "\n" in text:
        return f"\n-----\n{text}\n-----"
    return text


async def run_hook(dirs: Dirs, snap: str, revision: str, hook: str, context_id: str,
                   *, limit: float, argv: list[str] | None = None) -> bytes:
    """Run ``hook`` of ``snap`` at ``revision`` confined; its (limited) output.

    Raises :class:`HookFailed` as snapd words it.  After ``limit`` seconds, or when
    cancelled (an abort), the hook's process group is killed.
    """
    argv = argv or [sys.executable, "-m", "usersnap.daemon.hookrun",
                    "--hook", hook, "-r", revision, snap]
    env = {
        **os.environ,
        "USERSNAP_ROOT": str(dirs.root), "USERSNAP_RUNTIME_DIR": str(dirs.runtime),
        "HOME": str(dirs.home), "SNAP_COOKIE": context_id, "SNAP_CONTEXT": context_id,
    }
    try:
        proc = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, cwd="/")
    except OSError as err:
        raise HookFailed(f"cannot run hook: {err.strerror or err}") from err
    assert proc.stdout is not None
    stdout = proc.stdout
    kept = bytearray()
    eof = trio.Event()
    why = ""

    async def collect() -> None:
        while data := await stdout.receive_some(65536):
            kept.extend(data)
            if len(kept) > 4 * OUTPUT_BYTES:  # only the tail can be shown
                del kept[: len(kept) - 2 * OUTPUT_BYTES]
        eof.set()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect)
            with trio.move_on_after(limit) as scope:
                await proc.wait()
            if scope.cancelled_caught:
                why = f"exceeded maximum runtime of {_go_duration(limit)}"
                _kill_group(proc.pid)
                with trio.move_on_after(_REAP_SECONDS):
                    await proc.wait()
            # a process the hook left behind may hold the pipe: it does not hold the change
            with trio.move_on_after(_LINGER_SECONDS):
                await eof.wait()
            nursery.cancel_scope.cancel()
    except trio.Cancelled:
        _kill_group(proc.pid)
        with trio.CancelScope(shield=True), trio.move_on_after(_REAP_SECONDS):
            await proc.wait()
        raise
    finally:
        with trio.CancelScope(shield=True):
            await stdout.aclose()
    output = limit_output(bytes(kept))
    if why:
        raise HookFailed(output_error(output + f"\n<{why}>".encode(), why))
    if proc.returncode is None:
        raise HookFailed(f"{why or 'aborted'}, but did not stop")
    if proc.returncode != 0:
        status = proc.returncode
        # Go's exec.ExitError wording ("signal: killed")
        fallback = (f"signal: {(signal.strsignal(-status) or str(-status)).lower()}"
                    if status < 0 else f"exit status {status}")
        raise HookFailed(output_error(output, fallback))
    return output


def _kill_group(pgid: int) -> None:
    """snapd's KillProcessGroup: the launcher, bwrap and everything in the sandbox share
    the group (the sandbox keeps the launcher's session), so one signal ends them all."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` for whole seconds (``10m0s``, ``30s``, ``1h0m0s``)."""
    total = round(seconds)
    if total < 60:
        return f"{seconds:g}s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"
