from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import trio

from usersnap.daemon.hooks import (
    Contexts,
    HookFailed,
    _go_duration,
    hook_timeout,
    limit_output,
    new_cookie,
    output_error,
    run_hook,
)
from usersnap.dirs import Dirs


def test_limit_output_keeps_snapds_tail() -> None:
    lines = b"".join(b"line %d\n" % i for i in range(150))
    kept = limit_output(lines)
    assert kept.splitlines()[0] == b"line 50" and kept.endswith(b"line 149\n")
    assert len(kept.splitlines()) == 100
    assert limit_output(b"x" * 20000) == b"x" * 10240
    assert limit_output(b"a\nb") == b"a\nb"


def test_output_error_is_osutil_output_err() -> None:
    assert output_error(b"", "exit status 1") == "exit status 1"
    assert output_error(b"  oops\n", "exit status 1") == "oops"
    assert output_error(b"a\nb\n", "x") == "\n-----\na\nb\n-----"


def test_durations_and_timeouts() -> None:
    assert [_go_duration(s) for s in (1, 30, 300, 600, 3600)] == [
        "1s", "30s", "5m0s", "10m0s", "1h0m0s"]
    assert hook_timeout("install", {}) == 600
    assert hook_timeout("configure", {}) == 300
    assert hook_timeout("check-health", {}) == 30
    assert hook_timeout("install", {"USERSNAP_HOOK_TIMEOUT": "2.5"}) == 2.5


def test_contexts_and_cookies() -> None:
    contexts = Contexts()
    context = contexts.new("hello", "x1", "install")
    assert len(context.id) == 44 and context.id != new_cookie()
    assert contexts.get(context.id) is context and not context.ephemeral
    contexts.drop(context)
    assert contexts.get(context.id) is None


def dirs(tmp_path: Path) -> Dirs:
    return Dirs(root=tmp_path / "root", runtime=tmp_path / "rt", home=tmp_path, uid=os.getuid())


async def test_run_hook_passes_the_context_and_captures_output(tmp_path: Path) -> None:
    out = await run_hook(dirs(tmp_path), "hello", "x1", "install", "the-cookie", limit=30,
                         argv=["sh", "-c", 'echo "out $SNAP_COOKIE $SNAP_CONTEXT"; echo err >&2'])
    assert out == b"out the-cookie the-cookie\nerr\n"


async def test_run_hook_failures_are_worded_as_snapd(tmp_path: Path) -> None:
    with pytest.raises(HookFailed, match=r"^exit status 3$"):
        await run_hook(dirs(tmp_path), "s", "x1", "h", "c", limit=30, argv=["sh", "-c", "exit 3"])
    with pytest.raises(HookFailed, match=r"^nope$"):
        await run_hook(dirs(tmp_path), "s", "x1", "h", "c", limit=30,
                       argv=["sh", "-c", "echo nope; exit 1"])
    with pytest.raises(HookFailed, match=r"^signal: killed$"):
        await run_hook(dirs(tmp_path), "s", "x1", "h", "c", limit=30,
                       argv=["sh", "-c", "kill -9 $$"])


async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {marker}; echo started; wait"
    start = time.monotonic()
    with pytest.raises(HookFailed) as err:
        await run_hook(dirs(tmp_path), "s", "x1", "h", "c", limit=0.5, argv=["sh", "-c", script])
    assert time.monotonic() - start < 10
    assert err.value.message == "\n-----\nstarted\n\n<exceeded maximum runtime of 0.5s>\n-----"
    child = int(marker.read_text())
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        await trio.sleep(0.05)
    else:
        pytest.fail("the hook's child survived")


async def test_cancelling_kills_the_hook(tmp_path: Path) -> None:
    with trio.move_on_after(0.3):
        await run_hook(dirs(tmp_path), "s", "x1", "h", "c", limit=30, argv=["sleep", "60"])


async def test_a_left_behind_process_does_not_hold_the_hook(tmp_path: Path) -> None:
    start = time.monotonic()
    out = await run_hook(dirs(tmp_path), "s", "x1", "h", "c", limit=30,
                         argv=["sh", "-c", "setsid sleep 5 & echo done"])
    assert out == b"done\n" and time.monotonic() - start < 4
