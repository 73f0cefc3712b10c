"""``usersnap run [--shell] NAME[.APP] [ARGS…]``: the launch path.

Kept lean on purpose (no trio, no FUSE session, no argparse sub-parsers).  A warm run replays
the app's run-cache record (``sandbox.runcache``) when nothing it was planned from
changed, importing only the standard library's C modules.  Otherwise it plans: it asks
the daemon which revision is current (starting the daemon, and so the mount, when
needed), reads that revision's snap.yaml through the FUSE mount, plans the sandbox,
records the plan and runs it.
"""

from __future__ import annotations

import os
import sys

from usersnap.errors import UsersnapError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    import argparse

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
    if not shell:
        from usersnap.sandbox.runcache import run_cached

        code = run_cached(os.environ, snap_name, app_name, args)
        if code is not None:
            return code
    return _planned(snap_name, app_name, args, shell=shell)


def _site_packages() -> None:
    """The generated launchers start Python without ``site`` (``-I -S``: half of
    Python's start-up); planning needs the environment's packages (PyYAML)."""
    if "site" not in sys.modules:
        import site

        site.main()


def _planned(snap_name: str, app_name: str, args: list[str], *, shell: bool) -> int:
    _site_packages()
    from usersnap.cli.installed import load_installed
    from usersnap.dirs import Dirs
    from usersnap.errors import NotFoundError
    from usersnap.ops.cookies import read_cookie
    from usersnap.sandbox.installed import plan_installed
    from usersnap.sandbox.launch import prepare_host_dirs, prepare_launch, run_prepared
    from usersnap.sandbox.runcache import save
    from usersnap.sandbox.runrecord import RecordingEnv, early_prints, make_record

    dirs = Dirs.from_env()
    early = early_prints(dirs)
    snap = load_installed(dirs, snap_name)
    info, revision, base_tree = snap.info, snap.revision, snap.base_tree
    app = info.apps.get(app_name)
    if app is None:
        raise NotFoundError(f'cannot find app "{app_name}" in "{snap_name}"')
    # Before planning: layouts look at $SNAP_DATA and $SNAP_COMMON as they will be.
    prepare_host_dirs(dirs, info.name, revision)
    env = RecordingEnv(os.environ)
    cookie = read_cookie(dirs, info.name)
    spec = plan_installed(dirs, info, revision, base_tree, app=app, args=args,
                          host_env=env, shell=shell, cookie=cookie)
    launch = prepare_launch(spec)
    if not shell:
        save(str(dirs.root), info.name, app_name, make_record(
            dirs, early, info, revision, base_tree, app, args, spec, launch, env, cookie))
    return run_prepared(spec, launch, run_lock=dirs.run_lock)
