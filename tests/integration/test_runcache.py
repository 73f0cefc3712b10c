"""The run cache with a real daemon, mount and bwrap: a warm run replays the recorded
plan, and every input that can change the plan makes the next run plan again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

YAML = """\
name: cached
version: '{version}'
environment:
  TOP: top-$SNAP_NAME
apps:
  cached:
    command: bin/show first $SNAP_NAME
    plugs: [home]
    environment:
      APPVAR: ${{TOP}}-app-$EXTRA
{layout}"""
SHOW = '#!/bin/sh\necho "args:$*"\necho "ver:$SNAP_VERSION rev:$SNAP_REVISION"\n' \
       'echo "env:$TOP $APPVAR $FROM_HOST"\n'

#: Runs the CLI like a user and says on stderr whether it planned (the planned path
#: imports the daemon client; a replayed record never does).
TRACED = (
    "import sys\n"
    "from usersnap.cli.main import main\n"
    "rc = main(['run', *sys.argv[1:]])\n"
    "print('PLANNED' if 'usersnap.client' in sys.modules else 'CACHED', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def cached_snap(tmp: Path, version: str = "1", layout: str = "") -> Path:
    return build_snap(tmp, YAML.format(version=version, layout=layout), {"bin/show": SHOW},
                      executables=["bin/show"], name=f"cached-{version}.snap")


def traced(us: Usersnap, *args: str, env: dict[str, str] | None = None
           ) -> tuple[str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", TRACED, *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})}, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.strip().splitlines()[-1], proc.stdout.splitlines()


@pytest.fixture
def us(tmp_path: Path) -> Iterator[Usersnap]:
    with usersnap_session() as session:
        session.run("install", "--dangerous", str(cached_snap(tmp_path)))
        # The first run plans and records what later runs replay (with ``home`` $HOME
        # is the home view, where ~/snap is a placeholder: nothing is made on the host).
        assert traced(session, "cached")[0] == "PLANNED"
        assert not (session.dirs.home / "snap").exists()
        yield session


def test_a_warm_run_replays_the_same_plan(us: Usersnap) -> None:
    first = traced(us, "cached", "a b", env={"EXTRA": "x", "FROM_HOST": "h1"})
    assert first[1] == ["args:first cached a b", "ver:1 rev:x1",
                        "env:top-cached top-cached-app-x h1"]
    assert (us.dirs.cache / "run" / "cached.cached").is_file()
    # The caller's environment and arguments are applied anew to the recorded plan.
    again = traced(us, "cached", "c", env={"EXTRA": "y", "FROM_HOST": "h2"})
    assert again == ("CACHED", ["args:first cached c", "ver:1 rev:x1",
                                "env:top-cached top-cached-app-y h2"])


def test_a_new_revision_or_a_revert_plans_again(us: Usersnap, tmp_path: Path) -> None:
    assert traced(us, "cached")[0] == "CACHED"
    us.run("install", "--dangerous", str(cached_snap(tmp_path, version="2")))
    assert traced(us, "cached") == ("PLANNED", ["args:first cached", "ver:2 rev:x2",
                                                "env:top-cached top-cached-app- "])
    assert traced(us, "cached")[0] == "CACHED"
    us.run("revert", "cached")
    how, out = traced(us, "cached")
    assert (how, out[1]) == ("PLANNED", "ver:1 rev:x1")


def test_connections_home_and_looked_up_variables_invalidate(us: Usersnap) -> None:
    assert traced(us, "cached")[0] == "CACHED"
    (us.dirs.home / ".new-secret").mkdir()  # the home interface's listing of $HOME
    assert traced(us, "cached")[0] == "PLANNED"
    assert traced(us, "cached")[0] == "CACHED"
    # A variable planning looked up (not one merely copied into the app's environment).
    assert traced(us, "cached", env={"SNAP_REEXEC": "0"})[0] == "PLANNED"
    assert traced(us, "cached", env={"SNAP_REEXEC": "0", "OTHER": "1"})[0] == "CACHED"
    us.run("disconnect", "cached:home")
    assert traced(us, "cached", env={"SNAP_REEXEC": "0"})[0] == "PLANNED"


def test_without_the_daemon_the_run_plans_and_starts_it(us: Usersnap) -> None:
    us.stop_daemon()
    how, out = traced(us, "cached")
    assert (how, out[0]) == ("PLANNED", "args:first cached")
    assert us.daemon_pid() is not None


def test_snaps_with_layouts_always_plan(us: Usersnap, tmp_path: Path) -> None:
    layout = "layout:\n  /usr/share/cached-demo:\n    bind: $SNAP_DATA/demo\n"
    us.run("install", "--dangerous", str(cached_snap(tmp_path, version="3", layout=layout)))
    for _ in range(2):
        assert traced(us, "cached")[0] == "PLANNED"
    assert not (us.dirs.cache / "run" / "cached.cached").exists()


def test_the_launcher_uses_the_cache(us: Usersnap) -> None:
    launcher = us.dirs.bin / "cached"
    outputs = [subprocess.run([str(launcher), "z"], capture_output=True, text=True,
                              timeout=60, check=True).stdout for _ in range(3)]
    assert outputs == [outputs[0]] * 3
    assert outputs[0].splitlines()[0] == "args:first cached z"
    assert (us.dirs.cache / "run" / "cached.cached").is_file()



