"""The whole spine, as a user drives it: real images, real daemon, real FUSE, real bwrap."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

PROBE_YAML = """\
name: probe
version: '{version}'
summary: a probe
description: checks what an app sees
environment:
  TOP: top-$SNAP_NAME
apps:
  probe:
    command: bin/probe first $SNAP_NAME
    environment:
      APPVAR: ${{TOP}}-app
  sh:
    command: bin/sh-wrap
  svc:
    command: bin/probe
    daemon: simple
    install-mode: disable
"""
FILES = {
    "bin/probe": '#!/bin/sh\necho "args:$*"\necho "TOP=$TOP APPVAR=$APPVAR"\n',
    "bin/sh-wrap": '#!/bin/sh\nexec /bin/sh "$@"\n',
    "share/message": "hello from the image\n",
}


def probe_snap(tmp: Path, version: str = "1.0", name: str = "probe.snap") -> Path:
    return build_snap(tmp, PROBE_YAML.format(version=version), FILES,
                      executables=["bin/probe", "bin/sh-wrap"], name=name)


@pytest.fixture
def us() -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def sh(us: Usersnap, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return us.run("run", "probe.sh", "-c", script, check=check)


def test_install_list_info_run(us: Usersnap, tmp_path: Path) -> None:
    snap = probe_snap(tmp_path)
    out = us.run("install", "--dangerous", str(snap))
    assert out.stdout.strip() == "probe 1.0 installed"
    listing = us.run("list").stdout.splitlines()
    assert listing[0].split() == ["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"]
    assert listing[1].split() == ["probe", "1.0", "x1", "-", "-", "-"]

    run = us.run("run", "probe", "extra arg")
    assert run.stdout.splitlines() == [
        "args:first probe extra arg", "TOP=top-probe APPVAR=top-probe-app"]

    info = us.run("info", "probe").stdout
    assert "name:      probe" in info and "  - probe.sh" in info
    assert "  probe.svc: simple" in info and "installed:    1.0 (x1)" in info
    file_info = us.run("info", str(snap)).stdout
    assert f'path:       "{snap}"' in file_info and "version:    1.0" in file_info

    launcher = us.dirs.bin / "probe"
    assert launcher.exists() and (us.dirs.bin / "probe.sh").exists()
    assert not (us.dirs.bin / "probe.svc").exists()
    via_launcher = subprocess.run([str(launcher)], capture_output=True, text=True, timeout=60,
                                  check=True)
    assert via_launcher.stdout.startswith("args:first probe")


def test_sandbox_paths_and_environment(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path)))
    env = dict(line.split("=", 1) for line in sh(us, "env").stdout.splitlines() if "=" in line)
    home = str(us.dirs.home)
    uid = os.getuid()
    expected = {
        "SNAP": "/snap/probe/x1", "SNAP_DATA": "/var/snap/probe/x1",
        "SNAP_COMMON": "/var/snap/probe/common", "SNAP_NAME": "probe",
        "SNAP_INSTANCE_NAME": "probe", "SNAP_REVISION": "x1", "SNAP_VERSION": "1.0",
        "SNAP_USER_DATA": f"{home}/snap/probe/x1", "SNAP_USER_COMMON": f"{home}/snap/probe/common",
        "SNAP_REAL_HOME": home, "HOME": f"{home}/snap/probe/x1",
        "XDG_RUNTIME_DIR": f"/run/user/{uid}/snap.probe", "TMPDIR": "/tmp",
        "SNAP_UID": str(uid), "SNAP_EUID": str(uid), "TOP": "top-probe",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert "SNAP_LIBRARY_PATH" in env and "SNAP_ARCH" in env and "SNAP_COOKIE" in env

    checks = sh(us, """
        cat $SNAP/share/message
        touch $SNAP/x 2>/dev/null && echo snap-writable || echo snap-ro
        echo data > $SNAP_DATA/f && echo common > $SNAP_COMMON/f && echo user > $SNAP_USER_DATA/f
        echo tmp > /tmp/f
        readlink /snap/probe/current
        ls /proc | grep -c '^[0-9]'
    """).stdout.splitlines()
    assert checks[0] == "hello from the image" and checks[1] == "snap-ro"
    assert checks[2] == "x1" and int(checks[3]) <= 4  # own pid namespace: sh, ls, grep (+init)
    assert (us.dirs.data_dir("probe") / "x1" / "f").read_text() == "data\n"
    assert (us.dirs.data_dir("probe") / "common" / "f").read_text() == "common\n"
    assert (us.dirs.user_data_dir("probe") / "x1" / "f").read_text() == "user\n"
    assert (us.dirs.private_tmp("probe") / "f").read_text() == "tmp\n"
    assert not Path("/tmp/f").exists() or Path("/tmp/f").read_text() != "tmp\n"


def test_exit_status_and_signals_pass_through(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path)))
    assert sh(us, "exit 7", check=False).returncode == 7
    proc = subprocess.Popen(
        [sys.executable, "-m", "usersnap", "run", "probe.sh", "-c",
         "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 42
        assert proc.stdout.read().strip() == "got-term"
    finally:
        proc.kill()
        proc.wait()


def test_revisions_data_copy_revert_remove(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path, "1.0", "a.snap")))
    sh(us, "echo one > $SNAP_DATA/v; echo one > $SNAP_USER_DATA/v; echo c1 > $SNAP_COMMON/c")
    out = us.run("install", "--dangerous", str(probe_snap(tmp_path, "2.0", "b.snap")))
    assert out.stdout.strip() == "probe 2.0 installed"
    assert sh(us, "echo $SNAP_REVISION; cat $SNAP_DATA/v $SNAP_USER_DATA/v $SNAP_COMMON/c"
              ).stdout.split() == ["x2", "one", "one", "c1"]
    sh(us, "echo two > $SNAP_DATA/v")
    all_revs = [line.split() for line in us.run("list", "--all").stdout.splitlines()[1:]]
    assert all_revs == [["probe", "1.0", "x1", "-", "-", "disabled"],
                        ["probe", "2.0", "x2", "-", "-", "-"]]

    assert us.run("revert", "probe").stdout.strip() == "probe reverted to 1.0"
    assert sh(us, "echo $SNAP_REVISION; cat $SNAP_DATA/v").stdout.split() == ["x1", "one"]
    assert (us.dirs.data_dir("probe") / "current").readlink() == Path("x1")

    us.run("revert", "probe", "--revision", "x2")
    us.run("install", "--dangerous", str(probe_snap(tmp_path, "3.0", "c.snap")))
    revs = [line.split()[2] for line in us.run("list", "--all").stdout.splitlines()[1:]]
    assert revs == ["x2", "x3"]  # only 2 revisions are kept
    assert not (us.dirs.data_dir("probe") / "x1").exists()
    assert not us.dirs.blob("probe", "x1").exists()
    assert not (us.dirs.mount / "probe" / "x1").exists()

    bad = us.run("remove", "probe", "--revision", "x3", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: cannot remove active revision")
    assert us.run("remove", "probe", "--revision", "x2").stdout.strip() == \
        "probe (revision x2) removed"
    assert us.run("remove", "probe").stdout.strip() == "probe removed"
    assert not us.dirs.data_dir("probe").exists() and not us.dirs.user_data_dir("probe").exists()
    assert list(us.dirs.bin.iterdir()) == []
    assert not (us.dirs.mount / "probe").exists()
    gone = us.run("run", "probe", check=False)
    assert gone.returncode == 1 and gone.stderr.strip() == 'error: snap "probe" is not installed'


def test_unsigned_file_needs_dangerous(us: Usersnap, tmp_path: Path) -> None:
    snap = probe_snap(tmp_path)
    out = us.run("install", str(snap), check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == f'error: cannot find signatures with metadata for snap "{snap}"'


BAD_YAML = {
    "no-name": "version: 1\napps: {a: {command: bin/probe}}\n",
    "bad-name": "name: Bad_Name\nversion: 1\n",
    "bad-version": "name: probe\nversion: 'has space'\n",
    "unparsable": "name: [unclosed\n",
    "bad-command": "name: probe\nversion: 1\napps: {a: {command: 'bin/probe; rm -rf /'}}\n",
    "missing-command-file": "name: probe\nversion: 1\napps: {a: {command: bin/nothere}}\n",
    "bad-layout": "name: probe\nversion: 1\nlayout: {/dev/foo: {bind: $SNAP/foo}}\n",
    "escaping-layout": "name: probe\nversion: 1\nlayout: {/usr/foo: {bind: $SNAP/../../etc}}\n",
}


def _bad_files(tmp: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for key, yaml in BAD_YAML.items():
        files[key] = build_snap(tmp, yaml, FILES, executables=["bin/probe"], name=f"{key}.snap")
    good = probe_snap(tmp, name="good.snap").read_bytes()
    used = int.from_bytes(good[40:48], "little")  # bytes_used: the rest is padding
    (tmp / "truncated.snap").write_bytes(good[: used // 2])
    (tmp / "notsquash.snap").write_bytes(b"PK\x03\x04" + b"\0" * 4000)
    (tmp / "empty.snap").write_bytes(b"")
    corrupt = bytearray(good)
    corrupt[40:48] = b"\xff" * 8  # inode table start far beyond the end
    (tmp / "corrupt.snap").write_bytes(bytes(corrupt))
    nometa = tmp / "nometa.d"
    (nometa / "bin").mkdir(parents=True)
    (nometa / "bin" / "x").write_text("x")
    subprocess.run(["mksquashfs", str(nometa), str(tmp / "nometa.snap"), "-noappend",
                    "-no-progress", "-all-root"], check=True, capture_output=True)
    for key in ("truncated", "notsquash", "empty", "corrupt", "nometa"):
        files[key] = tmp / f"{key}.snap"
    return files


def test_bad_input_is_one_line_and_changes_nothing(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path)))
    before_state, before_tree = us.state_bytes(), us.tree()
    for key, path in _bad_files(tmp_path / "bad").items():
        for argv in (["install", "--dangerous", str(path)], ["info", str(path)]):
            out = us.run(*argv, check=False)
            assert out.returncode == 1, (key, argv, out)
            assert out.stdout == "", (key, out.stdout)
            lines = out.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (key, out.stderr)
            assert "Traceback" not in out.stderr
        assert us.state_bytes() == before_state, key
        assert us.tree() == before_tree, key
    assert us.run("run", "probe").returncode == 0


def test_daemon_starts_once_and_leaves_when_idle(tmp_path: Path) -> None:
    with usersnap_session() as us:
        env = {"USERSNAP_IDLE_TIMEOUT": "2"}
        procs = [subprocess.Popen([sys.executable, "-m", "usersnap", "list"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={**os.environ, **env}) for _ in range(4)]
        for p in procs:
            assert p.wait(timeout=60) == 0
        pid = us.daemon_pid()
        assert pid is not None
        prefix = b"%s\0-m\0usersnap.daemon" % sys.executable.encode()
        daemons = [d for d in os.listdir("/proc")
                   if d.isdigit() and _cmdline(int(d)).startswith(prefix)]
        assert len([d for d in daemons if _environ_root(int(d)) == str(us.dirs.root)]) == 1
        assert us.wait_daemon_gone(30), "idle daemon did not exit"
        assert not os.path.ismount(us.dirs.mount)


def test_killed_daemon_leaves_a_stale_mount_that_the_next_start_clears(
        us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path)))
    us.stop_daemon(signal.SIGKILL)
    time.sleep(0.2)
    assert us.run("run", "probe").stdout.startswith("args:first probe")


@pytest.mark.parametrize("point", ["before:prepare-snap", "after:prepare-snap",
                                   "after:mount-snap", "before:run-hook",
                                   "before:stop-snap-services", "after:stop-snap-services",
                                   "after:copy-snap-data", "before:link-snap",
                                   "after:link-snap", "before:start-snap-services",
                                   "after:cleanup"])
def test_kill_9_during_install_leaves_old_or_new(us: Usersnap, tmp_path: Path,
                                                  point: str) -> None:
    us.run("install", "--dangerous", str(probe_snap(tmp_path, "1.0", "a.snap")))
    us.run("install", "--dangerous", str(probe_snap(tmp_path, "2.0", "b.snap")))
    sh(us, "echo kept > $SNAP_DATA/v")
    before = json.loads(us.state_bytes())
    us.stop_daemon()
    crash = us.run("install", "--dangerous", str(probe_snap(tmp_path, "3.0", "c.snap")),
                   check=False, env={"USERSNAP_CRASH_AT": point})
    assert crash.returncode != 0
    after = json.loads(us.state_bytes())
    revs = [line.split()[2] for line in us.run("list", "--all").stdout.splitlines()[1:]]
    if after["snaps"]["probe"]["current"] == "x3":
        assert revs == ["x2", "x3"]
    else:
        assert after["snaps"] == before["snaps"] and revs == ["x1", "x2"]
    current = revs[-1]
    assert sh(us, "echo $SNAP_REVISION; cat $SNAP_DATA/v").stdout.split() == [current, "kept"]
    for tree in (us.dirs.data_dir("probe"), us.dirs.user_data_dir("probe")):
        assert sorted(p.name for p in tree.iterdir()) == sorted(["common", "current", *revs])
    assert sorted(p.name for p in us.dirs.snaps.iterdir()) == [f"probe_{r}.snap" for r in revs]


def test_kill_9_of_the_cli_during_upload(us: Usersnap, tmp_path: Path) -> None:
    big = build_snap(tmp_path, PROBE_YAML.format(version="9"),
                     {**FILES, "share/big": os.urandom(8 << 20)},
                     executables=["bin/probe", "bin/sh-wrap"], name="big.snap")
    us.run("list")
    before = us.state_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "usersnap", "install", "--dangerous",
                             str(big)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    time.sleep(1)
    state = us.state_bytes()
    assert state == before or b'"probe"' in state
    us.stop_daemon()
    us.run("list", check=False)
    assert [p.name for p in us.dirs.snaps.iterdir() if p.name.startswith(".")] == []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _environ_root(pid: int) -> str:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    for item in env:
        if item.startswith(b"USERSNAP_ROOT="):
            return item.split(b"=", 1)[1].decode()
    return ""
