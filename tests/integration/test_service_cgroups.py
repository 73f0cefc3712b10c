"""Services in delegated cgroups, with a real usersnapd started by the test's user from a
cgroup delegated to it (systemd's ``Delegate=yes``; ``.ci/run`` makes one): every process
of a service is in ``snap.SNAP.APP.service``, stop kills and removes it, and a killed
daemon's cgroups are emptied by the next one."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap
from tests.integration.test_services import (
    FILES,
    YAML,
    alive,
    row,
    running,
    wait_for,
)
from usersnap.daemon import cgroups
from usersnap.daemon.supervisor_procs import descendants

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.requires_cgroup_delegation,
              pytest.mark.timeout(240)]


@pytest.fixture
def cgroup() -> Iterator[str]:
    """The ticker's cgroup (usersnapd starts in the test's own cgroup); whatever an
    earlier test's daemon left there is killed first, and what this one left after."""
    path = cgroups.service_cgroup(cgroups.detect().path, "svcs.ticker")
    cgroups.kill_and_remove(path, 5)
    yield path
    cgroups.kill_and_remove(path, 5)


@pytest.fixture
def us(tmp_path: Path, cgroup: str) -> Iterator[Usersnap]:
    with usersnap_session() as session:
        snap = build_snap(tmp_path, YAML, FILES, executables=list(FILES), name="svcs.snap")
        session.run("install", "--dangerous", str(snap))
        yield session


def test_every_process_of_a_service_is_in_its_cgroup(us: Usersnap, cgroup: str) -> None:
    launcher, app = running(us)
    tree = [launcher, *descendants(launcher)]
    names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in tree if alive(pid)}
    assert {"bwrap", "sleep"} <= names  # the sandbox and the app's background child
    assert app in tree
    assert set(tree) <= set(cgroups.procs(cgroup))
    version = us.run("version").stdout
    assert f"delegated ({os.path.dirname(cgroup)}): services in per-snap cgroups" in version
    assert us.run("stop", "svcs.ticker").stdout == "Stopped.\n"
    assert not any(map(alive, tree))
    assert not os.path.exists(cgroup)
    assert row(us, "svcs.ticker")[2] == "inactive"
    assert us.run("start", "svcs.ticker").stdout == "Started.\n"
    launcher, _ = running(us)
    assert launcher in cgroups.procs(cgroup)


def test_stop_kills_what_left_the_tree(us: Usersnap, cgroup: str) -> None:
    """A process of the service's cgroup outside its launcher's tree (what a daemon that
    got out of the tree would be; in the sandbox's pid namespace nothing can, so the test
    puts one there) dies with the service, which the tree kill alone would miss."""
    launcher, _ = running(us)
    stray = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), "w", encoding="ascii") as f:
            f.write(str(stray.pid))
        assert stray.pid not in descendants(launcher)
        assert stray.pid in cgroups.procs(cgroup)
        assert us.run("stop", "svcs.ticker").stdout == "Stopped.\n"
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert not os.path.exists(cgroup)
    finally:
        stray.kill()
        stray.wait(timeout=10)


def test_a_killed_daemons_cgroups_are_emptied_by_the_next(us: Usersnap, cgroup: str) -> None:
    """The tree of the old launcher goes by its recorded pid; the stray (outside the
    tree) only by the old daemon's recorded cgroup."""
    launcher, _ = running(us)
    stray = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), "w", encoding="ascii") as f:
            f.write(str(stray.pid))
        old = cgroups.procs(cgroup)
        assert {launcher, stray.pid} <= set(old)
        us.stop_daemon(signal.SIGKILL)
        # the next command starts a daemon, which kills the old cgroup and starts the
        # service again
        wait_for(lambda: row(us, "svcs.ticker") == ["svcs.ticker", "enabled", "active", "-"])
        new, _ = running(us)  # the app runs: its launcher entered the cgroup
        assert new != launcher
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert not any(map(alive, old))
        assert new in cgroups.procs(cgroup)
        assert not set(old) & set(cgroups.procs(cgroup))
    finally:
        stray.kill()
        stray.wait(timeout=10)


def test_a_cgroup_of_that_name_in_use_is_left_alone(tmp_path: Path, cgroup: str) -> None:
    """Another usersnapd (another root) from the same cgroup runs the same service: this
    one runs it without a cgroup rather than share (and kill) the other's."""
    os.mkdir(cgroup)
    other = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), "w", encoding="ascii") as f:
            f.write(str(other.pid))
        with usersnap_session() as us:
            snap = build_snap(tmp_path, YAML, FILES, executables=list(FILES),
                              name="svcs.snap")
            us.run("install", "--dangerous", str(snap))
            launcher, _ = running(us)
            assert cgroups.procs(cgroup) == [other.pid]
            assert "is in use by another usersnapd" in us.run("logs", "-n", "all",
                                                              "svcs.ticker").stdout
            assert us.run("stop", "svcs.ticker").stdout == "Stopped.\n"
            assert not alive(launcher)
        assert other.poll() is None and os.path.isdir(cgroup)
    finally:
        other.kill()
        other.wait(timeout=10)
