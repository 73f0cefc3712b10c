"""Changes and tasks: snapd's unit of asynchronous work, as the REST API shows it.

A change is an ordered list of tasks.  A task's ``do`` is either a plain function, run in
a worker thread (disk and image I/O must not block the trio loop that also serves FUSE),
or a coroutine function, run on the loop (hooks: they wait on a process and must be
cancellable).  When one fails, or the change is aborted (``POST /v2/changes/ID``), the
tasks already done are undone in reverse order, so a failed change leaves no trace.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from usersnap.daemon.envelope import rfc3339
from usersnap.errors import ChangeConflictError, NotFoundError, UsersnapError

__all__ = ["Change", "ChangeManager", "Task", "TaskContext", "TaskFn"]

log = logging.getLogger(__name__)

#: How many finished changes are kept for `usersnap changes`.
KEEP_READY = 50
#: Failpoint for crash-safety tests: ``before:KIND`` or ``after:KIND`` SIGKILLs the daemon
#: around the first task of that kind, as a power cut would.
CRASH_AT = os.environ.get("USERSNAP_CRASH_AT", "")


def _failpoint(when: str, kind: str) -> None:
    if f"{when}:{kind}" == CRASH_AT:
        log.warning("failpoint %s:%s: killing myself", when, kind)
        os.kill(os.getpid(), signal.SIGKILL)


class TaskContext:
    """Handed to a task's functions: lets them log and report progress."""

    def __init__(self, task: Task) -> None:
        self._task = task

    @property
    def change(self) -> Change | None:
        return self._task.change

    def log(self, message: str, level: str = "INFO", *, when_done: bool = False) -> None:
        """snapd's task log line: ``TIME LEVEL message`` (``task.Logf``/``task.Errorf``).

        The real ``snap`` client prints the last log line of a task while it is
        ``Doing``: ``when_done`` holds the line back until the task is done.
        """
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} {level} {message}"
        (self._task.held_log if when_done else self._task.log).append(line)

    def progress(self, done: int, total: int, label: str = "") -> None:
        self._task.progress = (label, done, total)


#: A task's work: run in a worker thread, or on the trio loop when it is a coroutine
#: function (then an abort cancels it).
TaskFn = Callable[[TaskContext], None] | Callable[[TaskContext], Awaitable[None]]


@dataclass
class Task:
    id: str
    kind: str
    summary: str
    do: TaskFn
    undo: TaskFn | None = None
    status: str = "Do"
    log: list[str] = field(default_factory=list)
    progress: tuple[str, int, int] = ("", 0, 1)
    spawn_time: float = field(default_factory=time.time)
    ready_time: float | None = None
    change: Change | None = field(default=None, repr=False)
    held_log: list[str] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, object]:
        label, done, total = self.progress
        out: dict[str, object] = {
            "id": self.id, "kind": self.kind, "summary": self.summary, "status": self.status,
            "progress": {"label": label, "done": done, "total": total},
            "spawn-time": rfc3339(self.spawn_time),
        }
        if self.log:
            out["log"] = list(self.log)
        if self.ready_time is not None:
            out["ready-time"] = rfc3339(self.ready_time)
        return out


@dataclass
class Change:
    id: str
    kind: str
    summary: str
    snap_names: tuple[str, ...]
    tasks: list[Task]
    data: dict[str, object] = field(default_factory=dict)
    status: str = "Do"
    err: str = ""
    spawn_time: float = field(default_factory=time.time)
    ready_time: float | None = None
    #: set by :meth:`ChangeManager.abort`; the runner stops at the next task boundary
    aborted: bool = False
    #: cancels the running task if it runs on the loop (a hook)
    cancel_scope: trio.CancelScope | None = field(default=None, repr=False)
    #: set when the change is ready, for clients that wait on it (see :meth:`wait_ready`)
    finished: trio.Event = field(default_factory=trio.Event, repr=False)

    @property
    def ready(self) -> bool:
        return self.status in ("Done", "Error", "Undone")

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id, "kind": self.kind, "summary": self.summary, "status": self.status,
            "ready": self.ready, "spawn-time": rfc3339(self.spawn_time),
            "tasks": [t.to_json() for t in self.tasks],
            "data": {"snap-names": list(self.snap_names), **self.data},
        }
        if self.err:
            out["err"] = self.err
        if self.ready_time is not None:
            out["ready-time"] = rfc3339(self.ready_time)
        return out


class ChangeManager:
    """Runs changes one after another per snap and keeps them for the API."""

    def __init__(self, nursery: trio.Nursery, next_id: Callable[[], int]) -> None:
        self._nursery = nursery
        self._next_id = next_id
        self._changes: dict[str, Change] = {}
        self._task_ids = 0
        self.on_ready: Callable[[Change], None] = lambda change: None

    def new_task(self, kind: str, summary: str, do: TaskFn, undo: TaskFn | None = None) -> Task:
        self._task_ids += 1
        return Task(id=str(self._task_ids), kind=kind, summary=summary, do=do, undo=undo)

    def check_conflict(self, names: tuple[str, ...]) -> None:
        for change in self._changes.values():
            if change.ready:
                continue
            for name in names:
                if name in change.snap_names:
                    raise ChangeConflictError(
                        f'snap "{name}" has "{change.kind}" change in progress',
                        value={"snap-name": name, "change-kind": change.kind},
                    )

    def start(self, kind: str, summary: str, names: tuple[str, ...], tasks: list[Task],
              data: dict[str, object] | None = None) -> Change:
        self.check_conflict(names)
        change = Change(id=str(self._next_id()), kind=kind, summary=summary,
                        snap_names=names, tasks=tasks, data=dict(data or {}))
        for task in tasks:
            task.change = change
        self._changes[change.id] = change
        self._trim()
        self._nursery.start_soon(self._run, change)
        return change

    def extend(self, change: Change, tasks: list[Task]) -> None:
        """Insert tasks right after the running task of a change (on the trio thread):
        a store install knows the tasks of the snap it downloads only once it has it,
        and they run before the next snap's download."""
        for task in tasks:
            task.change = change
        doing = [i for i, t in enumerate(change.tasks) if t.status == "Doing"]
        at = doing[0] + 1 if doing else len(change.tasks)
        change.tasks[at:at] = tasks

    def get(self, change_id: str) -> Change:
        try:
            return self._changes[change_id]
        except KeyError:
            raise NotFoundError(f"cannot find change with id {change_id!r}") from None

    async def wait_ready(self, change_id: str, within: float) -> Change:
        """The change once it is ready or ``within`` seconds have passed: a client that
        would otherwise poll learns of the end at once instead of up to a poll late."""
        change = self.get(change_id)
        with trio.move_on_after(within):
            await change.finished.wait()
        return change

    def abort(self, change_id: str) -> Change:
        """snapd's ``Change.Abort``: what has not run is held, what ran is undone; a task
        running on the loop (a hook) is stopped, one in a worker thread finishes first."""
        change = self.get(change_id)
        if change.ready:
            raise UsersnapError(f"cannot abort change {change_id} with nothing pending")
        change.aborted = True
        if change.cancel_scope is not None:
            change.cancel_scope.cancel()
        return change

    def all(self) -> list[Change]:
        return list(self._changes.values())

    def busy(self) -> bool:
        return any(not c.ready for c in self._changes.values())

    def _trim(self) -> None:
        ready = [c for c in self._changes.values() if c.ready]
        for change in ready[:-KEEP_READY] if len(ready) > KEEP_READY else []:
            del self._changes[change.id]

    async def _run(self, change: Change) -> None:
        change.status = "Doing"
        done: list[Task] = []
        failed: Task | None = None
        reason = ""
        for task in change.tasks:  # tasks inserted after the running one (extend) run too
            if change.aborted:
                break
            task.status = "Doing"
            _failpoint("before", task.kind)
            try:
                await self._call(change, task.do, task)
            except trio.Cancelled:
                raise  # the daemon is stopping
            except _Aborted:
                TaskContext(task).log("aborted", "ERROR")
                task.status = "Undone"
                task.ready_time = time.time()
                break
            except Exception as err:  # every failure is reported through the change
                failed, reason = task, _reason(err)
                task.status = "Error"
                TaskContext(task).log(reason, "ERROR")
                task.ready_time = time.time()
                break
            task.status = "Done"
            task.log += task.held_log
            task.progress = (task.progress[0], task.progress[2], task.progress[2])
            task.ready_time = time.time()
            done.append(task)
            _failpoint("after", task.kind)
        if failed is None and not change.aborted:
            change.status = "Done"
        else:
            for task in change.tasks:
                if task.status == "Do":
                    task.status = "Hold"
            for task in reversed(done):
                await self._undo(change, task)
            if failed is not None:
                change.status = "Error"
                change.err = (f"cannot perform the following tasks:\n- {failed.summary} "
                              f"({reason})")
            else:
                change.status = "Undone"
        change.ready_time = time.time()
        change.finished.set()
        self.on_ready(change)

    async def _call(self, change: Change, fn: TaskFn, task: Task, abortable: bool = True
                    ) -> None:
        ctx = TaskContext(task)
        if not inspect.iscoroutinefunction(fn):
            await trio.to_thread.run_sync(fn, ctx)
            return
        if not abortable:
            await fn(ctx)
            return
        with trio.CancelScope() as scope:
            change.cancel_scope = scope
            if change.aborted:
                scope.cancel()
            try:
                await fn(ctx)
            finally:
                change.cancel_scope = None
        if scope.cancelled_caught:
            raise _Aborted

    async def _undo(self, change: Change, task: Task) -> None:
        if task.undo is None:
            task.status = "Undone"
            return
        try:
            with trio.CancelScope(shield=True):  # an undo is never aborted
                await self._call(change, task.undo, task, abortable=False)
            task.status = "Undone"
        except Exception as err:  # an undo failure must not hide the original error
            TaskContext(task).log(f"cannot undo: {_reason(err)}", "ERROR")
            task.status = "Error"


class _Aborted(Exception):
    """The change was aborted while this task ran on the loop."""


def _reason(err: BaseException) -> str:
    if isinstance(err, UsersnapError):
        return err.message
    log.error("unexpected error in task:\n%s", "".join(traceback.format_exception(err)))
    return f"internal error: {err}"
