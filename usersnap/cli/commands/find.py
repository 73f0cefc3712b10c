"""``usersnap find QUERY``: search the store through usersnapd, as snap find does."""

from __future__ import annotations

import argparse
import sys

from usersnap.cli.render import short_publisher, table
from usersnap.cli.session import daemon


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("query", metavar="<query>")


def execute(args: argparse.Namespace) -> int:
    found = daemon().get("/v2/find", {"q": args.query})
    assert isinstance(found, list)
    if not found:
        print(f'No matching snaps for "{args.query}"', file=sys.stderr)
        return 0
    rows = [["Name", "Version", "Publisher", "Notes", "Summary"]]
    rows += [[str(s["name"]), str(s.get("version") or "-"), short_publisher(s.get("publisher")),
              "-", str(s.get("summary", ""))] for s in found]
    print(table(rows))
    return 0
