"""usersnapd: one process per usersnap root that owns the FUSE mount and the state.

Started on demand by the CLI (``usersnap.client.connect``) and leaving by itself when
idle: no request for ``USERSNAP_IDLE_TIMEOUT`` seconds (default 300), no change running,
no ``usersnap run`` holding the run lock or started within that time, no service
running and no file open on the mount.
"""

from __future__ import annotations

import argparse
import faulthandler
import fcntl
import functools
import gc
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import trio

from usersnap.daemon.api import Api, SnapctlApi, upload_dir
from usersnap.daemon.changes import ChangeManager
from usersnap.daemon.extracted import ExtractedTree
from usersnap.daemon.http import Request, Response, serve_http
from usersnap.daemon.manager import SnapManager
from usersnap.daemon.supervisor import Supervisor
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.fusefs.home import HomeView
from usersnap.fusefs.operations import SnapFS
from usersnap.fusefs.serve import clear_stale_mount, fuse_problem, serve_snapfs
from usersnap.fusefs.tree import SnapTree
from usersnap.ops.cookies import sync_cookies
from usersnap.ops.recover import recover
from usersnap.snapctl.build import ensure_snapctl
from usersnap.snapfile.extract import remove_tree

log = logging.getLogger("usersnapd")

DEFAULT_IDLE_TIMEOUT = 300.0


class AlreadyRunning(UsersnapError):
    """Another usersnapd holds this root's lock."""


def take_root_lock(dirs: Dirs) -> int:
    """Hold an exclusive flock on the root for the daemon's lifetime: one daemon per root."""
    fd = os.open(dirs.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(f"another usersnapd is already running for {dirs.root}") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def runs_in_progress(dirs: Dirs) -> bool:
    """True while any ``usersnap run`` holds the run lock shared."""
    try:
        fd = os.open(dirs.run_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def ran_recently(dirs: Dirs, within: float) -> bool:
    """True if a ``usersnap run`` started in the last ``within`` seconds: every launch
    touches the run lock, and a run from the run cache never talks to the daemon."""
    try:
        return time.time() - os.stat(dirs.run_lock).st_mtime < within
    except OSError:
        return False


class Activity:
    """Remembers when the daemon last did something a user asked for."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def wrap(self, handler: Callable[[Request], Awaitable[Response]]
             ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(req: Request) -> Response:
            self.last = time.monotonic()
            try:
                return await handler(req)
            finally:
                self.last = time.monotonic()
        return handle


def _home_view(dirs: Dirs, tree: SnapTree) -> HomeView | None:
    """The view of $HOME sandboxes plugging ``home`` get (``fusefs.home``).  It keeps a
    descriptor per inode the kernel holds, as passthrough file systems do, so the
    soft limit on descriptors goes up to the hard one.  Without a home directory there
    is no view, and the planner falls back to a read-only top level."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        return HomeView(str(dirs.home), uid=tree.uid, gid=tree.gid)
    except OSError as err:
        log.warning("no home view: cannot open %s: %s", dirs.home, err.strerror)
        return None


async def run_daemon(dirs: Dirs, idle_timeout: float) -> None:
    dirs.ensure_root()
    dirs.ensure_runtime()
    lock_fd = take_root_lock(dirs)
    try:
        await _serve(dirs, idle_timeout)
    finally:
        os.close(lock_fd)


def _place_mount(dirs: Dirs, extracted: bool) -> None:
    """``Dirs.mount``: a directory to mount on, or a link to the extracted revisions
    (after a stale FUSE mount was cleared, so neither is a mount point)."""
    if extracted:
        if dirs.mount.is_dir() and not dirs.mount.is_symlink():
            try:
                dirs.mount.rmdir()
            except OSError as err:
                raise UsersnapError(f"cannot use {dirs.mount}: {err.strerror}") from err
        if not dirs.mount.is_symlink():
            dirs.mount.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(dirs.extracted, dirs.mount)
        return
    if dirs.mount.is_symlink():
        dirs.mount.unlink()
    dirs.mount.mkdir(parents=True, exist_ok=True)


async def _serve(dirs: Dirs, idle_timeout: float) -> None:
    no_fuse = fuse_problem(os.environ)
    tree: SnapTree | ExtractedTree
    if no_fuse is None:
        tree = SnapTree()
    else:
        log.warning("FUSE is not used (%s): snaps are served from extracted copies in %s",
                    no_fuse, dirs.extracted)
        tree = ExtractedTree(dirs.extracted)
    manager = SnapManager(dirs, tree)
    for path in recover(dirs, manager.state):
        log.info("removed leftover %s", path)
    supervisor = Supervisor(dirs, manager.service_info)
    manager.supervisor = supervisor
    # a dead daemon's services hold its dead mount: they go first, and come back below
    wanted = supervisor.kill_leftovers()
    await trio.to_thread.run_sync(clear_stale_mount, dirs.mount)
    _place_mount(dirs, extracted=no_fuse is not None)
    for problem in await trio.to_thread.run_sync(manager.mount_all):
        log.error("%s", problem)
    if isinstance(tree, ExtractedTree):
        await trio.to_thread.run_sync(tree.retain, {
            (name, rev.revision) for name, snap in manager.state.snaps.items()
            for rev in snap.sequence})
    else:  # copies from a start without FUSE are no longer used
        await trio.to_thread.run_sync(remove_tree, dirs.extracted)
    for name in list(manager.state.snaps):
        manager.sync_derived(name)
    sync_cookies(dirs, manager.state.cookies)  # also when no snap is left
    # before serving: the first hook or app run must find it (a no-op once built)
    await trio.to_thread.run_sync(ensure_snapctl, dirs)
    activity = Activity()
    fs = None if isinstance(tree, ExtractedTree) else \
        SnapFS(tree, home=await trio.to_thread.run_sync(_home_view, dirs, tree))
    try:
        async with trio.open_nursery() as nursery:
            manager.attach_changes(ChangeManager(nursery, manager.next_change_id))
            if fs is not None:
                await nursery.start(serve_snapfs, dirs.mount, fs)
            api = Api(manager, upload_dir(dirs.root), no_fuse=no_fuse)
            await nursery.start(serve_http, dirs.socket, activity.wrap(api.handle))
            # 0666 like snapd-snap.socket, so a sandbox can be given it; the directory
            # is 0700 and SnapctlApi serves only our uid
            snapctl = SnapctlApi(manager, dirs.uid)
            await nursery.start(functools.partial(
                serve_http, dirs.snap_socket, activity.wrap(snapctl.handle), mode=0o666))
            # services may call snapctl: after its socket
            await nursery.start(supervisor.run, sorted(manager.state.snaps), wanted)
            # what start-up made lives as long as the daemon: the full collections a
            # cold walk's new listings set off (13-26 ms each) need not walk it again
            gc.freeze()
            log.info("usersnapd %d serving %s on %s", os.getpid(), dirs.mount, dirs.socket)
            nursery.start_soon(_watch_signals, nursery.cancel_scope)
            nursery.start_soon(_watch_idle, dirs, manager, fs, activity, idle_timeout,
                               nursery.cancel_scope, supervisor)
    finally:
        dirs.socket.unlink(missing_ok=True)
        dirs.snap_socket.unlink(missing_ok=True)
        manager.close()
        if fs is not None and fs.home is not None:
            fs.home.close()
        log.info("usersnapd %d stopped", os.getpid())


async def _watch_signals(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("received %s, stopping", signal.Signals(signum).name)
            scope.cancel()
            return


async def _watch_idle(dirs: Dirs, manager: SnapManager, fs: SnapFS | None, activity: Activity,
                      idle_after: float, scope: trio.CancelScope,
                      supervisor: Supervisor) -> None:
    while True:
        await trio.sleep(min(1.0, idle_after))
        if time.monotonic() - activity.last < idle_after:
            continue
        if manager.changes is not None and manager.changes.busy():
            continue
        mount_used = fs is not None and fs.open_handles()
        if mount_used or supervisor.busy() or await trio.to_thread.run_sync(
                lambda: runs_in_progress(dirs) or ran_recently(dirs, idle_after)):
            activity.last = time.monotonic()
            continue
        log.info("idle for %.0f s, exiting", idle_after)
        scope.cancel()
        return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usersnapd", description=__doc__)
    parser.add_argument("--idle-timeout", type=float,
                        default=float(os.environ.get("USERSNAP_IDLE_TIMEOUT",
                                                     DEFAULT_IDLE_TIMEOUT)),
                        help="seconds without use before exiting (0: never)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s usersnapd[%(process)d] %(levelname)s %(message)s")
    # `kill -USR1` writes every thread's stack to the log: what a hung daemon is stuck on
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    idle = args.idle_timeout if args.idle_timeout > 0 else float("inf")
    try:
        trio.run(run_daemon, Dirs.from_env(), idle)
    except UsersnapError as err:
        print(f"usersnapd: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
