"""``python -m usersnap.daemon.svcrun SNAP APP -r REV [--command stop|reload|post-stop]``.

One service run, confined: usersnapd starts this for every service start (see
:mod:`usersnap.daemon.supervisor`), in a session of its own, its stdout and stderr
going to the service's log.  It plans the sandbox for the app (or for its
``stop-command``/``reload-command``/``post-stop-command``) and runs it with the same
launcher as ``usersnap run``, which forwards the stop signal to the main process.

Then, as systemd does with the unit's cgroup: a ``simple``, ``notify`` or ``oneshot``
service is over when its main process is, so whatever it left in the sandbox is killed;
a ``forking`` one whose main process exited 0 lives on until the sandbox is empty (the
launcher is a subreaper: the sandbox's init is reparented to it), signals sent to this
process going to every process left.  The exit status is the main process's (128+N when
it was killed by N); a forking service's leftovers ending report 1, since their own
status cannot be seen from outside the sandbox's pid namespace.  A ``notify`` service (or
one with ``watchdog-timeout``) gets ``$NOTIFY_SOCKET``, a datagram socket the supervisor
binds in the snap's private XDG_RUNTIME_DIR.  A socket-activated one gets the listening
sockets usersnapd passed (``--listen FD:NAME``) as fds 3, 4, ... with ``LISTEN_FDS``,
``LISTEN_PID`` and ``LISTEN_FDNAMES``.  With ``--cgroup PATH`` (a delegated cgroup the
supervisor made for the service) it moves itself there first, so that bwrap and every
process of the service start in it.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

from usersnap.daemon import cgroups
from usersnap.daemon.hookrun import load_revision
from usersnap.daemon.supervisor_procs import descendants, signal_all
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.ops.cookies import read_cookie
from usersnap.sandbox.installed import plan_installed
from usersnap.sandbox.launch import prepare_host_dirs, run_sandboxed
from usersnap.sandbox.process import FORWARDED

COMMANDS = {"stop": "stop_command", "reload": "reload_command",
            "post-stop": "post_stop_command"}


#: where the listening sockets wait in the launcher and bwrap: above the fds bwrap is
#: given (3-9) and below what a sandboxed shell cannot name
_LISTEN_HIGH = 50
#: systemd's SD_LISTEN_FDS_START
LISTEN_FDS_START = 3


def socket_activation(env: Mapping[str, str], argv: Sequence[str], fds: Sequence[int],
                      names: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """systemd's socket passing, done in the sandbox: bwrap passes inherited fds on but
    cannot renumber them, so a shell (bash: dash names only fds 0-9) puts them at 3, 4,
    ... and sets ``LISTEN_PID`` to its own pid, which the service keeps by ``exec``
    (its pid in the sandbox's pid namespace, as ``sd_listen_fds`` checks)."""
    moves = [f"{LISTEN_FDS_START + i}<&{fd}" for i, fd in enumerate(fds)]
    closes = [f"{fd}<&-" for fd in fds]
    script = f'exec {" ".join(moves + closes)}; export LISTEN_PID=$$; exec "$@"'
    env = {**env, "LISTEN_FDS": str(len(fds)), "LISTEN_FDNAMES": ":".join(names)}
    return env, ("/bin/bash", "-c", script, "usersnap-listen", *argv)


def notify_name(app: str) -> str:
    """The sd_notify socket's name in the snap's XDG_RUNTIME_DIR."""
    return f".notify.{app}"


def run(dirs: Dirs, snap: str, app_name: str, revision: str, command: str = "",
        listen: Sequence[tuple[int, str]] = ()) -> int:
    """``listen``: the listening sockets usersnapd passed (fd, socket name)."""
    info, base_tree = load_revision(dirs, snap, revision)
    app = info.apps.get(app_name)
    if app is None or not app.daemon:
        raise UsersnapError(f'snap "{snap}" has no service "{app_name}"')
    if command:
        app = replace(app, command=getattr(app, COMMANDS[command]))
    prepare_host_dirs(dirs, info.name, revision)
    spec = plan_installed(dirs, info, revision, base_tree, app=app, host_env=os.environ,
                          cookie=read_cookie(dirs, info.name))
    spec = replace(spec, notices=())
    if not command and (app.daemon == "notify" or app.watchdog_timeout):
        # the supervisor listens there (the snap's XDG_RUNTIME_DIR, bound in the sandbox)
        spec = replace(spec, env={**spec.env, "NOTIFY_SOCKET": "{}/{}".format(
            spec.env["XDG_RUNTIME_DIR"], notify_name(app_name))})
    if listen:
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, _LISTEN_HIGH) for fd, _ in listen]
        for fd, _ in listen:
            os.close(fd)
        env, argv = socket_activation(spec.env, spec.argv, high, [n for _, n in listen])
        spec = replace(spec, env=env, argv=argv)
    code = run_sandboxed(spec, run_lock=dirs.run_lock)
    if command or app.daemon != "forking" or code != 0:
        signal_all(descendants(os.getpid()), signal.SIGKILL)
        return code
    return _wait_for_leftovers()


def _wait_for_leftovers() -> int:
    """A forking daemon runs on in the sandbox: wait for it, passing signals on."""
    waited = FORWARDED | {signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            return 1
        info = signal.sigtimedwait(waited, 1.0)
        if info is not None and info.si_signo in FORWARDED:
            signal_all(descendants(os.getpid()), info.si_signo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usersnap-svcrun", description=__doc__)
    parser.add_argument("-r", dest="revision", required=True)
    parser.add_argument("--command", choices=sorted(COMMANDS), default="")
    parser.add_argument("--listen", action="append", default=[], metavar="FD:NAME",
                        help="a listening socket passed by usersnapd")
    parser.add_argument("--cgroup", default="", metavar="PATH",
                        help="the service's cgroup, to run in")
    parser.add_argument("snap")
    parser.add_argument("app")
    args = parser.parse_args(argv)
    if args.cgroup:
        try:
            cgroups.enter(args.cgroup)
        except OSError as err:
            print(f"error: cannot enter cgroup {args.cgroup}: {err.strerror or err}",
                  file=sys.stderr)
            return 1
    try:
        listen = [(int(fd), name) for fd, _, name in
                  (item.partition(":") for item in args.listen)]
        return run(Dirs.from_env(), args.snap, args.app, args.revision, args.command, listen)
    except UsersnapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
