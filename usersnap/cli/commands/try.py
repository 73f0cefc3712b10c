"""``usersnap try [DIR]``: run an unpacked snap in place, as ``snap try`` does.

The directory becomes a new local revision served live from where it is, so an author's
edits to scripts, data and snap.yaml (layouts included) apply at the next run without
packing.  Like snap, the directory defaults to ``prime`` in a snapcraft project, or to
the current directory when it holds ``meta/snap.yaml``; the daemon gets its absolute
path as the multipart form ``snap try`` sends.
"""

from __future__ import annotations

import argparse
import os

from usersnap.cli.session import add_no_wait, daemon, wait
from usersnap.dirs import Dirs
from usersnap.errors import SnapFileError, UsersnapError

#: Where snapcraft keeps its project file (cmd/snap/cmd_snap_op.go: hasSnapcraftYaml).
SNAPCRAFT_YAMLS = ("snap/snapcraft.yaml", "snapcraft.yaml", ".snapcraft.yaml",
                   "build-aux/snap/snapcraft.yaml")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("dir", nargs="?", default="", metavar="DIR",
                        help="the unpacked snap (default: prime/ of a snapcraft project, "
                             "or the current directory)")
    parser.add_argument("--devmode", action="store_true", help=argparse.SUPPRESS)
    add_no_wait(parser)


def infer_dir(cwd: str) -> str:
    """snap's guess when no directory is given."""
    if any(os.path.isfile(os.path.join(cwd, y)) for y in SNAPCRAFT_YAMLS) and os.path.isdir(
        os.path.join(cwd, "prime")
    ):
        return "prime"
    if os.path.exists(os.path.join(cwd, "meta", "snap.yaml")):
        return "./"
    raise UsersnapError("the `<snap-dir>` argument was not provided and couldn't be inferred")


def execute(args: argparse.Namespace) -> int:
    dirs = Dirs.from_env()
    given = args.dir or infer_dir(os.getcwd())
    path = os.path.abspath(given)
    client = daemon(dirs)
    try:
        change_id = client.post_form("/v2/snaps", {"action": "try", "snap-path": path})
    except SnapFileError as err:  # snapd's "not a snap" kind: say what to do instead
        shown = given if given not in ("", "./") else str(err.value or path)
        raise UsersnapError(
            f'"{shown}" does not contain an unpacked snap. Try \'snapcraft prime\' in your '
            "project directory, then 'usersnap try' again.") from None
    change = wait(client, change_id, no_wait=args.no_wait)
    if change is None:
        return 0
    name = str(change.get("data", {}).get("snap-name", ""))
    snaps = client.get("/v2/snaps", {"snaps": name})
    if not isinstance(snaps, list) or len(snaps) != 1:
        raise UsersnapError(f'cannot get data for "{name}": {snaps}')
    print(f"{name} {snaps[0]['version']} mounted from {path}")
    return 0
