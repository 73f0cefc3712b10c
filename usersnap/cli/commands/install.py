"""``usersnap install [--dangerous] FILE…``: sideload local snap files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from usersnap.apps.launchers import bin_on_path, path_hint
from usersnap.cli.session import Spinner, daemon, wait
from usersnap.dirs import Dirs
from usersnap.errors import UnsignedError, UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="local .snap file")
    parser.add_argument("--dangerous", action="store_true",
                        help="install the given snap file even if there are no "
                             "pre-acknowledged signatures for it")
    parser.add_argument("--devmode", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait for the operation to finish but just print the change id")


def execute(args: argparse.Namespace) -> int:
    dirs = Dirs.from_env()
    for file in args.files:
        path = Path(file)
        if not path.is_file():
            if "/" not in file and not file.endswith(".snap"):
                raise UsersnapError(
                    f'cannot install "{file}": installing from the Snap Store is not '
                    "supported yet; give a local .snap file")
            raise UsersnapError(f'cannot open "{file}": no such file')
        if not args.dangerous:
            raise UnsignedError(f'cannot find signatures with metadata for snap "{file}"')
    client = daemon(dirs)
    for file in args.files:
        bar = Spinner() if sys.stdout.isatty() and not args.no_wait else None
        try:
            change_id = client.upload_snap(
                Path(file), {"action": "install", "snap-path": file, "dangerous": "true"},
                on_progress=bar.transfer(f"Transfer {Path(file).name}") if bar else None)
        finally:
            if bar is not None:
                bar.clear()
        change = wait(client, change_id, no_wait=args.no_wait)
        if change is None:
            continue
        name = str(change.get("data", {}).get("snap-name", ""))
        snap = client.get(f"/v2/snaps/{name}")
        assert isinstance(snap, dict)
        print(f"{snap['name']} {snap['version']} installed")
    if not bin_on_path(dirs):
        print(path_hint(dirs), file=sys.stderr)
    return 0
