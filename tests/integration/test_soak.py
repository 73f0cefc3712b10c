"""Load: 20 parallel ``usersnap run``s of the same and of different snaps while another
snap is installed and removed, in bounded time; afterwards no mount, process or
descriptor is left over beyond what there was before."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.integration.test_end_to_end import _environ_root, probe_snap

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(240)]

RUNS = 20
CHURN = 3


@pytest.fixture
def us() -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def renamed(tmp: Path, name: str) -> Path:
    """The probe snap under another name (its directory rewritten, then repacked)."""
    snap = probe_snap(tmp, name=f"{name}.snap")
    src = tmp / f"{name}.snap.d"
    yaml = src / "meta/snap.yaml"
    yaml.write_text(yaml.read_text().replace("name: probe", f"name: {name}"))
    subprocess.run(["mksquashfs", str(src), str(snap), "-noappend", "-no-progress",
                    "-all-root", "-no-xattrs", "-no-fragments", "-comp", "xz"],
                   check=True, capture_output=True, timeout=60)
    return snap


def snapshot(us: Usersnap) -> tuple[int, list[int], int]:
    """FUSE mounts of this root, processes of this root, usersnapd's descriptors."""
    mounts = sum(str(us.dirs.runtime) in line
                 for line in Path("/proc/self/mountinfo").read_text().splitlines())
    procs = sorted(int(d) for d in os.listdir("/proc")
                   if d.isdigit() and _environ_root(int(d)) == str(us.dirs.root))
    daemon = us.daemon_pid()
    fds = len(os.listdir(f"/proc/{daemon}/fd")) if daemon else 0
    return mounts, procs, fds


def test_parallel_runs_installs_and_removes(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path)))
    us.run("install", "--dangerous", str(renamed(tmp_path, "other")))
    churn = renamed(tmp_path, "churn")
    assert us.run("run", "probe").returncode == 0  # warm: daemon and mount up
    mounts, procs, fds = snapshot(us)

    def run(i: int) -> subprocess.CompletedProcess[str]:
        snap = "probe" if i % 2 else "other"
        return us.run("run", f"{snap}.sh", "-c", f"echo {i}; cat $SNAP/share/message",
                      check=False, timeout=180)

    def install_remove() -> list[subprocess.CompletedProcess[str]]:
        done = []
        for _ in range(CHURN):
            done.append(us.run("install", "--dangerous", str(churn), check=False, timeout=180))
            done.append(us.run("remove", "churn", check=False, timeout=180))
        return done

    with ThreadPoolExecutor(RUNS + 1) as pool:
        churned = pool.submit(install_remove)
        results = list(pool.map(run, range(RUNS)))
        for proc in churned.result():
            assert proc.returncode == 0, proc.stderr
    for i, proc in enumerate(results):
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"{i}\nhello from the image\n"
    after = snapshot(us)
    assert after[0] == mounts
    assert after[1] == procs  # the same usersnapd, and nothing else of this root
    assert after[2] <= fds + 2, (fds, after[2])
