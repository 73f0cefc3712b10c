"""``usersnap refresh [NAME…] [--channel=C]`` and ``refresh --list``: newer revisions
from the store, through usersnapd (snap's cmdRefresh)."""

from __future__ import annotations

import argparse
import sys

from usersnap.cli.commands.install import show_done
from usersnap.cli.render import human_size, short_publisher, table
from usersnap.cli.session import add_no_wait, daemon, start, wait
from usersnap.errors import NoUpdateAvailableError, UsersnapError
from usersnap.store.channels import parse_channel


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snaps", nargs="*", metavar="NAME")
    parser.add_argument("--channel", help="use this channel instead of the one tracked")
    parser.add_argument("--list", action="store_true",
                        help="show the available snap refreshes")
    add_no_wait(parser)


def execute(args: argparse.Namespace) -> int:
    if args.list:
        if args.snaps or args.channel:
            raise UsersnapError("--list does not accept additional arguments")
        return _list()
    if args.channel is not None:
        if len(args.snaps) != 1:
            raise UsersnapError("a single snap name is needed to specify mode or channel flags")
        parse_channel(args.channel)
    client = daemon()
    if len(args.snaps) == 1:
        body: dict[str, object] = {"action": "refresh"}
        if args.channel:
            body["channel"] = args.channel
        try:
            change_id = start(client, f"/v2/snaps/{args.snaps[0]}", body)
        except NoUpdateAvailableError as err:  # said, not failed (snap's errorToCmdMessage)
            print(err.message, file=sys.stderr)
            return 0
    else:
        change_id = start(client, "/v2/snaps", {"action": "refresh", "snaps": args.snaps})
    change = wait(client, change_id, no_wait=args.no_wait)
    if change is None:
        return 0
    names = [str(n) for n in (change.get("data") or {}).get("snap-names") or []]
    if not names:
        print("All snaps up to date.", file=sys.stderr)
    for name in sorted(names):
        show_done(client.get(f"/v2/snaps/{name}"), "refreshed")
    return 0


def _list() -> int:
    found = daemon().get("/v2/find", {"select": "refresh"})
    assert isinstance(found, list)
    if not found:
        print("All snaps up to date.", file=sys.stderr)
        return 0
    rows = [["Name", "Version", "Rev", "Size", "Publisher", "Notes"]]
    rows += [[str(s["name"]), str(s.get("version") or "-"), str(s["revision"]),
              human_size(int(s.get("download-size", 0))), short_publisher(s.get("publisher")),
              "-"] for s in sorted(found, key=lambda s: str(s["name"]))]
    print(table(rows))
    return 0
