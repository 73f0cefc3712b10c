"""Real filters in real bwrap sandboxes: each protected system call is tried and its errno read.

``tests/helpers/try_syscall.py`` runs inside ``bwrap --unshare-user`` under /usr/bin/python3
with the programs ``cached_filter`` gives, passed as bwrap's ``--add-seccomp-fd`` (deny
first, allow last), and prints what each call returned.  The same probes without any
filter show that the denials come from the filter, not from the sandbox or the kernel.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from usersnap.seccomp.cache import cached_filter
from usersnap.seccomp.profiles import default_template, snippet_for

pytestmark = [
    pytest.mark.requires_bwrap,
    pytest.mark.skipif(os.uname().machine != "x86_64",
                       reason="try_syscall.py knows x86_64's syscall numbers only"),
]

HELPER = Path(__file__).resolve().parents[1] / "helpers" / "try_syscall.py"
PYTHON = "/usr/bin/python3"  # readable by every user, unlike a version manager's

#: What snapd's template denies, and usersnap's with it: outside the allow list, EPERM.
IMPLICITLY_DENIED = (
    "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "unshare-nothing", "setns",
    "keyctl", "add_key", "bpf", "ptrace-attach", "perf_event_open", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "openat2",
    "socket-netlink-route", "socket-netlink-uevent", "listen", "unshare-user",
)
#: Explicit ``~`` denials: EACCES even though the call itself is allowed.
EXPLICITLY_DENIED = ("tiocsti", "tiocsti-high-bits", "tioclinux", "clone-newuser",
                     "chmod-setuid")
ALLOWED = ("getpid", "fork", "thread", "socket-unix", "socket-inet", "tiocgwinsz",
           "chmod-plain")
I386 = ("i386-getpid", "i386-mount", "i386-tiocsti", "i386-unshare-user")
X32 = ("x32-getpid", "x32-unshare-user")
#: The unshare probes come last (IMPLICITLY_DENIED ends with one): where one is let
#: through, the prober answers from a new user namespace from then on.
EVERY_PROBE = (*ALLOWED, *EXPLICITLY_DENIED, "clone3", *I386[:3], X32[0], *IMPLICITLY_DENIED,
               I386[3], X32[1])


def run_probes(programs: tuple[Path, ...], probes: tuple[str, ...] = EVERY_PROBE
               ) -> dict[str, str]:
    fds = [os.open(path, os.O_RDONLY | os.O_CLOEXEC) for path in programs]
    try:
        seccomp = [arg for fd in fds for arg in ("--add-seccomp-fd", str(fd))]
        proc = subprocess.run(
            ["bwrap", "--unshare-user", "--unshare-pid", "--die-with-parent",
             "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--ro-bind", str(HELPER), str(HELPER), *seccomp, PYTHON, str(HELPER), *probes],
            pass_fds=fds, capture_output=True, text=True, timeout=60, check=False,
        )
    finally:
        for fd in fds:
            os.close(fd)
    assert proc.returncode == 0, proc.stderr
    results = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert list(results) == list(probes), proc.stdout
    return results


def filters(tmp_path: Path, *interfaces: str, devmode: bool = False) -> tuple[Path, ...]:
    return cached_filter(tmp_path / "seccomp", default_template(),
                         {name: snippet_for(name) for name in interfaces}, devmode=devmode)


@pytest.fixture(scope="module")
def baseline() -> dict[str, str]:
    return run_probes(())


def test_the_filter_is_what_denies(baseline: dict[str, str]) -> None:
    # Without a filter the kernel answers these itself, differently: the filter tests
    # below would otherwise prove nothing for them.
    for probe in ("mount", "umount2", "unshare-user", "unshare-nothing", "setns", "keyctl",
                  "add_key", "bpf", "ptrace-attach", "perf_event_open", "init_module",
                  "finit_module", "delete_module", "kexec_load", "openat2", "open_tree",
                  "socket-netlink-route", "listen", "tioclinux", "chmod-setuid", "clone3",
                  "i386-mount"):
        assert baseline[probe] not in ("EPERM", "EACCES"), (probe, baseline[probe])
    for probe in ALLOWED:
        assert baseline[probe] == "ok", probe


def test_enforcing(tmp_path: Path, baseline: dict[str, str]) -> None:
    results = run_probes(filters(tmp_path))
    for probe in IMPLICITLY_DENIED:
        assert results[probe] == "EPERM", probe
    for probe in EXPLICITLY_DENIED:
        assert results[probe] == "EACCES", probe
    for probe in ALLOWED:
        assert results[probe] == "ok", probe
    # glibc falls back from clone3 to clone on ENOSYS: fork and threads above worked.
    assert results["clone3"] == "ENOSYS"


def test_compat_architectures(tmp_path: Path, baseline: dict[str, str]) -> None:
    if baseline["i386-getpid"] != "ok":
        pytest.skip(f"no 32-bit x86 emulation in this kernel: {baseline['i386-getpid']}")
    results = run_probes(filters(tmp_path), (*I386, *X32))
    assert [results[probe] for probe in I386] == ["ok", "EPERM", "EACCES", "EPERM"]
    # x32 calls meet the same rules; the kernel may have x32 itself disabled (ENOSYS).
    assert results["x32-getpid"] == baseline["x32-getpid"] and results["x32-getpid"] in (
        "ok", "ENOSYS")
    assert results["x32-unshare-user"] == "EPERM"


@pytest.mark.parametrize(("interface", "opens"), [
    ("network", {"socket-netlink-route"}),
    ("network-bind", {"socket-netlink-route", "listen"}),
    ("x11", {"socket-netlink-uevent"}),
    ("hardware-observe", {"socket-netlink-uevent"}),
    ("home", set()),
])
def test_interfaces(tmp_path: Path, interface: str, opens: set[str]) -> None:
    probes = ("socket-netlink-route", "socket-netlink-uevent", "listen", "tiocsti", "mount")
    results = run_probes(filters(tmp_path, interface), probes)
    assert {probe for probe, result in results.items() if result == "ok"} == opens
    assert results["tiocsti"] == "EACCES" and results["mount"] == "EPERM"


def test_devmode_logs_instead_of_denying(tmp_path: Path, baseline: dict[str, str]) -> None:
    # @complain: what the allow list lacks is logged and reaches the kernel, which
    # answers as without a filter; explicit denials still hold, as with snap-seccomp.
    results = run_probes(filters(tmp_path, devmode=True))
    for probe in IMPLICITLY_DENIED:
        if probe not in ("unshare-user", "openat2"):
            assert results[probe] == baseline[probe], probe
    for probe in (*EXPLICITLY_DENIED, "unshare-user", "openat2"):
        assert results[probe] == "EACCES", probe
    assert results["clone3"] == "ENOSYS"
    for probe in ALLOWED:
        assert results[probe] == "ok", probe
