"""``usersnap run [--shell] NAME[.APP] [ARGS…]``: the launch path.

Kept lean on purpose (no trio, no pyfuse3, no argparse sub-parsers): it asks the daemon
which revision is current (starting the daemon, and so the mount, when needed), reads
that revision's snap.yaml through the FUSE mount, plans the sandbox and runs it.
"""

from __future__ import annotations

import argparse
import os

from usersnap.cli.installed import load_installed
from usersnap.dirs import Dirs
from usersnap.errors import NotFoundError, UsersnapError
from usersnap.ops.cookies import read_cookie
from usersnap.sandbox.installed import plan_installed
from usersnap.sandbox.launch import prepare_host_dirs, run_sandboxed


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--shell", action="store_true",
                        help="run a shell instead of the command (useful for debugging)")
    parser.add_argument("target", metavar="NAME[.APP]")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")


def execute(args: argparse.Namespace) -> int:
    return launch(args.target, list(args.args), shell=args.shell)


def main(argv: list[str]) -> int:
    """Parse ``run``'s few options by hand: everything after NAME[.APP] belongs to the app."""
    shell = False
    while argv and argv[0].startswith("-"):
        opt = argv.pop(0)
        if opt == "--shell":
            shell = True
        elif opt == "--":
            break
        elif opt in ("-h", "--help"):
            print("usage: usersnap run [--shell] NAME[.APP] [ARGS...]")
            return 0
        else:
            raise UsersnapError(f"unknown flag `{opt.lstrip('-')}'")
    if not argv:
        raise UsersnapError("the required argument `<NAME>.<APP>` was not provided")
    return launch(argv[0], argv[1:], shell=shell)


def launch(target: str, args: list[str], *, shell: bool = False) -> int:
    snap_name, _, app_name = target.partition(".")
    app_name = app_name or snap_name
    dirs = Dirs.from_env()
    snap = load_installed(dirs, snap_name)
    info, revision, base_tree = snap.info, snap.revision, snap.base_tree
    app = info.apps.get(app_name)
    if app is None:
        raise NotFoundError(f'cannot find app "{app_name}" in "{snap_name}"')
    # Before planning: layouts look at $SNAP_DATA and $SNAP_COMMON as they will be.
    prepare_host_dirs(dirs, info.name, revision)
    spec = plan_installed(dirs, info, revision, base_tree, app=app, args=args,
                          host_env=os.environ, shell=shell, cookie=read_cookie(dirs, info.name))
    return run_sandboxed(spec, run_lock=dirs.run_lock)
