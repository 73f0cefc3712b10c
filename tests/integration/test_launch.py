"""Real bubblewrap runs of a real (unsquashfs'd) snap, through the launcher.

There is no daemon or FUSE mount here: ``Dirs.mount`` is a plain directory holding
``sbtest/x1`` extracted from a mksquashfs image (and, for one test, a tiny base tree).
The launcher runs in a child process (this module's ``__main__``) so that signals,
exit codes and the terminal can be tested as a shell would see them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helpers.snaps import build_snap
from tests.helpers.terminal import run_in_terminal
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.meta.model import App, SnapInfo, frozen_map

pytestmark = [pytest.mark.requires_bwrap, pytest.mark.requires_mksquashfs]

REPO = Path(__file__).resolve().parents[2]
NAME, REV = "sbtest", "x1"
SNAP_YAML = """\
name: sbtest
version: '0.1'
base: core22
environment:
  EXTRA_GLOBAL: extra-global
  EXTRA_CACHE_DIR: $SNAP_USER_DATA/.cache
apps:
  sh:
    command: bin/sh-c
    environment:
      EXTRA_LOCAL: extra-local
      EXTRA_LOCAL_NESTED: ${EXTRA_GLOBAL}-nested
      EXTRA_DEFAULT: ${UNSET_VAR:-fallback}
  args:
    command: bin/print-args --name=$SNAP_NAME $UNSET_VAR $SNAP
    command-chain: [bin/chain]
  missing:
    command: bin/missing
"""
# No snap.yaml parser is needed on this path: the model the parser would build.
INFO = SnapInfo(
    name=NAME, version="0.1", base="core22",
    environment=(("EXTRA_GLOBAL", "extra-global"), ("EXTRA_CACHE_DIR", "$SNAP_USER_DATA/.cache")),
    apps=frozen_map({
        "sh": App(name="sh", command="bin/sh-c", environment=(
            ("EXTRA_LOCAL", "extra-local"),
            ("EXTRA_LOCAL_NESTED", "${EXTRA_GLOBAL}-nested"),
            ("EXTRA_DEFAULT", "${UNSET_VAR:-fallback}"),
        )),
        "args": App(name="args", command="bin/print-args --name=$SNAP_NAME $UNSET_VAR $SNAP",
                    command_chain=("bin/chain",)),
        "missing": App(name="missing", command="bin/missing"),
    }),
)
FILES = {
    "bin/sh-c": '#!/bin/sh\nexec /bin/sh -c "$1"\n',
    "bin/print-args": '#!/bin/sh\nfor a in "$@"; do echo "arg:$a"; done\n',
    "bin/chain": '#!/bin/sh\necho chain\nexec "$@"\n',
}
NOTICE = 'usersnap: base "core22" is not installed; using the host system as the base\n'
TIMEOUT = 60


def main(argv: list[str]) -> int:
    """The launcher as ``usersnap run`` will drive it: [--base TREE] APP [ARGS...]."""
    from usersnap.sandbox.facts import gather_host_facts
    from usersnap.sandbox.launch import prepare_host_dirs, run_sandboxed
    from usersnap.sandbox.plan import plan_sandbox

    base = None
    if argv[0] == "--base":
        base, argv = Path(argv[1]), argv[2:]
    app, *args = argv
    dirs = Dirs.from_env()
    try:
        spec = plan_sandbox(INFO, REV, dirs, facts=gather_host_facts(base), base_tree=base,
                            app=INFO.apps[app], args=args, host_env=os.environ, cookie="test")
        prepare_host_dirs(dirs, NAME, REV)
        return run_sandboxed(spec, run_lock=dirs.run_lock)
    except UsersnapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


# --- fixtures -----------------------------------------------------------------------------


def install_tree(dirs: Dirs, tmp: Path) -> None:
    """Unsquash the snap where the FUSE tree would serve it."""
    image = build_snap(tmp, SNAP_YAML, FILES, executables=FILES)
    dirs.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    (dirs.mount / NAME).mkdir(parents=True, exist_ok=True)
    subprocess.run(["unsquashfs", "-no-progress", "-d", str(dirs.mount / NAME / REV), str(image)],
                   check=True, capture_output=True, timeout=TIMEOUT)
    (dirs.mount / NAME / "current").symlink_to(REV)


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    dirs = Dirs.from_env()
    install_tree(dirs, tmp_path)
    return dirs


def launcher(
    *argv: str, env: Mapping[str, str] | None = None, output: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.test_launch", *argv],
        cwd=REPO, env=env, text=True, stdout=output, stderr=output,
    )


def run(*argv: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = launcher(*argv, env=env)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# --- what the app sees --------------------------------------------------------------------


def test_environment(dirs: Dirs) -> None:
    host = {**os.environ, "LD_LIBRARY_PATH": "/nonexistent-usersnap", "TMPDIR": "/foobar",
            "SHELL": "/bin/sh", "USERSNAP_TEST_PASS": "through"}
    host.pop("SNAP_REEXEC", None)
    result = run("sh", "env -0", env=host)
    assert result.returncode == 0, result.stderr
    assert result.stderr == NOTICE
    env = dict(item.split("=", 1) for item in result.stdout.split("\0") if item)
    home, uid = str(dirs.home), os.getuid()
    assert {k: v for k, v in env.items() if k.startswith("SNAP")} == {
        "SNAP": "/snap/sbtest/x1",
        "SNAP_ARCH": env["SNAP_ARCH"],
        "SNAP_COMMON": "/var/snap/sbtest/common",
        "SNAP_DATA": "/var/snap/sbtest/x1",
        "SNAP_LIBRARY_PATH": "/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32:/var/lib/snapd/void",
        "SNAP_REEXEC": "",
        "SNAP_REVISION": "x1",
        "SNAP_USER_COMMON": f"{home}/snap/sbtest/common",
        "SNAP_USER_DATA": f"{home}/snap/sbtest/x1",
        "SNAP_VERSION": "0.1",
        "SNAP_COOKIE": "test",
        "SNAP_CONTEXT": "test",
        "SNAP_NAME": "sbtest",
        "SNAP_INSTANCE_NAME": "sbtest",
        "SNAP_INSTANCE_KEY": "",
        "SNAP_REAL_HOME": home,
        "SNAP_UID": str(uid),
        "SNAP_EUID": str(uid),
    }
    assert env["HOME"] == f"{home}/snap/sbtest/x1"
    assert env["XDG_RUNTIME_DIR"] == f"/run/user/{uid}/snap.sbtest"
    assert env["PATH"].startswith("/usr/local/sbin:/usr/local/bin:/usr/sbin:")
    assert (env["SHELL"], env["TMPDIR"], env["TEMPDIR"]) == ("/bin/bash", "/tmp", "/tmp")
    assert "LD_LIBRARY_PATH" not in env
    assert env["USERSNAP_TEST_PASS"] == "through"
    assert env["EXTRA_LOCAL_NESTED"] == "extra-global-nested"
    assert env["EXTRA_CACHE_DIR"] == f"{home}/snap/sbtest/x1/.cache"
    assert env["EXTRA_DEFAULT"] == "fallback"


def test_command_resolution(dirs: Dirs) -> None:
    result = run("args", "u1", "$SNAP")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "chain", "arg:--name=sbtest", "arg:/snap/sbtest/x1", "arg:u1", "arg:$SNAP",
    ]


def test_paths_writes_and_private_tmp(dirs: Dirs, tmp_path: Path) -> None:
    marker = Path(tempfile.mkdtemp(prefix="usersnap-host-marker-", dir="/tmp"))
    try:
        script = f"""
            set -e
            test -f "$SNAP/meta/snap.yaml"
            test -L /snap/sbtest/current
            test -d "$SNAP_DATA" && test -d "$SNAP_COMMON" && test -d "$SNAP_USER_DATA"
            test -d "$XDG_RUNTIME_DIR" && test -w "$XDG_RUNTIME_DIR"
            echo a > "$SNAP_DATA/a"; echo b > "$SNAP_COMMON/b"; echo c > "$HOME/c"
            echo d > /tmp/d
            test ! -e {marker}
            ! touch "$SNAP/x" 2>/dev/null
            ! touch /x 2>/dev/null
            ! touch "$SNAP_REAL_HOME/x" 2>/dev/null
            echo ok
        """
        result = run("sh", script)
    finally:
        marker.rmdir()
    assert (result.returncode, result.stdout) == (0, "ok\n"), result.stderr
    assert (dirs.data_dir(NAME) / REV / "a").read_text() == "a\n"
    assert (dirs.data_dir(NAME) / "common" / "b").read_text() == "b\n"
    assert (dirs.user_data_dir(NAME) / REV / "c").read_text() == "c\n"
    assert (dirs.private_tmp(NAME) / "d").read_text() == "d\n"
    assert not (dirs.home / "x").exists()
    assert os.readlink(dirs.user_data_dir(NAME) / "current") == REV


def test_host_processes_are_invisible(dirs: Dirs) -> None:
    result = run("sh", "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'")
    assert result.returncode == 0, result.stderr
    comm, count = result.stdout.split()
    assert comm == "bwrap"  # bwrap's pid 1 of the new pid namespace
    assert int(count) <= 6  # bwrap, sh, ls, grep (and the shell's command substitution)


# --- exit status and signals --------------------------------------------------------------


def test_exit_code_passes_through(dirs: Dirs) -> None:
    assert run("sh", "exit 3").returncode == 3


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_signal_sent_to_the_launcher_reaches_the_app(dirs: Dirs, signo: signal.Signals) -> None:
    trap = f"trap 'exit 42' {signo.name[3:]}; echo ready; while :; do sleep 0.05; done"
    proc = launcher("sh", trap)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signo)
        assert proc.wait(timeout=TIMEOUT) == 42
    finally:
        proc.kill()
        proc.communicate()


def test_sigkill_of_the_app(dirs: Dirs) -> None:
    assert run("sh", "kill -KILL $$").returncode == 128 + signal.SIGKILL


def test_ctrl_c_from_the_terminal(dirs: Dirs) -> None:
    """Ctrl-C reaches the app once, and bwrap's monitor dying of it does not kill the app."""
    sent = []

    def press_ctrl_c(output: bytes, master: int) -> None:
        if not sent and b"ready" in output:
            os.write(master, b"\x03")
            sent.append(True)

    status, output = run_in_terminal(
        [sys.executable, "-m", "tests.integration.test_launch", "sh",
         "n=0; trap 'n=$((n+1))' INT; echo ready; sleep 1; echo ints=$n; exit 7"],
        cwd=REPO, timeout=TIMEOUT, on_output=press_ctrl_c)
    assert status == 7, output
    assert b"ints=1" in output


def test_run_lock_is_held_while_anything_runs_in_the_sandbox(dirs: Dirs) -> None:
    # Not through a pipe: bwrap's pid 1 keeps the launcher's stdout open as long as it lives.
    proc = launcher("sh", "sleep 1.5 & exit 0", output=subprocess.DEVNULL)
    assert proc.wait(timeout=TIMEOUT) == 0

    def locked() -> bool:
        fd = os.open(dirs.run_lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    assert locked()  # the background sleep keeps bwrap's pid 1, which holds it
    deadline = time.monotonic() + 10
    while locked() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not locked()


def test_command_missing_in_the_sandbox(dirs: Dirs) -> None:
    result = run("missing")
    assert result.returncode == 1
    assert "bwrap: execvp /snap/sbtest/x1/bin/missing" in result.stderr
    assert 'error: cannot start snap "sbtest" in its sandbox' in result.stderr


# --- a real base tree and an unprivileged user --------------------------------------------


def make_base(base: Path) -> None:
    """A tiny base: a few host binaries with their libraries, plus recognisable files."""
    tools = ["sh", "env", "cat", "ls", "id", "touch"]
    for tool in tools:
        exe = shutil.which(tool)
        assert exe is not None
        target = base / "bin" / tool
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.realpath(exe), target)
        ldd = subprocess.run(["ldd", exe], capture_output=True, text=True, check=True).stdout
        for word in ldd.split():
            if word.startswith("/") and os.path.exists(word):
                lib = base / word.lstrip("/")
                lib.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(os.path.realpath(word), lib)
    (base / "usr" / "share").mkdir(parents=True)
    (base / "usr" / "share" / "base-marker").write_text("from the base\n")
    (base / "etc").mkdir()
    (base / "etc" / "nsswitch.conf").write_text("# the base's nsswitch.conf\n")
    (base / "var" / "lib").mkdir(parents=True)
    (base / "var" / "run").symlink_to("/run")


@pytest.mark.skipif(shutil.which("ldd") is None, reason="ldd is needed to build a base tree")
def test_base_tree(dirs: Dirs) -> None:
    base = dirs.mount / "core22" / "1"
    make_base(base)
    script = "cat /usr/share/base-marker /etc/nsswitch.conf; test -f /etc/passwd; ls / /var"
    result = run("--base", str(base), "sh", script)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no notice: the base is there
    head = "from the base\n# the base's nsswitch.conf\n"  # base files, host /etc around them
    assert result.stdout.startswith(head)
    listing = set(result.stdout[len(head):].split())
    assert {"bin", "usr", "etc", "snap", "tmp", "var", "home", "dev", "proc"} <= listing
    assert {"lib", "run", "snap", "tmp"} <= listing  # /var's


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
