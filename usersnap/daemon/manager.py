"""usersnapd's snap manager: the only writer of state, the owner of open images.

It turns requests (install, try, remove, revert) into changes whose tasks do the work in
worker threads.  The order of every change is chosen for crash safety: files appear
under new names first, the state file is committed in one atomic step, and anything
left over by a crash on either side of that commit is removed by
:func:`usersnap.ops.recover.recover` at the next start.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import trio

from usersnap.apps.launchers import sync_launchers
from usersnap.asserts.db import AssertionDb
from usersnap.asserts.verify import SnapSideInfo, check_asserted_name
from usersnap.daemon.changes import Change, ChangeManager, Task, TaskContext, TaskFn
from usersnap.daemon.connections import auto_connect_tasks, forget_snap
from usersnap.daemon.envelope import rfc3339
from usersnap.daemon.hooks import (
    Context,
    Contexts,
    HookFailed,
    hook_timeout,
    new_cookie,
    run_hook,
)
from usersnap.daemon.supervisor import Supervisor
from usersnap.dirs import Dirs
from usersnap.errors import (
    AlreadyInstalledError,
    NotInstalledError,
    SnapFileError,
    SnapNotFoundError,
    UsersnapError,
)
from usersnap.fusefs.tree import RevisionTree
from usersnap.interfaces.connect import parse_conns
from usersnap.meta.model import SnapInfo
from usersnap.ops import files
from usersnap.ops.cookies import sync_cookies
from usersnap.snapfile.load import LoadedSnap, load_snap_file, load_try_dir
from usersnap.snapfile.source import SnapSource
from usersnap.state import config
from usersnap.state.model import (
    RevisionState,
    SnapState,
    State,
    add_revision,
    drop_revision,
)
from usersnap.state.store import load_state, save_state

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mounted:
    """An installed revision as the daemon holds it: its open image and parsed metadata.

    A tried revision's image is its directory (``try_dir``), served live; its metadata
    is read when it is tried and when the daemon starts, as snapd reads a tried snap's
    when it links it (``usersnap run`` reads snap.yaml itself, so edits to it apply at
    the next run; launchers follow at the next ``usersnap try``)."""

    image: SnapSource
    info: SnapInfo
    try_dir: str | None = None


#: ``prepare(revision) -> (do, undo)``: the first task of a change adding a revision.
Prepare = Callable[[str], tuple[TaskFn, TaskFn | None]]


class SnapManager:
    def __init__(self, dirs: Dirs, tree: RevisionTree) -> None:
        self.dirs = dirs
        self.tree = tree
        self.state: State = load_state(dirs.state_file)
        self.mounted: dict[tuple[str, str], Mounted] = {}
        #: revisions in the state that cannot be mounted, and why (snapd's "broken")
        self.broken: dict[tuple[str, str], str] = {}
        self._state_lock = threading.Lock()
        self.changes: ChangeManager | None = None
        self.contexts = Contexts()
        #: the service supervisor, attached by the daemon before it serves
        self.supervisor: Supervisor | None = None
        #: the acknowledged assertions (``snap ack``/``snap known``), and the trust root
        self.assertions = AssertionDb.open(dirs.root)

    # -- start-up -----------------------------------------------------------------

    def mount_all(self) -> list[str]:
        """Open every installed revision and put it in the tree; return problems.

        A revision that cannot be opened (a damaged blob, a tried directory gone) stays
        in the state as broken: listed, removable, but not mounted or run."""
        problems = []
        for snap in self.state.snaps.values():
            for rev in snap.sequence:
                mounted = None
                try:
                    mounted = self._open(snap.name, rev)
                    self._materialize(snap.name, rev.revision, mounted)
                except UsersnapError as err:
                    if mounted is not None:
                        mounted.image.close()
                    self.broken[(snap.name, rev.revision)] = str(err)
                    problems.append(f"cannot mount {snap.name} {rev.revision}: {err}")
                    continue
                self._attach(snap.name, rev.revision, mounted)
            self.tree.set_current(snap.name, snap.current)
        return problems

    def _open(self, name: str, rev: RevisionState) -> Mounted:
        if rev.try_dir is None:
            loaded = load_snap_file(self.dirs.blob(name, rev.revision))
            return Mounted(loaded.image, loaded.info)
        where = rev.try_dir
        if not os.path.isdir(where):
            raise UsersnapError(f"tried directory {where} does not exist any more")
        loaded = load_try_dir(where, check_container=False)
        if loaded.info.name != name:
            loaded.image.close()
            raise UsersnapError(
                f'tried directory {where} now holds snap "{loaded.info.name}", not "{name}"')
        return Mounted(loaded.image, loaded.info, where)

    def _materialize(self, name: str, revision: str, mounted: Mounted) -> None:
        """The tree's slow part, in this worker thread (extraction when FUSE is not
        used); the caller still owns the image when it fails."""
        try:
            self.tree.materialize(name, revision, mounted.image,
                                  mutable=mounted.try_dir is not None,
                                  source_dir=mounted.try_dir)
        except (OSError, SnapFileError) as err:
            why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise UsersnapError(f"cannot extract {name} {revision}: {why}") from err

    def attach_changes(self, changes: ChangeManager) -> None:
        self.changes = changes

    def _attach(self, name: str, revision: str, mounted: Mounted) -> None:
        self.mounted[(name, revision)] = mounted
        self.broken.pop((name, revision), None)
        self.tree.add_revision(name, revision, mounted.image,
                               mutable=mounted.try_dir is not None)

    def _detach(self, name: str, revision: str) -> None:
        self.broken.pop((name, revision), None)
        mounted = self.mounted.pop((name, revision), None)
        image = self.tree.remove_revision(name, revision)
        if image is None and mounted is not None:
            mounted.image.close()

    def close(self) -> None:
        for mounted in self.mounted.values():
            mounted.image.close()
        self.mounted.clear()

    # -- queries ------------------------------------------------------------------

    def snap(self, name: str) -> SnapState:
        snap = self.state.snaps.get(name)
        if snap is None:
            raise NotInstalledError(f'snap "{name}" is not installed', value=name)
        return snap

    def info(self, name: str, revision: str | None = None) -> SnapInfo:
        snap = self.snap(name)
        rev = revision or snap.current
        mounted = self.mounted.get((name, rev))
        if mounted is None:
            raise NotInstalledError(f'revision {rev} of snap "{name}" is not installed')
        return mounted.info

    # -- state commits (worker threads) ------------------------------------------

    def _commit(self, update: Callable[[State], State]) -> State:
        with self._state_lock:
            new = update(self.state)
            save_state(self.dirs.state_file, new)
            self.state = new
            return new

    def next_change_id(self) -> int:
        """Change ids live in the state file and are saved with the change's first commit."""
        with self._state_lock:
            self.state = replace(self.state, last_change_id=self.state.last_change_id + 1)
            return self.state.last_change_id

    def sync_derived(self, name: str) -> None:
        """Bring launchers and `current` links in line with the committed state."""
        snap = self.state.snaps.get(name)
        if snap is not None:
            files.set_current_symlinks(self.dirs, name, snap.current)
        sync_launchers(self.dirs, self.launcher_apps())
        sync_cookies(self.dirs, self.state.cookies)

    def launcher_apps(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for snap in self.state.snaps.values():
            mounted = self.mounted.get((snap.name, snap.current))
            if mounted is not None and snap.active:
                out[snap.name] = [a.name for a in mounted.info.apps.values() if not a.daemon]
        return out

    def service_info(self, name: str) -> tuple[SnapInfo, str] | None:
        """The current revision's metadata and number, for the supervisor."""
        snap = self.state.snaps.get(name)
        mounted = self.mounted.get((name, snap.current)) if snap else None
        return (mounted.info, snap.current) if snap and mounted else None

    def service_status(self, snap: str, app: str) -> tuple[bool, bool]:
        """(enabled, active), for snapctl services."""
        sup = self.supervisor
        return (sup.enabled(snap, app), sup.active(snap, app)) if sup else (False, False)

    def control_services(self, action: str, names: list[str], flags: dict[str, bool]) -> None:
        """snapctl start/stop/restart: checked now, done on the loop after the command
        returns (snapd queues them after the hook)."""
        sup = self.supervisor
        if sup is None or sup.nursery is None:
            raise UsersnapError("services are not supervised yet")
        sup.resolve(names)

        async def run() -> None:
            try:
                await sup.control(action, names, **flags)
            except UsersnapError as err:
                log.warning("snapctl %s %s: %s", action, " ".join(names), err)

        sup.nursery.start_soon(run)

    def services_task(self, name: str, action: str, summary: str, **kw: bool) -> Task:
        """``start-snap-services`` / ``stop-snap-services``; undone by the opposite.
        ``install``: honour ``install-mode: disable``; ``refresh``: ``endure`` ones stay."""
        assert self.changes is not None
        stopped: list[str] = []

        async def do(ctx: TaskContext) -> None:
            if self.supervisor is None:
                return
            if action == "start":
                await self.supervisor.start_snap(name, install=kw.get("install", False))
            else:
                stopped[:] = await self.supervisor.stop_snap(
                    name, refresh=kw.get("refresh", False))

        async def undo(ctx: TaskContext) -> None:
            if self.supervisor is None:
                return
            if action == "start":
                await self.supervisor.stop_snap(name)
            else:
                await self.supervisor.start_snap(name, only=stopped)

        return self.changes.new_task(f"{action}-snap-services", summary, do, undo)

    def _on_trio(self, fn: Callable[[], None]) -> None:
        """FUSE tree updates happen on the trio thread, where the filesystem runs."""
        trio.from_thread.run_sync(fn)

    def _discard(self, name: str, rev: RevisionState) -> None:
        """Forget a revision no longer in the state: unmount it, delete its blob and data.
        A tried revision has no blob; its directory is the user's and stays."""
        self._on_trio(functools.partial(self._detach, name, rev.revision))
        if rev.try_dir is None:
            files.remove_blob(self.dirs, name, rev.revision)
        files.remove_revision_data(self.dirs, name, rev.revision)

    # -- install and try ----------------------------------------------------------

    def install(self, upload: Path, loaded: LoadedSnap, display_path: str,
                asserted: SnapSideInfo | None = None, *, tracking: str = "",
                into: Change | None = None) -> Change:
        """Install an already validated upload as a change (on the trio thread);
        ``asserted``: what its assertions say (store revision, snap-id), None with
        --dangerous; ``tracking``: the store channel to follow from now on; ``into``: a
        running store install or refresh change (holding the snap) to insert the
        tasks into, after its download."""
        name = loaded.info.name

        def prepare(revision: str) -> tuple[TaskFn, TaskFn]:
            blob = self.dirs.blob(name, revision)

            def do(ctx: TaskContext) -> None:
                os.replace(upload, blob)  # the image was opened here; its fd follows

            def undo(ctx: TaskContext) -> None:
                blob.unlink(missing_ok=True)
                upload.unlink(missing_ok=True)

            return do, undo

        summary = f'Install "{name}" snap from file "{os.path.basename(display_path)}"'
        return self._add_revision(
            "install-snap", summary, loaded, display_path, prepare,
            size=upload.stat().st_size, try_dir=None,
            refused=lambda: upload.unlink(missing_ok=True), asserted=asserted,
            tracking=tracking, into=into)

    def try_dir(self, path: str, loaded: LoadedSnap) -> Change:
        """Serve an already validated directory as a new revision (``snap try``)."""

        def prepare(revision: str) -> tuple[TaskFn, TaskFn | None]:
            def do(ctx: TaskContext) -> None:
                """Nothing to store: the directory is the revision (and snap prints a
                running task's log, so none is written)."""

            return do, None

        summary = f'Try "{loaded.info.name}" snap from {path}'
        return self._add_revision("try-snap", summary, loaded, path, prepare, size=0,
                                  try_dir=path, refused=lambda: None)

    def _add_revision(
        self, kind: str, summary: str, loaded: LoadedSnap, display_path: str,
        prepare: Prepare, *, size: int, try_dir: str | None, refused: Callable[[], None],
        asserted: SnapSideInfo | None = None, tracking: str = "", into: Change | None = None,
    ) -> Change:  # fmt: skip
        """snapd's doInstall for a local revision: prepare, mount, copy data, link (the
        commit), clean up beyond retention.  ``refused`` undoes what the caller set up
        when the change cannot even start."""
        assert self.changes is not None
        info = loaded.info
        name = info.name
        old = self.state.snaps.get(name)
        revision = old.next_local_revision() if old else "x1"
        try:
            if into is None:
                self.changes.check_conflict((name,))
            if asserted is not None:
                revision = str(asserted.revision)
                check_asserted_name(display_path, name, asserted)
                if old is not None and old.revision(revision) is not None:
                    raise AlreadyInstalledError(f'snap "{name}" is already installed at '
                                                f"revision {revision}")
        except UsersnapError:
            loaded.image.close()
            refused()
            raise
        mounted = Mounted(loaded.image, info, try_dir)
        new_rev = RevisionState(revision=revision, version=info.version,
                                installed_at=time.time(), size=size, try_dir=try_dir,
                                snap_id=asserted.snap_id if asserted else "")
        previous: list[SnapState | None] = [old]
        attached = [False]  # once the tree has the image, the tree closes it
        prepare_do, prepare_undo = prepare(revision)

        def unprepare(ctx: TaskContext) -> None:
            if not attached[0]:
                mounted.image.close()
            if prepare_undo is not None:
                prepare_undo(ctx)

        def mount(ctx: TaskContext) -> None:
            self._materialize(name, revision, mounted)
            self._on_trio(lambda: self._attach(name, revision, mounted))
            attached[0] = True

        def unmount(ctx: TaskContext) -> None:
            self._on_trio(lambda: self._detach(name, revision))

        def copy_data(ctx: TaskContext) -> None:
            files.ensure_data_dirs(self.dirs, name, revision)
            if old is not None:
                files.copy_data(self.dirs, name, old.current, revision)
                files.ensure_data_dirs(self.dirs, name, revision)

        def uncopy_data(ctx: TaskContext) -> None:
            files.remove_revision_data(self.dirs, name, revision)
            if old is None:  # and what its hooks' sandboxes got (prepare_host_dirs)
                files.remove_all_data(self.dirs, name)
                shutil.rmtree(self.dirs.private_tmp(name), ignore_errors=True)
                shutil.rmtree(self.dirs.xdg_runtime(name), ignore_errors=True)

        dropped: list[RevisionState] = []

        def link(ctx: TaskContext) -> None:
            def update(state: State) -> State:
                current = state.snaps.get(name)
                previous[0] = current
                snap, gone = add_revision(current, name, new_rev, info.type)
                if tracking:
                    snap = replace(snap, tracking=tracking)
                dropped.extend(gone)
                state = state.with_snap(snap, name)
                if state.cookie_of(name) is None:  # snapd creates it when first linked
                    state = state.with_cookie(new_cookie(), name)
                return state

            self._commit(update)
            self._on_trio(lambda: self.tree.set_current(name, revision))
            self.sync_derived(name)

        def unlink(ctx: TaskContext) -> None:
            prev = previous[0]
            self._commit(lambda s: s.with_snap(prev, name) if prev is not None
                         else s.with_snap(None, name).with_cookie(None, name))
            self._on_trio(lambda: self.tree.set_current(name, prev.current if prev else None))
            self.sync_derived(name)

        def discard_old(ctx: TaskContext) -> None:
            for rev in dropped:
                ctx.log(f"discarded revision {rev.revision}", when_done=True)
                self._discard(name, rev)

        c = self.changes
        # snapd's doInstall order for what exists here.  Old revisions are discarded
        # last, after the hooks, so that a failing hook can still be undone whole.
        refresh = old is not None
        tasks = [
            c.new_task("prepare-snap", f'Prepare snap "{display_path}" ({revision})',
                       prepare_do, unprepare),
            c.new_task("mount-snap", f'Mount snap "{name}" ({revision})', mount, unmount),
        ]
        if refresh:
            tasks.append(self.hook_task(
                name, "pre-refresh", f'Run pre-refresh hook of "{name}" snap if present'))
            tasks.append(self.services_task(name, "stop", f'Stop snap "{name}" services',
                                            refresh=True))
        tasks += [
            c.new_task("copy-snap-data", f'Copy snap "{name}" data', copy_data, uncopy_data),
            c.new_task("link-snap", f'Make snap "{name}" ({revision}) available to the system',
                       link, unlink),
            *auto_connect_tasks(self, info),
        ]
        if refresh:
            tasks.append(self.hook_task(
                name, "post-refresh", f'Run post-refresh hook of "{name}" snap if present'))
        else:
            tasks.append(self.hook_task(
                name, "install", f'Run install hook of "{name}" snap if present'))
        tasks += [
            self.services_task(name, "start", f'Start snap "{name}" ({revision}) services',
                               install=not refresh),
            *self._after_link_hooks(name, info.type, revision),
            c.new_task("cleanup", f'Clean up "{name}" ({revision}) install', discard_old),
        ]
        if into is not None:
            c.extend(into, tasks)
            return into
        try:
            return c.start(kind, summary, (name,), tasks, {"snap-name": name})
        except UsersnapError:
            loaded.image.close()
            refused()
            raise

    def set_tracking(self, name: str, tracking: str) -> None:
        """Follow another store channel (a refresh --channel with nothing newer)."""
        self._commit(lambda s: s.with_snap(replace(s.snaps[name], tracking=tracking), name))

    # -- remove -------------------------------------------------------------------

    def remove(self, name: str, revision: str | None = None, purge: bool = False) -> Change:
        assert self.changes is not None
        snap = self.state.snaps.get(name)
        if snap is None:
            raise NotInstalledError(f'snap "{name}" is not installed', value=name)
        if revision is not None and snap.revision(revision) is None:
            raise NotInstalledError(f'revision {revision} of snap "{name}" is not installed',
                                    value=name)
        whole = revision is None or len(snap.sequence) == 1
        if not whole and revision == snap.current:
            raise UsersnapError(f'cannot remove active revision {revision} of snap "{name}"')
        self.changes.check_conflict((name,))
        revisions = [r for r in snap.sequence if whole or r.revision == revision]
        c = self.changes

        def unlink(ctx: TaskContext) -> None:
            if whole:
                self._commit(lambda s: forget_snap(s.with_snap(None, name).with_cookie(None, name),
                                                   name))
                self._on_trio(lambda: self.tree.set_current(name, None))
            else:
                def update(state: State) -> State:
                    return state.with_snap(drop_revision(state.snaps[name], str(revision)), name)
                self._commit(update)
            self.sync_derived(name)

        def discard(ctx: TaskContext) -> None:
            for rev in revisions:
                self._discard(name, rev)
            if whole:
                files.remove_all_data(self.dirs, name)
                shutil.rmtree(self.dirs.private_tmp(name), ignore_errors=True)
                shutil.rmtree(self.dirs.xdg_runtime(name), ignore_errors=True)
                if self.supervisor is not None:
                    self._on_trio(functools.partial(self.supervisor.forget, name))

        if whole:
            tasks = [
                self.services_task(name, "stop", f'Stop snap "{name}" services'),
                self.hook_task(name, "remove", f'Run remove hook of "{name}" snap if present',
                               ignore_error=True),
                c.new_task("unlink-snap", f'Make snap "{name}" unavailable to the system', unlink),
                c.new_task("discard-snap", f'Remove snap "{name}" ({snap.current}) from the system',
                           discard),
            ]
            summary = f'Remove "{name}" snap'
        else:
            tasks = [
                c.new_task("unlink-snap", f'Forget revision {revision} of snap "{name}"', unlink),
                c.new_task("discard-snap", f'Remove snap "{name}" ({revision}) from the system',
                           discard),
            ]
            summary = f'Remove "{name}" snap (revision {revision})'
        return c.start("remove-snap", summary, (name,), tasks,
                       {"snap-name": name, "purge": purge})

    # -- revert -------------------------------------------------------------------

    def revert(self, name: str, revision: str | None = None) -> Change:
        assert self.changes is not None
        snap = self.state.snaps.get(name)
        if snap is None:
            raise NotInstalledError(f'snap "{name}" is not installed', value=name)
        if revision is None:
            ordered = [r.revision for r in snap.sequence]
            idx = ordered.index(snap.current)
            if idx == 0:
                raise UsersnapError("no revision to revert to")
            target = ordered[idx - 1]
        else:
            if snap.revision(revision) is None:
                raise UsersnapError(
                    f'cannot revert "{name}": revision {revision} of snap "{name}" '
                    "is not installed")
            if revision == snap.current:
                raise UsersnapError(f"revision {revision} is already the current revision")
            target = revision
        broken = self.broken.get((name, target))
        if broken is not None:
            raise UsersnapError(f'cannot revert "{name}" to revision {target}: {broken}')
        self.changes.check_conflict((name,))
        previous = snap.current

        def set_current(to: str) -> Callable[[TaskContext], None]:
            def run(ctx: TaskContext) -> None:
                self._commit(lambda s: s.with_snap(replace(s.snaps[name], current=to), name))
                self._on_trio(lambda: self.tree.set_current(name, to))
                self.sync_derived(name)
            return run

        c = self.changes
        tasks = [self.services_task(name, "stop", f'Stop snap "{name}" services'),
                 c.new_task("link-snap",
                            f'Make snap "{name}" ({target}) available to the system',
                            set_current(target), set_current(previous)),
                 self.services_task(name, "start", f'Start snap "{name}" ({target}) services'),
                 *self._after_link_hooks(name, snap.type, target)]
        return c.start("revert-snap", f'Revert "{name}" snap', (name,), tasks,
                       {"snap-name": name})

    # -- hooks ----------------------------------------------------------------------

    def _after_link_hooks(self, name: str, snap_type: str, revision: str) -> list[Task]:
        """snapd's configure (not for bases) and check-health after install, refresh
        and revert; both optional."""
        tasks = []
        if snap_type not in ("base", "snapd"):
            tasks.append(self.hook_task(
                name, "configure", f'Run configure hook of "{name}" snap if present'))
        tasks.append(self.hook_task(name, "check-health",
                                    f'Run health check of "{name}" snap'))
        return tasks

    def hook_task(self, name: str, hook: str, summary: str, *, optional: bool = True,
                  ignore_error: bool = False, patch: Mapping[str, Any] | None = None) -> Task:
        """A ``run-hook`` task for the revision current when it runs (so pre-refresh
        runs the old revision, post-refresh the new one)."""
        assert self.changes is not None

        async def do(ctx: TaskContext) -> None:
            await self._run_hook(ctx, name, hook, optional=optional,
                                 ignore_error=ignore_error, patch=patch)

        return self.changes.new_task("run-hook", summary, do)

    async def _run_hook(self, ctx: TaskContext, name: str, hook: str, *, optional: bool,
                        ignore_error: bool, patch: Mapping[str, Any] | None) -> None:
        snap = self.state.snaps.get(name)
        mounted = None if snap is None else self.mounted.get((name, snap.current))
        if snap is None or mounted is None or hook not in mounted.info.hooks:
            if optional:
                return
            raise UsersnapError(f'snap "{name}" has no "{hook}" hook')
        context = self.contexts.new(name, snap.current, hook)
        context.config = config.Transaction(name, snap.config)
        try:
            if patch:
                context.config.patch(patch)
            output = await run_hook(self.dirs, name, snap.current, hook, context.id,
                                    limit=hook_timeout(hook))
        except HookFailed as err:
            if hook == "check-health":
                context.config = None
                context.health = _health(snap.current, "snapd-hook-failed", "hook failed")
                await self.commit_context(context)
            if ignore_error:
                ctx.log(f'ignoring failure in hook "{hook}": {err.message}', "ERROR",
                        when_done=True)
                return
            raise UsersnapError(f'run hook "{hook}": {err.message}') from None
        finally:
            self.contexts.drop(context)
        if output.strip():
            ctx.log(output.decode("utf-8", "replace").rstrip("\n"), when_done=True)
        if hook == "check-health" and context.health is None:
            context.health = _health(snap.current, "snapd-hook-no-health-set",
                                     "hook did not call set-health")
        await self.commit_context(context)

    async def commit_context(self, context: Context) -> None:
        """Commit what a snapctl context changed: its configuration writes (onto the
        configuration of now) and the health it reported."""
        await trio.to_thread.run_sync(self.commit_context_sync, context)

    def commit_context_sync(self, context: Context) -> None:
        conf = context.config
        if (conf is None or not conf.changed) and context.health is None:
            return

        def update(state: State) -> State:
            snap = state.snaps.get(context.snap)
            if snap is None:
                return state
            if conf is not None and conf.changed:
                snap = replace(snap, config=conf.commit_onto(snap.config))
            if context.health is not None:
                snap = replace(snap, health=context.health)
            return state.with_snap(snap, context.snap)

        self._commit(update)

    # -- snapctl's view (usersnap.daemon.snapctl.Host) --------------------------------

    def context_for(self, context_id: str) -> Context | None:
        """A running hook's context, or an app's (ephemeral) one from the snap's cookie."""
        if not context_id:
            return None
        context = self.contexts.get(context_id)
        if context is not None:
            return context
        name = self.state.cookies.get(context_id)
        snap = None if name is None else self.state.snaps.get(name)
        if snap is None:
            return None
        return Context(context_id, snap.name, snap.current)

    def connected(self, snap: str, name: str) -> bool:
        """``snapctl is-connected``: a plug or slot of ``snap`` has a connection."""
        return any(not c.undesired and (snap, name) in ((c.plug_snap, c.plug),
                                                        (c.slot_snap, c.slot))
                   for c in parse_conns(self.state.conns))

    def snap_info(self, snap: str, revision: str) -> SnapInfo:
        return self.info(snap, revision)

    def config_transaction(self, context: Context) -> config.Transaction:
        if context.config is None:
            snap = self.state.snaps.get(context.snap)
            context.config = config.Transaction(context.snap, snap.config if snap else {})
        return context.config

    # -- configuration ----------------------------------------------------------------

    def get_config(self, name: str, keys: list[str]) -> object:
        """``GET /v2/snaps/NAME/conf``: the document, or the values of ``keys``
        (daemon/api_snap_conf.go getSnapConf; unknown snaps simply have no options)."""
        snap = self.state.snaps.get(name)
        doc = snap.config if snap is not None else {}
        out: dict[str, object] = {}
        for key in keys or [""]:
            try:
                value = config.get(doc, name, key)
            except config.NoOptionError:
                if key == "":
                    return {}
                raise
            if key == "":
                if len(keys) > 1:
                    raise UsersnapError("keys contains zero-length string")
                return value
            out[key] = value
        return out

    def configure(self, name: str, patch: Mapping[str, Any]) -> Change:
        """``snap set``/``unset``: a change running the configure hook with ``patch``;
        the hook is required when there is something to set, and its failure drops the
        patch (configstate.ConfigureInstalled)."""
        assert self.changes is not None
        snap = self.state.snaps.get(name)
        if snap is None:
            raise SnapNotFoundError(f'snap "{name}" is not installed', value=name)
        if snap.type == "snapd":
            raise UsersnapError('cannot configure the "snapd" snap, please use "system" instead')
        if snap.type == "base":
            raise UsersnapError(f"cannot configure snap \"{name}\" because it is of type 'base'")
        self.changes.check_conflict((name,))
        summary = f'Run configure hook of "{name}" snap' + ("" if patch else " if present")
        task = self.hook_task(name, "configure", summary, optional=not patch, patch=patch)
        return self.changes.start("configure-snap", f'Change configuration of "{name}" snap',
                                  (name,), [task])


def _health(revision: str, code: str, message: str) -> dict[str, Any]:
    """What snapd's health handler records when the hook did not report (or failed)."""
    return {"revision": revision, "timestamp": rfc3339(time.time()), "status": "unknown",
            "code": code, "message": message}
