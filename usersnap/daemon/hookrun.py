"""``python -m usersnap.daemon.hookrun --hook NAME -r REV SNAP``: one hook, confined.

snapd's ``snap run --hook``: usersnapd starts this for every hook (see
:mod:`usersnap.daemon.hooks`), with ``SNAP_COOKIE`` set to the hook's context.  It reads
the revision's snap.yaml through the FUSE mount (implicit hooks included), plans the
sandbox for the hook and runs it with the same launcher as ``usersnap run``; its exit
status is the hook's.  It never talks to the daemon: during an install the revision is
not current yet.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError
from usersnap.meta.model import SnapInfo
from usersnap.meta.parse import parse_snap_yaml
from usersnap.sandbox.installed import plan_installed
from usersnap.sandbox.launch import prepare_host_dirs, run_sandboxed
from usersnap.sandbox.plan import base_name


def load_revision(dirs: Dirs, snap: str, revision: str) -> tuple[SnapInfo, Path | None]:
    """The revision's metadata read through the FUSE mount, and its base's tree if the
    base is installed (shared with :mod:`usersnap.daemon.svcrun`)."""
    tree = dirs.mount / snap / revision
    try:
        data = (tree / "meta" / "snap.yaml").read_bytes()
        hook_files = os.listdir(tree / "meta" / "hooks") if (tree / "meta" / "hooks").is_dir() \
            else []
    except OSError as err:
        raise UsersnapError(f"cannot read snap.yaml of {snap} {revision}: {err.strerror}"
                            ) from err
    info = parse_snap_yaml(data, hook_names=hook_files)
    base_tree: Path | None = None
    if (dirs.mount / base_name(info) / "current").is_dir():
        base_tree = (dirs.mount / base_name(info) / "current").resolve()
    return info, base_tree


def run(dirs: Dirs, snap: str, revision: str, hook_name: str, cookie: str) -> int:
    info, base_tree = load_revision(dirs, snap, revision)
    hook = info.hooks.get(hook_name)
    if hook is None:
        raise UsersnapError(f'cannot find hook "{hook_name}" in "{snap}"')
    prepare_host_dirs(dirs, info.name, revision)
    spec = plan_installed(dirs, info, revision, base_tree, hook=hook, host_env=os.environ,
                          cookie=cookie)
    # the base fallback notice is for a terminal: in a hook it would become the output
    # snapd reports when the hook fails
    return run_sandboxed(replace(spec, notices=()), run_lock=dirs.run_lock)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usersnap-hookrun", description=__doc__)
    parser.add_argument("--hook", required=True)
    parser.add_argument("-r", dest="revision", required=True)
    parser.add_argument("snap")
    args = parser.parse_args(argv)
    cookie = os.environ.get("SNAP_COOKIE", "")
    try:
        return run(Dirs.from_env(), args.snap, args.revision, args.hook, cookie)
    except UsersnapError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
