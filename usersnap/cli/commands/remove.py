"""``usersnap remove NAME… [--revision R] [--purge]``."""

from __future__ import annotations

import argparse

from usersnap.cli.session import add_no_wait, daemon, start, wait
from usersnap.errors import UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snaps", nargs="+", metavar="NAME")
    parser.add_argument("--revision", help="remove only the given revision")
    parser.add_argument("--purge", action="store_true",
                        help="remove the snap without saving a snapshot of its data")
    add_no_wait(parser)


def execute(args: argparse.Namespace) -> int:
    if args.revision and len(args.snaps) > 1:
        raise UsersnapError("a single snap name is needed to specify the revision")
    client = daemon()
    for name in args.snaps:
        body: dict[str, object] = {"action": "remove"}
        if args.revision:
            body["revision"] = args.revision
        if args.purge:
            body["purge"] = True
        change_id = start(client, f"/v2/snaps/{name}", body)
        if wait(client, change_id, no_wait=args.no_wait) is None:
            continue
        print(f"{name} (revision {args.revision}) removed" if args.revision else f"{name} removed")
    return 0
