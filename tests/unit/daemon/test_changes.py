from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import trio

from usersnap.daemon.changes import ChangeManager, TaskContext
from usersnap.errors import ChangeConflictError, UsersnapError


async def wait_ready(manager: ChangeManager, change_id: str) -> None:
    with trio.fail_after(10):
        while not manager.get(change_id).ready:  # noqa: ASYNC110 - polled like the API does
            await trio.sleep(0.01)


async def test_failed_change_undoes_done_tasks_in_reverse() -> None:
    trail: list[str] = []

    def step(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
        def do(ctx: TaskContext) -> None:
            ctx.log(f"doing {name}")
            if fail:
                raise UsersnapError(f"{name} broke")
            trail.append(f"do {name}")

        def undo(ctx: TaskContext) -> None:
            trail.append(f"undo {name}")

        return do, undo

    counter = itertools.count(1)
    async with trio.open_nursery() as nursery:
        m = ChangeManager(nursery, lambda: next(counter))
        tasks = [m.new_task("a", "Do a", *step("a")), m.new_task("b", "Do b", *step("b")),
                 m.new_task("c", "Do c", *step("c", fail=True)),
                 m.new_task("d", "Do d", *step("d"))]
        change = m.start("install-snap", "Install", ("snap",), tasks)
        await wait_ready(m, change.id)
    assert trail == ["do a", "do b", "undo b", "undo a"]
    data = change.to_json()
    assert data["status"] == "Error" and data["ready"] is True
    assert data["err"] == "cannot perform the following tasks:\n- Do c (c broke)"
    assert [t["status"] for t in data["tasks"]] == ["Undone", "Undone", "Error", "Hold"]  # type: ignore[index]


def blocker(release: trio.Event) -> Callable[[TaskContext], None]:
    """A task (run in a worker thread) that waits until ``release`` is set."""
    token = trio.lowlevel.current_trio_token()

    def block(ctx: TaskContext) -> None:
        trio.from_thread.run(release.wait, trio_token=token)

    return block


async def test_one_change_per_snap_at_a_time() -> None:
    release = trio.Event()
    block = blocker(release)

    async with trio.open_nursery() as nursery:
        m = ChangeManager(nursery, itertools.count(1).__next__)
        first = m.start("remove-snap", "Remove", ("a",), [m.new_task("x", "X", block)])
        conflict = 'snap "a" has "remove-snap" change in progress'
        with pytest.raises(ChangeConflictError, match=conflict):
            m.start("install-snap", "Install", ("a",), [m.new_task("y", "Y", block)])
        assert m.busy()
        release.set()
        await wait_ready(m, first.id)
        assert first.status == "Done" and not m.busy()


async def test_abort_cancels_a_running_hook_and_undoes_what_was_done() -> None:
    trail: list[str] = []
    started = trio.Event()

    def first(ctx: TaskContext) -> None:
        trail.append("do first")

    def unfirst(ctx: TaskContext) -> None:
        trail.append("undo first")

    async def hook(ctx: TaskContext) -> None:
        started.set()
        await trio.sleep(60)

    async with trio.open_nursery() as nursery:
        m = ChangeManager(nursery, itertools.count(1).__next__)
        change = m.start("install-snap", "Install", ("s",), [
            m.new_task("a", "A", first, unfirst), m.new_task("run-hook", "Hook", hook),
            m.new_task("c", "C", first)])
        await started.wait()
        assert m.abort(change.id) is change
        await wait_ready(m, change.id)
        with pytest.raises(UsersnapError, match="cannot abort change 1 with nothing pending"):
            m.abort(change.id)
    assert trail == ["do first", "undo first"]
    data = change.to_json()
    assert data["status"] == "Undone" and "err" not in data
    tasks = data["tasks"]
    assert isinstance(tasks, list)
    assert [t["status"] for t in tasks] == ["Undone", "Undone", "Hold"]
    assert tasks[1]["log"][0].endswith(" ERROR aborted")


async def test_abort_waits_for_a_thread_task_then_undoes_it() -> None:
    token = trio.lowlevel.current_trio_token()
    release, running = trio.Event(), trio.Event()
    trail: list[str] = []

    def slow(ctx: TaskContext) -> None:
        trio.from_thread.run_sync(running.set, trio_token=token)
        trio.from_thread.run(release.wait, trio_token=token)
        trail.append("did slow")

    def unslow(ctx: TaskContext) -> None:
        trail.append("undid slow")

    async with trio.open_nursery() as nursery:
        m = ChangeManager(nursery, itertools.count(1).__next__)
        change = m.start("k", "K", ("s",), [m.new_task("slow", "Slow", slow, unslow),
                                            m.new_task("next", "Next", slow)])
        await running.wait()
        m.abort(change.id)
        release.set()
        await wait_ready(m, change.id)
    assert trail == ["did slow", "undid slow"]
    assert change.status == "Undone"


async def test_wait_ready_answers_when_the_change_ends_or_times_out() -> None:
    release = trio.Event()
    async with trio.open_nursery() as nursery:
        m = ChangeManager(nursery, itertools.count(1).__next__)
        change = m.start("install-snap", "Install", ("a",),
                         [m.new_task("x", "X", blocker(release))])
        with trio.fail_after(5):
            assert not (await m.wait_ready(change.id, 0.05)).ready
        with trio.fail_after(5):  # well before the 30 s it may wait
            nursery.start_soon(_set_later, release)
            assert (await m.wait_ready(change.id, 30)).ready


async def _set_later(event: trio.Event) -> None:
    await trio.sleep(0.05)
    event.set()


async def test_tasks_inserted_by_a_running_task_run_next_and_are_undone() -> None:
    """A store install's validate-snap inserts the install chain right after itself."""
    trail: list[str] = []
    counter = itertools.count(1)
    async with trio.open_nursery() as nursery:
        m = ChangeManager(nursery, lambda: next(counter))

        def record(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
            def do(ctx: TaskContext) -> None:
                if fail:
                    raise UsersnapError("broke")
                trail.append(name)
            return do

        def expand(ctx: TaskContext) -> None:
            change = ctx.change
            assert change is not None
            new = m.new_task("n", "N", record("inserted"),
                             lambda ctx: trail.append("undo inserted"))
            trio.from_thread.run_sync(m.extend, change, [new])

        tasks = [m.new_task("v", "V", expand), m.new_task("b", "B", record("b", fail=True))]
        change = m.start("install-snap", "Install", ("snap",), tasks)
        await wait_ready(m, change.id)
    assert trail == ["inserted", "undo inserted"]
    assert [t.kind for t in change.tasks] == ["v", "n", "b"]
