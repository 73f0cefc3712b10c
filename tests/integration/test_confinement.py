"""Escape attempts from a real sandbox, each reported as the errno the app got.

The launcher (``run_sandboxed``, as ``usersnap run`` drives it, seccomp filter included)
runs in a child process (this module's ``__main__``) and starts a snap whose app runs
``tests/helpers/try_syscall.py`` (shipped in the snap as ``$SNAP/bin/try_syscall.py``)
or a shell command.  Nothing here needs root: the same tests pass as an unprivileged user.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.helpers.cli import usersnap_session
from tests.helpers.snaps import build_snap
from tests.helpers.terminal import run_in_terminal
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.meta.model import App, SnapInfo, frozen_map
from usersnap.meta.parse import parse_snap_yaml

pytestmark = [
    pytest.mark.requires_bwrap,
    pytest.mark.requires_mksquashfs,
    pytest.mark.skipif(os.uname().machine != "x86_64",
                       reason="try_syscall.py knows x86_64's syscall numbers only"),
]

REPO = Path(__file__).resolve().parents[2]
HELPER = REPO / "tests" / "helpers" / "try_syscall.py"
NAME, REV, OTHER = "esctest", "x1", "othersnap"
SNAP_YAML = "name: esctest\nversion: '0.1'\napps:\n  sh:\n    command: bin/sh-c\n" \
            "  try:\n    command: bin/try\n"
INFO = SnapInfo(name=NAME, version="0.1", apps=frozen_map({
    "sh": App(name="sh", command="bin/sh-c"),
    "try": App(name="try", command="bin/try"),
}))
#: The same snap with a layout, which the launcher applies inside the sandbox.
LAYOUT_INFO = parse_snap_yaml(
    (SNAP_YAML + "layout:\n  /usr/share/esctest:\n    bind: $SNAP/bin\n").encode())
FILES = {
    "bin/sh-c": '#!/bin/sh\nexec /bin/sh -c "$1"\n',
    "bin/try": '#!/bin/sh\nexec /usr/bin/python3 "$SNAP/bin/try_syscall.py" "$@"\n',
    "bin/try_syscall.py": HELPER.read_text(encoding="utf-8"),
}
TIMEOUT = 60
#: Outside snapd's allow-list: EPERM, as under snapd.
EPERM_PROBES = ("mount", "umount2", "pivot_root", "fsopen", "open_tree", "move_mount",
                "fsconfig", "fsmount", "fspick", "mount_setattr", "keyctl", "add_key", "bpf",
                "ptrace-attach", "setns", "unshare-user")
#: Explicit denials: EACCES.
EACCES_PROBES = ("tiocsti", "tiocsti-high-bits", "tioclinux", "clone-newuser")


def main(argv: list[str]) -> int:
    """The launcher: [--devmode|--layout] APP [ARGS...]."""
    from usersnap.sandbox.facts import gather_host_facts, lookup
    from usersnap.sandbox.launch import prepare_host_dirs, run_sandboxed
    from usersnap.sandbox.plan import plan_sandbox

    info = INFO
    if argv[0] == "--devmode":
        info, argv = replace(INFO, confinement="devmode"), argv[1:]
    elif argv[0] == "--layout":
        info, argv = LAYOUT_INFO, argv[1:]
    app, *args = argv
    dirs = Dirs.from_env()
    try:
        spec = plan_sandbox(info, REV, dirs, facts=gather_host_facts(None), base_tree=None,
                            app=info.apps[app], args=args, host_env=os.environ,
                            layout_lookup=lookup)
        prepare_host_dirs(dirs, NAME, REV)
        return run_sandboxed(replace(spec, notices=()), run_lock=dirs.run_lock)
    except UsersnapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    dirs = Dirs.from_env()
    image = build_snap(tmp_path, SNAP_YAML, FILES, executables=("bin/sh-c", "bin/try"))
    dirs.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    (dirs.mount / NAME).mkdir(parents=True, exist_ok=True)
    subprocess.run(["unsquashfs", "-no-progress", "-d", str(dirs.mount / NAME / REV),
                    str(image)], check=True, capture_output=True, timeout=TIMEOUT)
    (dirs.mount / NAME / "current").symlink_to(REV)
    return dirs


def launch(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.integration.test_confinement", *argv],
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def probe(*names: str, devmode: bool = False) -> dict[str, str]:
    result = launch(*(["--devmode"] if devmode else []), "try", *names)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def sh(command: str) -> str:
    result = launch("sh", command)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_denied_syscalls_report_snapd_errnos(dirs: Dirs) -> None:
    results = probe("getpid", *EACCES_PROBES, *EPERM_PROBES)
    assert results == {"getpid": "ok", **dict.fromkeys(EACCES_PROBES, "EACCES"),
                       **dict.fromkeys(EPERM_PROBES, "EPERM")}


def test_devmode_allows_and_logs_what_strict_denies(dirs: Dirs) -> None:
    # keyctl is outside the allow-list: under @complain it reaches the kernel, which
    # answers for itself; the explicit TIOCSTI denial holds (snapd >= 2.63).
    results = probe("keyctl", "bpf", "tiocsti", devmode=True)
    assert results["keyctl"] not in ("EPERM", "EACCES"), results
    assert results["bpf"] != "EACCES", results
    assert results["tiocsti"] == "EACCES"


def _kernel_log_from_now() -> int:
    """/dev/kmsg opened at its end, so reads return only records logged after this."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(fd, 0, os.SEEK_END)
    return fd


def _new_records(fd: int) -> list[str]:
    records = []
    while True:
        try:
            records.append(os.read(fd, 8192).decode(errors="replace"))
        except BlockingIOError:
            return records
        except BrokenPipeError:  # records overwritten while we read: go on with the rest
            continue


@pytest.mark.requires_root
@pytest.mark.skipif("log" not in Path("/proc/sys/kernel/seccomp/actions_logged").read_text()
                    if Path("/proc/sys/kernel/seccomp/actions_logged").exists() else True,
                    reason="the kernel does not log SECCOMP_RET_LOG")
def test_devmode_denials_reach_the_kernel_audit_log(dirs: Dirs) -> None:
    """Only root can check this: the records go to the kernel's audit log (dmesg, or
    auditd), which dmesg_restrict hides from everyone else."""
    comm = f"usdev{os.getpid() % 100000}"
    fd = _kernel_log_from_now()
    try:
        results = probe(f"comm={comm}", "keyctl", devmode=True)
        time.sleep(0.5)  # kauditd hands records to printk asynchronously
        records = _new_records(fd)
    finally:
        os.close(fd)
    assert results["keyctl"] not in ("EPERM", "EACCES"), results
    mine = [r for r in records if f'comm="{comm}"' in r]
    if not mine and Path("/run/auditd.pid").exists():
        pytest.skip("auditd takes the audit records away from the kernel log")
    # type 1326 is AUDIT_SECCOMP; 250 is keyctl on x86_64; 0x7ffc0000 is SECCOMP_RET_LOG
    assert any("type=1326" in r and " syscall=250 " in r and "code=0x7ffc0000" in r
               for r in mine), mine


def test_filesystem_escapes(dirs: Dirs) -> None:
    other = dirs.data_dir(OTHER) / "x1"
    other.mkdir(parents=True)
    (other / "secret").write_text("secret\n")
    out = sh(
        'touch "$SNAP/new" 2>&1 | grep -o "Read-only file system"; '
        f"cat /var/snap/{OTHER}/x1/secret 2>&1 | grep -o 'No such file or directory'; "
        f"ls {dirs.cache}/seccomp 2>&1 | grep -o 'No such file or directory'; "
        "unshare -U true 2>&1 | grep -o 'Operation not permitted'"
    )
    assert out.splitlines() == ["Read-only file system", "No such file or directory",
                                "No such file or directory", "Operation not permitted"]


def test_tiocsti_into_the_controlling_terminal_is_denied(dirs: Dirs) -> None:
    """The app tries to type a command into the user's terminal (its stdin, a pty that is
    the launcher's controlling terminal): seccomp's EACCES, and nothing arrives."""
    inject = ("import fcntl, termios, errno\n"
              "try:\n    fcntl.ioctl(0, termios.TIOCSTI, b'Z')\n    print('injected')\n"
              "except OSError as e:\n    print('TIOCSTI', errno.errorcode[e.errno])\n")
    status, output = run_in_terminal(
        [sys.executable, "-m", "tests.integration.test_confinement", "sh",
         f"/usr/bin/python3 -c \"{inject}\"; stty -icanon min 0 time 0; cat"],
        cwd=REPO, timeout=TIMEOUT)
    assert status == 0, output
    assert output.replace(b"\r", b"") == b"TIOCSTI EACCES\n"


def _sandbox_processes(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and marker.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


def test_sigkill_of_the_launcher_kills_the_app(dirs: Dirs, tmp_path: Path) -> None:
    marker = f"{os.getpid()}.25"  # a unique sleep length to find the app by
    out = tmp_path / "out"
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.test_confinement", "sh",
             f"echo ready; exec sleep {marker}"], cwd=REPO, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + TIMEOUT
        while b"ready" not in out.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sandbox_processes(f"sleep\0{marker}"), out.read_text()
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        while _sandbox_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sandbox_processes(marker) == []  # the app, and bwrap with it, are gone
    finally:
        proc.kill()
        proc.wait()
        for pid in _sandbox_processes(f"sleep\0{marker}"):
            os.kill(pid, 9)


def _user_ns_depth(pid: int) -> int:
    """How many user namespaces below ours ``pid`` is (NS_GET_PARENT up to ours)."""
    import fcntl

    ours = os.stat("/proc/self/ns/user").st_ino
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    depth = 0
    try:
        while os.fstat(fd).st_ino != ours:
            parent = fcntl.ioctl(fd, 0xB702)  # NS_GET_PARENT
            os.close(fd)
            fd, depth = parent, depth + 1
    finally:
        os.close(fd)
    return depth


@pytest.mark.parametrize("layout", [False, True], ids=["plain", "with-layouts"])
def test_disable_userns_holds_with_layouts_too(dirs: Dirs, tmp_path: Path,
                                               layout: bool) -> None:
    """bwrap's --disable-userns leaves the app in a nested user namespace that cannot
    make more; the layouts are applied from outside in the namespace owning the mounts."""
    from usersnap.sandbox.bwrap import find_bwrap
    from usersnap.sandbox.probe import bwrap_supports

    if not bwrap_supports(find_bwrap(), "--disable-userns"):
        pytest.skip("bwrap < 0.8 has no --disable-userns")
    marker = f"{os.getpid()}.{26 + layout}"
    out = tmp_path / "out"
    with open(out, "w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.test_confinement",
             *(["--layout"] if layout else []), "sh",
             "ls /usr/share/esctest 2>&1; echo ready; exec sleep " + marker],
            cwd=REPO, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + TIMEOUT
        while b"ready" not in out.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = _sandbox_processes(f"sleep\0{marker}")
        assert pids, out.read_text()
        # 1: bwrap's own namespace; 2: the nested one --disable-userns adds
        assert _user_ns_depth(pids[0]) == 2
        listing = out.read_text().split()
        assert ("sh-c" in listing) == layout, listing
    finally:
        proc.kill()
        proc.wait()
        for pid in _sandbox_processes(f"sleep\0{marker}"):
            os.kill(pid, 9)


def test_host_processes_are_invisible_and_unreachable(dirs: Dirs) -> None:
    me = os.getpid()
    out = sh(f"kill -0 {me} 2>&1 | grep -o 'No such process'; "
             "ls /proc | grep -c '^[0-9]'")
    found, count = out.splitlines()
    assert found == "No such process"
    assert int(count) < 10  # the sandbox's own few processes


def test_debug_seccomp_prints_template_and_connected_snippets(tmp_path: Path) -> None:
    yaml = ("name: seccompdbg\nversion: '1'\nconfinement: devmode\n"
            "plugs:\n  network-bind: {}\n"
            "apps:\n  seccompdbg:\n    command: bin/sh-c\n  other:\n    command: bin/sh-c\n"
            "    plugs: [home]\nhooks:\n  configure:\n    plugs: [network]\n")
    image = build_snap(tmp_path, yaml, {"bin/sh-c": FILES["bin/sh-c"],
                                        "meta/hooks/configure": "#!/bin/sh\nexit 0\n"},
                       executables=("bin/sh-c", "meta/hooks/configure"))
    with usersnap_session() as us:
        us.run("install", "--dangerous", "--devmode", str(image))
        lines = us.run("debug", "seccomp", "seccompdbg").stdout.splitlines()
        sources = [line for line in lines if line.startswith("# source:")]
        assert sources[0] == "# source: devmode (denials are logged, not enforced)"
        assert lines[1] == "@complain"
        assert sources[1].startswith("# source: default template (")
        assert sources[2].startswith('# source: interface "network-bind" (')
        assert len(sources) == 3 and "listen" in lines
        other = us.run("debug", "seccomp", "seccompdbg.other").stdout
        assert '# source: interface "home" (' in other
        missing = us.run("debug", "seccomp", "seccompdbg.nope", check=False)
        assert missing.returncode == 1
        assert missing.stderr == 'error: cannot find app "nope" in "seccompdbg"\n'
        # hooks by snapd's security tag, snap.NAME.hook.HOOK, less "snap."
        hook = us.run("debug", "seccomp", "seccompdbg.hook.configure").stdout
        assert '# source: interface "network" (' in hook
        assert '# source: interface "network-bind" (' in hook
        assert '"network" (' not in us.run("debug", "seccomp", "seccompdbg").stdout
        missing = us.run("debug", "seccomp", "seccompdbg.hook.install", check=False)
        assert missing.stderr == 'error: cannot find hook "install" in "seccompdbg"\n'


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
