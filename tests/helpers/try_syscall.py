"""Try system calls and print what each returned: ``NAME ok`` or ``NAME EPERM``.

Run inside a sandbox by /usr/bin/python3 (stdlib only, nothing from usersnap), like
bubblewrap's tests/try-syscall.c but without a compiler at test time:

    try_syscall.py getpid mount tiocsti ...

Each probe makes one raw call (``syscall(2)`` or, for the ``i386-`` probes, ``int 0x80``
from a few bytes of machine code, so the kernel sees the 32-bit x86 ABI) with arguments
chosen so that the call is harmless if a filter lets it through: it then fails with
the kernel's own errno (ENOENT, EBADF, ...) or does nothing lasting.  Still, it refuses
to run outside a user namespace: a mistake in a probe must not reach the host as root.
Syscall numbers are x86_64's; other machines are refused.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable

CLONE_NEWUSER = 0x10000000
SIGCHLD = 17
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
TIOCGWINSZ = 0x5413
X32_BIT = 0x40000000
NOWHERE = b"/nonexistent/usersnap-try-syscall"
NO_PID = 0x3FFFFFFF
#: x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
NR = {
    "getpid": 39, "ioctl": 16, "unshare": 272, "clone": 56, "clone3": 435, "mount": 165,
    "umount2": 166, "pivot_root": 155, "keyctl": 250, "add_key": 248, "bpf": 321,
    "ptrace": 101, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
    "fsmount": 432, "fspick": 433, "mount_setattr": 442, "init_module": 175,
    "finit_module": 313, "delete_module": 176, "kexec_load": 246, "setns": 308,
    "chmod": 90, "openat2": 437, "perf_event_open": 298, "userfaultfd": 323,
    "listen": 50,
}
#: i386 numbers (syscall_32.tbl).
NR_I386 = {"getpid": 20, "mount": 21, "ioctl": 54, "unshare": 310, "keyctl": 288}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def raw(nr: int, *args: int | bytes) -> int:
    """``syscall(nr, args...)`` (bytes are passed as C strings): the result, or -errno."""
    c_args = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_ulong(a & (2**64 - 1))
              for a in args]
    ctypes.set_errno(0)
    result = _libc.syscall(ctypes.c_long(nr), *c_args)
    return -ctypes.get_errno() if result == -1 else int(result)


def call(name: str, *args: int | bytes) -> int:
    return raw(NR[name], *args)


_code_pages: list[mmap.mmap] = []


def i386(name: str, *args: int) -> int:
    """The 32-bit ABI through ``int 0x80``; -errno comes back in eax."""
    a1, a2, a3 = (*args, 0, 0, 0)[:3]
    code = (b"\x53"                                          # push rbx (callee-saved)
            + b"\xb8" + struct.pack("<I", NR_I386[name])     # mov eax, nr
            + b"\xbb" + struct.pack("<I", a1 & 0xFFFFFFFF)   # mov ebx, a1
            + b"\xb9" + struct.pack("<I", a2 & 0xFFFFFFFF)   # mov ecx, a2
            + b"\xba" + struct.pack("<I", a3 & 0xFFFFFFFF)   # mov edx, a3
            + b"\xcd\x80\x5b\xc3")                           # int 0x80; pop rbx; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    _code_pages.append(page)  # ctypes keeps a pointer into it
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return int(ctypes.CFUNCTYPE(ctypes.c_int)(address)())


def _pty_ioctl(cmd: int) -> int:
    primary, replica = os.openpty()
    try:
        buf = ctypes.create_string_buffer(b"x", 16)
        return call("ioctl", replica, cmd, ctypes.addressof(buf))
    finally:
        os.close(primary)
        os.close(replica)


def _clone_newuser() -> int:
    result = call("clone", CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
    if result == 0:  # the child, should the filter have let it through
        os._exit(0)
    if result > 0:
        os.waitpid(result, 0)
        return 0
    return result


def _socket(family: int, kind: int, proto: int = 0) -> int:
    try:
        socket.socket(family, kind, proto).close()
    except OSError as err:
        return -(err.errno or errno.EIO)
    return 0


def _listen() -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(b"\0usersnap-try-syscall-%d" % os.getpid())
        return call("listen", sock.fileno(), 1)


def _chmod(mode: int) -> int:
    with tempfile.NamedTemporaryFile() as f:
        return call("chmod", f.name.encode(), mode)


def _fork() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    return 0 if os.waitpid(pid, 0)[1] == 7 << 8 else -errno.ECHILD


def _thread() -> int:
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(1))
    thread.start()
    thread.join()
    return 0 if done else -errno.ECHILD


PROBES: dict[str, Callable[[], int]] = {
    "getpid": lambda: call("getpid"),
    "fork": _fork,
    "thread": _thread,
    "socket-unix": lambda: _socket(socket.AF_UNIX, socket.SOCK_STREAM),
    "socket-inet": lambda: _socket(socket.AF_INET, socket.SOCK_STREAM),
    "socket-netlink-route": lambda: _socket(socket.AF_NETLINK, socket.SOCK_RAW, 0),
    "socket-netlink-uevent": lambda: _socket(socket.AF_NETLINK, socket.SOCK_RAW, 15),
    "listen": _listen,
    "tiocgwinsz": lambda: _pty_ioctl(TIOCGWINSZ),
    "tiocsti": lambda: _pty_ioctl(TIOCSTI),
    "tiocsti-high-bits": lambda: _pty_ioctl((1 << 32) | TIOCSTI),
    "tioclinux": lambda: _pty_ioctl(TIOCLINUX),
    "unshare-user": lambda: call("unshare", CLONE_NEWUSER),
    "unshare-nothing": lambda: call("unshare", 0),
    "clone-newuser": _clone_newuser,
    "clone3": lambda: call("clone3", 0, 0),
    "setns": lambda: call("setns", -1, 0),
    "mount": lambda: call("mount", b"none", NOWHERE, b"tmpfs", 0, 0),
    "umount2": lambda: call("umount2", NOWHERE, 0),
    "pivot_root": lambda: call("pivot_root", NOWHERE, NOWHERE),
    "open_tree": lambda: call("open_tree", -100, b"/", 0),
    "move_mount": lambda: call("move_mount", -1, b"", -1, b"", 0),
    "fsopen": lambda: call("fsopen", b"usersnap-no-such-fs", 0),
    "fsconfig": lambda: call("fsconfig", -1, 0, 0, 0, 0),
    "fsmount": lambda: call("fsmount", -1, 0, 0),
    "fspick": lambda: call("fspick", -100, b"/", 0),
    "mount_setattr": lambda: call("mount_setattr", -1, b"", 0, 0, 0),
    "keyctl": lambda: call("keyctl", 0, 2**64 - 3, 0),  # GET_KEYRING_ID, session keyring
    "add_key": lambda: call("add_key", 0, 0, 0, 0, 0),
    "bpf": lambda: call("bpf", 0, 0, 0),
    "ptrace-attach": lambda: call("ptrace", 16, NO_PID, 0, 0),  # PTRACE_ATTACH
    "perf_event_open": lambda: call("perf_event_open", 0, 0, -1, -1, 0),
    "userfaultfd": lambda: call("userfaultfd", 0),
    "init_module": lambda: call("init_module", 0, 0, b""),
    "finit_module": lambda: call("finit_module", -1, b"", 0),
    "delete_module": lambda: call("delete_module", b"usersnap-no-such-module", 0),
    "kexec_load": lambda: call("kexec_load", 0, 0, 0, 0xFFFFFFFF),  # bad flags: EINVAL
    "chmod-plain": lambda: _chmod(0o755),
    "chmod-setuid": lambda: _chmod(0o4755),
    "openat2": lambda: call("openat2", -100, b"/", 0, 0),
    "i386-getpid": lambda: i386("getpid"),
    "i386-mount": lambda: i386("mount", 0, 0, 0),
    "i386-unshare-user": lambda: i386("unshare", CLONE_NEWUSER),
    "i386-tiocsti": lambda: i386("ioctl", -1, TIOCSTI, 0),
    "x32-getpid": lambda: raw(NR["getpid"] | X32_BIT),
    "x32-unshare-user": lambda: raw(NR["unshare"] | X32_BIT, CLONE_NEWUSER),
}


def describe(result: int) -> str:
    return errno.errorcode.get(-result, str(result)) if result < 0 else "ok"


def in_initial_user_namespace() -> bool:
    with open("/proc/self/uid_map", encoding="ascii") as f:
        return f.read().split() == ["0", "0", "4294967295"]


def main(names: list[str]) -> int:
    if in_initial_user_namespace():
        print("try_syscall: refusing to run outside a user namespace (run it under bwrap)",
              file=sys.stderr)
        return 2
    if platform.machine() != "x86_64":
        print(f"try_syscall: syscall numbers are x86_64's, not {platform.machine()}",
              file=sys.stderr)
        return 2
    for name in names:
        if name.startswith("comm="):  # names the process in the kernel's audit records
            _libc.prctl(15, name.removeprefix("comm=").encode(), 0, 0, 0)  # PR_SET_NAME
            continue
        # One line per probe, flushed, so a probe that kills the process still leaves
        # the earlier answers.
        print(name, describe(PROBES[name]()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
