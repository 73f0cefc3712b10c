"""bubblewrap's command line for a :class:`~usersnap.sandbox.plan.SandboxSpec`.

Everything but the command goes through ``--args FD`` (NUL-separated, read from a memfd
by bwrap): argv limits stop mattering and the environment stays out of ``ps``.  The
environment is given with ``--setenv`` and bwrap itself runs with an empty one, so
nothing meant for the app (an ``LD_LIBRARY_PATH`` into $SNAP, say) affects bwrap.

The fds are fixed numbers the launcher dup2s into place, which keeps this pure:
``ARGS_FD`` the options, ``STATUS_FD`` bwrap's ``--json-status-fd`` (the sandbox's pid 1,
and the app's exit code only if the app was really exec'd, which tells a launch failure
from an app that exits 1), ``SYNC_FD`` the run lock, which bwrap's pid 1 keeps open for
as long as anything runs in the sandbox, and, for a snap with layouts, ``BLOCK_FD``:
bwrap waits on it, its namespace built, until the launcher has applied the layouts.
From ``PINNED_FD`` on, the sources of ``ops.PinnedBind`` ($HOME's entries), at most
``MAX_PINNED`` of them.

Namespaces: user, pid, ipc, uts, cgroup (if possible); the network is shared only when
``network`` or ``network-bind`` is connected (``SandboxSpec.share_net``).
``--disable-userns`` where bwrap has it: no new user namespace inside, even if seccomp
were lifted (not with layouts: the launcher could no longer join the namespace to apply
them; the seccomp filter still denies it).  No ``--new-session``: it detaches the app
from the terminal, so Ctrl-C and job control stop working; the TIOCSTI/TIOCLINUX
injection it prevents is denied by the seccomp filter instead, as snapd does.
No ``--die-with-parent``: the launcher's docstring (launch.py) says why.

Seccomp: the launcher opens the cached programs and dup2s them to ``SECCOMP_FD``,
``SECCOMP_FD + 1``, ...; each is one ``--add-seccomp-fd``, in load order (deny, allow).
"""

from __future__ import annotations

import os

from usersnap.errors import SEE_DOCTOR, SandboxError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from usersnap.sandbox.plan import SandboxSpec

ARGS_FD = 3
STATUS_FD = 4
SYNC_FD = 5
BLOCK_FD = 6
SECCOMP_FD = 7
PINNED_FD = 16
MAX_PINNED = 256
#: The launcher's own copies of the fds go from here, above every fd number above.
FIRST_FREE_FD = PINNED_FD + MAX_PINNED
NAMESPACES = (
    "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
)


class Hardening:
    """What the launcher found out about bwrap and the caller, and the filter it loads.

    A plain class: this module is on the cached launch path, which skips dataclasses.
    """

    __slots__ = ("disable_userns", "seccomp_programs")

    def __init__(self, seccomp_programs: int = 0, disable_userns: bool = False) -> None:
        #: how many seccomp programs sit at SECCOMP_FD, SECCOMP_FD + 1, ...
        self.seccomp_programs = seccomp_programs
        self.disable_userns = disable_userns


def head_options(spec: SandboxSpec, hardening: Hardening | None = None) -> list[str]:
    """The options before the environment: everything that does not change from one
    run to the next (the run cache keeps them)."""
    hardening = hardening or Hardening()
    options = [
        *NAMESPACES,
        "--uid", str(spec.uid), "--gid", str(spec.gid),
        "--json-status-fd", str(STATUS_FD),
        "--sync-fd", str(SYNC_FD),
    ]
    if not spec.share_net:  # ``network`` not connected: only a loopback of its own
        options.append("--unshare-net")
    if hardening.disable_userns:
        options.append("--disable-userns")
    for index in range(hardening.seccomp_programs):
        options += ["--add-seccomp-fd", str(SECCOMP_FD + index)]
    if spec.layout_ops:
        options += ["--block-fd", str(BLOCK_FD)]
    for op in spec.ops:
        options += op.to_args()
    return options


def tail_options(env: Mapping[str, str], cwd: str | None) -> list[str]:
    """The options after :func:`head_options`: the environment, sorted, and the cwd."""
    options = []
    for name in sorted(env):
        options += ["--setenv", name, env[name]]
    if cwd is not None:
        options += ["--chdir", cwd]
    return options


def bwrap_options(spec: SandboxSpec, hardening: Hardening | None = None) -> list[str]:
    """The options that go through ``--args``, in order."""
    return head_options(spec, hardening) + tail_options(spec.env, spec.cwd)


def pack_args(options: Sequence[str]) -> bytes:
    """The blob bwrap reads from ``--args``: NUL-terminated arguments."""
    return b"".join(os.fsencode(arg) + b"\0" for arg in options)


def bwrap_command(argv: Sequence[str]) -> list[str]:
    """bwrap's own argv (argv[0] is ``bwrap``): everything else is in the ``--args`` blob."""
    return ["bwrap", "--args", str(ARGS_FD), "--", *argv]


def bwrap_argv(spec: SandboxSpec, hardening: Hardening | None = None
               ) -> tuple[list[str], bytes]:
    """bwrap's argv and the blob to serve on ``ARGS_FD``."""
    return bwrap_command(spec.argv), pack_args(bwrap_options(spec, hardening))


def find_bwrap(path_env: str | None = None) -> str:
    """bwrap on PATH (never a fixed path: distros and users install it in different places)."""
    path_env = os.environ.get("PATH", os.defpath) if path_env is None else path_env
    for directory in path_env.split(os.pathsep):
        candidate = os.path.join(directory or ".", "bwrap")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SandboxError(
        "cannot find bubblewrap (bwrap) on PATH; install it, e.g. sudo apt-get install "
        f"bubblewrap{SEE_DOCTOR}")
