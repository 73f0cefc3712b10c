"""``usersnap revert NAME [--revision R]``: make an earlier kept revision current."""

from __future__ import annotations

import argparse

from usersnap.cli.session import add_no_wait, daemon, start, wait


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snap", metavar="NAME")
    parser.add_argument("--revision", help="revert to the given revision")
    add_no_wait(parser)


def execute(args: argparse.Namespace) -> int:
    client = daemon()
    body: dict[str, object] = {"action": "revert"}
    if args.revision:
        body["revision"] = args.revision
    change_id = start(client, f"/v2/snaps/{args.snap}", body)
    if wait(client, change_id, no_wait=args.no_wait) is None:
        return 0
    snap = client.get(f"/v2/snaps/{args.snap}")
    assert isinstance(snap, dict)
    print(f"{args.snap} reverted to {snap['version']}")
    return 0
