"""``usersnap try DIR`` as an author uses it: real CLI, real usersnapd, FUSE and bwrap."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snapd_oracle import ORACLE_ENV, snap_binary
from tests.helpers.snaps import mksquashfs, write_snap_dir
from usersnap.client import connect

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap, pytest.mark.timeout(300)]

YAML = """\
name: tryme
version: '0.1'
summary: tried in place
description: an author's work in progress
apps:
  tryme:
    command: bin/hello
"""
EXTRA_APP = """\
  extra:
    command: bin/extra
"""


@pytest.fixture
def us() -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def author_dir(tmp_path: Path, greeting: str = "hello v1") -> Path:
    src = write_snap_dir(tmp_path / "work" / "tryme", YAML,
                         {"bin/hello": f"#!/bin/sh\necho {greeting} $SNAP\n"},
                         executables=["bin/hello"])
    for path in (src, src.parent):
        path.chmod(0o755)
    return src


def contents(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every entry's mode and content (or link target): proof a directory was not touched."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = os.readlink(path).encode() if path.is_symlink() else (
            path.read_bytes() if path.is_file() else b"")
        out[str(path.relative_to(root))] = (st.st_mode, data)
    return out


def snap_json(us: Usersnap, name: str) -> dict[str, object]:
    with connect(us.dirs, start=False) as client:
        snap = client.get(f"/v2/snaps/{name}")
    assert isinstance(snap, dict)
    return snap


def listing(us: Usersnap, *args: str) -> list[list[str]]:
    return [line.split() for line in us.run("list", *args).stdout.splitlines()[1:]]


def test_try_edit_and_run_in_place(us: Usersnap, tmp_path: Path) -> None:
    src = author_dir(tmp_path)
    out = us.run("try", str(src))
    assert out.stdout == f"tryme 0.1 mounted from {src}\n" and out.stderr == ""
    assert us.run("run", "tryme").stdout == "hello v1 /snap/tryme/x1\n"
    assert listing(us) == [["tryme", "0.1", "x1", "-", "-", "try"]]
    snap = snap_json(us, "tryme")
    assert snap["trymode"] is True and snap["mounted-from"] == str(src)
    assert "installed:    0.1 (x1) 0B try" in us.run("info", "tryme").stdout

    (src / "bin" / "hello").write_text("#!/bin/sh\necho hello v2\n")  # the mode stays
    assert us.run("run", "tryme").stdout == "hello v2\n"
    (src / "share").mkdir()
    (src / "share" / "data").write_text("fresh\n")
    cat = us.run("run", "--shell", "tryme", stdin="cat $SNAP/share/data\n")
    assert cat.stdout == "fresh\n"

    # a new app: `run` reads snap.yaml live; launchers and info follow a new `try`
    (src / "meta" / "snap.yaml").write_text(YAML + EXTRA_APP)
    (src / "bin" / "extra").write_text("#!/bin/sh\necho extra\n")
    (src / "bin" / "extra").chmod(0o755)
    assert us.run("run", "tryme.extra").stdout == "extra\n"
    assert not (us.dirs.bin / "tryme.extra").exists()
    assert us.run("try", str(src)).stdout == f"tryme 0.1 mounted from {src}\n"
    assert (us.dirs.bin / "tryme.extra").exists()
    assert "  - tryme.extra" in us.run("info", "tryme").stdout
    assert listing(us, "--all") == [["tryme", "0.1", "x1", "-", "-", "disabled,try"],
                                    ["tryme", "0.1", "x2", "-", "-", "try"]]
    assert us.run("run", "tryme").stdout == "hello v2\n"
    us.run("try", str(src))  # x1 falls out of retention; the directory stays
    assert [row[2] for row in listing(us, "--all")] == ["x2", "x3"]
    assert not (us.dirs.data_dir("tryme") / "x1").exists()
    own = us.run("try", str(us.dirs.mount / "tryme" / "x3"), check=False)
    assert own.returncode == 1 and "it is on the usersnap mount" in own.stderr

    before = contents(src)
    us.run("remove", "tryme")
    assert contents(src) == before  # the author's directory is never deleted
    assert us.run("list", check=False).stderr.startswith("No snaps are installed yet")
    assert not us.dirs.data_dir("tryme").exists()


def test_revert_between_a_tried_and_an_installed_revision(us: Usersnap, tmp_path: Path) -> None:
    packed = write_snap_dir(tmp_path / "packed", YAML, {"bin/hello": "#!/bin/sh\necho packed\n"},
                            executables=["bin/hello"])
    if not shutil.which("mksquashfs"):
        pytest.skip("mksquashfs not found")
    us.run("install", "--dangerous", str(mksquashfs(packed, tmp_path / "tryme.snap")))
    src = author_dir(tmp_path, "tried")
    us.run("try", str(src))
    assert listing(us, "--all") == [["tryme", "0.1", "x1", "-", "-", "disabled"],
                                    ["tryme", "0.1", "x2", "-", "-", "try"]]
    assert us.run("run", "tryme").stdout == "tried /snap/tryme/x2\n"
    us.run("run", "--shell", "tryme", stdin="echo kept > $SNAP_DATA/state\n")
    us.run("revert", "tryme")
    assert us.run("run", "tryme").stdout == "packed\n"
    assert listing(us) == [["tryme", "0.1", "x1", "-", "-", "-"]]
    assert snap_json(us, "tryme")["trymode"] is False
    (src / "bin" / "hello").write_text("#!/bin/sh\necho tried again\n")
    us.run("revert", "tryme", "--revision", "x2")
    assert us.run("run", "tryme").stdout == "tried again\n"
    assert (us.dirs.data_dir("tryme") / "x2" / "state").read_text() == "kept\n"
    us.run("remove", "tryme", "--revision", "x1")
    assert listing(us, "--all") == [["tryme", "0.1", "x2", "-", "-", "try"]]
    assert (src / "bin" / "hello").exists()


@pytest.mark.parametrize("case", ["no-snap-yaml", "bad-yaml", "invalid", "missing-command",
                                  "not-a-dir", "relative-missing"])
def test_a_bad_directory_changes_nothing(us: Usersnap, tmp_path: Path, case: str) -> None:
    us.run("list", check=False)  # the daemon is up: what follows must not change the root
    src = author_dir(tmp_path)
    arg = str(src)
    expected = ""
    if case == "no-snap-yaml":
        (src / "meta" / "snap.yaml").unlink()
        expected = (f'"{src}" does not contain an unpacked snap. Try \'snapcraft prime\' in '
                    "your project directory, then 'usersnap try' again.")
    elif case == "bad-yaml":
        (src / "meta" / "snap.yaml").write_text("name: tryme\nversion: [\n")
        expected = f"cannot read snap info for {src}: cannot parse snap.yaml: yaml: line "
    elif case == "invalid":
        (src / "meta" / "snap.yaml").write_text(YAML.replace("tryme\n", "TryMe\n", 1))
        expected = f'cannot read snap info for {src}: cannot validate snap "TryMe"'
    elif case == "missing-command":
        (src / "bin" / "hello").unlink()
        expected = f"cannot try {src}: snap is unusable due to missing files"
    elif case == "not-a-dir":
        arg = str(src / "meta" / "snap.yaml")
        expected = f'cannot try "{arg}": not a snap directory'
    else:
        arg = "no/such/dir"
        expected = f'cannot try "{Path.cwd() / arg}": not a snap directory'
    state, tree = us.state_bytes(), us.tree()
    proc = us.run("try", arg, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: {expected}") and proc.stderr.count("\n") == 1
    assert us.state_bytes() == state and us.tree() == tree


def test_the_directory_defaults_like_snap(us: Usersnap, tmp_path: Path) -> None:
    src = author_dir(tmp_path)

    def try_in(cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "usersnap", "try"], cwd=cwd, text=True,
                              capture_output=True, timeout=60, check=False)

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = try_in(empty)
    assert proc.returncode == 1 and proc.stderr == (
        "error: the `<snap-dir>` argument was not provided and couldn't be inferred\n")
    assert try_in(src).stdout == f"tryme 0.1 mounted from {src}\n"
    project = tmp_path / "project"
    (project / "snap").mkdir(parents=True)
    (project / "snap" / "snapcraft.yaml").write_text("name: tryme\n")
    shutil.copytree(src, project / "prime", symlinks=True)
    assert try_in(project).stdout == f"tryme 0.1 mounted from {project / 'prime'}\n"


def test_restart_reattaches_and_a_vanished_directory_is_broken(
    us: Usersnap, tmp_path: Path
) -> None:
    src = author_dir(tmp_path)
    us.run("try", str(src))
    us.stop_daemon()
    assert us.run("run", "tryme").stdout == "hello v1 /snap/tryme/x1\n"  # re-attached
    us.stop_daemon()
    away = tmp_path / "away"
    src.rename(away)
    log_size = us.dirs.daemon_log.stat().st_size
    assert listing(us) == [["tryme", "-", "x1", "-", "-", "try,broken"]]
    log = us.dirs.daemon_log.read_text()[log_size:]
    assert f"cannot mount tryme x1: tried directory {src} does not exist any more" in log
    proc = us.run("run", "tryme", check=False)
    assert proc.returncode == 1 and proc.stderr == (
        f'error: cannot run snap "tryme" (revision x1): tried directory {src} does not exist '
        "any more\n")
    assert snap_json(us, "tryme")["broken"]
    away.rename(src)
    us.stop_daemon()
    assert us.run("run", "tryme").stdout == "hello v1 /snap/tryme/x1\n"
    us.stop_daemon()
    src.rename(away)
    us.run("remove", "tryme")  # a broken revision can still be removed
    assert us.run("list", check=False).stderr.startswith("No snaps are installed yet")
    assert (away / "bin" / "hello").exists()


@pytest.mark.requires_snapd
def test_the_real_snap_client_tries_a_directory(us: Usersnap, tmp_path: Path) -> None:
    """``snap try`` 2.57.6 against usersnapd: its multipart form, change wait and listing."""
    binary = snap_binary()
    assert binary is not None
    us.run("version")  # starts usersnapd
    root = tmp_path / "snaproot"
    (root / "run").mkdir(parents=True)
    (root / "run" / "snapd.socket").symlink_to(us.dirs.socket)
    env = {**os.environ, **ORACLE_ENV, "SNAPPY_GLOBAL_ROOT": str(root),
           "SNAPD_LAST_WARNING_TIMESTAMP_FILENAME": str(tmp_path / "warnings.json")}
    src = author_dir(tmp_path)

    def snap(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(binary), *args], env=env, cwd=src.parent, text=True,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
                              check=False)

    proc = snap("try", "tryme")
    assert (proc.returncode, proc.stdout) == (0, f"tryme 0.1 mounted from {src}\n"), proc.stderr
    proc = snap("list")
    assert proc.stdout.splitlines()[1].split() == ["tryme", "0.1", "x1", "-", "-", "try"]
    assert us.run("run", "tryme").stdout == "hello v1 /snap/tryme/x1\n"
    (src / "meta" / "snap.yaml").unlink()
    proc = snap("try", "tryme")
    assert proc.returncode == 1
    assert proc.stderr.startswith('error: "tryme" does not contain an unpacked snap.')
