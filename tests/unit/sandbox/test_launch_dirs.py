"""Host-side preparation before a run, and finding the app among bwrap's processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.sandbox.launch import prepare_host_dirs
from usersnap.sandbox.process import find_app_pid


def make_dirs(tmp_path: Path) -> Dirs:
    runtime = tmp_path / "rt"
    return Dirs(root=tmp_path / "root", runtime=runtime, home=tmp_path / "home", uid=os.getuid())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_prepare_creates_everything(tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path)
    old = os.umask(0o077)
    try:
        prepare_host_dirs(dirs, "foo", "x1")
    finally:
        os.umask(old)
    user, data = dirs.user_data_dir("foo"), dirs.data_dir("foo")
    assert mode(user.parent) == 0o700
    for root in (user, data):
        assert mode(root / "x1") == mode(root / "common") == 0o755
        assert os.readlink(root / "current") == "x1"
    assert mode(dirs.private_tmp("foo")) == 0o1777
    assert mode(dirs.private_tmp("foo").parent) == 0o700
    assert mode(dirs.xdg_runtime("foo")) == 0o700
    assert mode(dirs.runtime) == 0o700


def test_user_current_follows_the_run_data_current_does_not(tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path)
    prepare_host_dirs(dirs, "foo", "x1")
    (dirs.user_data_dir("foo") / "x1" / "keep").write_text("data")
    prepare_host_dirs(dirs, "foo", "x2")
    assert os.readlink(dirs.user_data_dir("foo") / "current") == "x2"
    assert os.readlink(dirs.data_dir("foo") / "current") == "x1"  # install/refresh own it
    assert (dirs.user_data_dir("foo") / "x1" / "keep").read_text() == "data"
    assert not [p for p in dirs.user_data_dir("foo").iterdir() if p.name.startswith(".")]


def test_existing_modes_are_left_alone(tmp_path: Path) -> None:
    dirs = make_dirs(tmp_path)
    prepare_host_dirs(dirs, "foo", "1")
    (dirs.data_dir("foo") / "1").chmod(0o750)
    prepare_host_dirs(dirs, "foo", "1")
    assert mode(dirs.data_dir("foo") / "1") == 0o750


def fake_proc(tmp_path: Path, procs: dict[int, tuple[int, list[int]]], children: bool) -> str:
    """procs: pid -> (ppid, NSpid fields)."""
    proc = tmp_path / "proc"
    for pid, (ppid, nspid) in procs.items():
        d = proc / str(pid)
        (d / "task" / str(pid)).mkdir(parents=True)
        (d / "stat").write_text(f"{pid} (a b) S {ppid} 1 1 0\n")
        (d / "status").write_text("Name:\tx\nNSpid:\t" + "\t".join(map(str, nspid)) + "\n")
        if children:
            kids = [p for p, (pp, _) in procs.items() if pp == pid]
            (d / "task" / str(pid) / "children").write_text(" ".join(map(str, kids)) + " ")
    return str(proc)


PROCS = {100: (1, [100]), 200: (100, [200, 1]), 250: (200, [250, 3]), 210: (200, [210, 2])}


def test_find_app_pid(tmp_path: Path) -> None:
    assert find_app_pid(200, fake_proc(tmp_path, PROCS, children=True)) == 210


def test_find_app_pid_without_children_files(tmp_path: Path) -> None:
    assert find_app_pid(200, fake_proc(tmp_path, PROCS, children=False)) == 210
    assert find_app_pid(999, fake_proc(tmp_path / "other", PROCS, children=False)) is None


def test_launch_path_stays_lean() -> None:
    """``usersnap run`` must not pay for trio or the snap file reader."""
    code = (
        "import sys, usersnap.sandbox.launch, usersnap.sandbox.facts; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'trio', 'PySquashfsImage', 'subprocess'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
