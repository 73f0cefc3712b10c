"""``usersnap changes [NAME]``: snap's list of recent changes."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from usersnap.cli.render import human_time, parse_rfc3339, table
from usersnap.cli.session import daemon


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snap", nargs="?", metavar="NAME")


def when(value: object) -> str:
    stamp = parse_rfc3339(value)
    return "-" if stamp is None else human_time(stamp)


def execute(args: argparse.Namespace) -> int:
    query = {"select": "all"}
    if args.snap:
        query["for"] = args.snap
    changes: Any = daemon().get("/v2/changes", query)
    if not changes:
        print("no changes found", file=sys.stderr)
        return 0
    rows = [["ID", "Status", "Spawn", "Ready", "Summary"]]
    for c in sorted(changes, key=lambda c: str(c.get("spawn-time", ""))):
        rows.append([c["id"], c["status"], when(c.get("spawn-time")), when(c.get("ready-time")),
                     c["summary"]])
    print(table(rows) + "\n")
    return 0
