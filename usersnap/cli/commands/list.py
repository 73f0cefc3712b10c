"""``usersnap list [--all] [NAME…]``: snap's table of installed snaps."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from usersnap.cli.render import short_publisher, table
from usersnap.cli.session import daemon
from usersnap.errors import UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snaps", nargs="*", metavar="NAME")
    parser.add_argument("--all", action="store_true", help="show all revisions")


def notes(snap: dict[str, Any]) -> str:
    """snap's Notes column (cmd/snap/cmd_list.go: NotesFromLocal)."""
    out = []
    kind = snap.get("type", "")
    if kind == "os":
        out.append("core")
    elif kind not in ("", "app"):
        out.append(kind)
    if snap.get("status") != "active":
        out.append("disabled")
    if snap.get("devmode"):
        out.append("devmode")
    if snap.get("confinement") == "classic" and not snap.get("jailmode"):
        out.append("classic")
    if snap.get("trymode"):
        out.append("try")
    if snap.get("broken"):
        out.append("broken")
    return ",".join(out) or "-"


def execute(args: argparse.Namespace) -> int:
    query = {"select": "all"} if args.all else {}
    if args.snaps:
        query["snaps"] = ",".join(args.snaps)
    snaps = daemon().get("/v2/snaps", query)
    assert isinstance(snaps, list)
    if not snaps:
        if args.snaps:
            raise UsersnapError("no matching snaps installed")
        print("No snaps are installed yet. Try 'usersnap install --dangerous FILE'.",
              file=sys.stderr)
        return 0
    rows = [["Name", "Version", "Rev", "Tracking", "Publisher", "Notes"]]
    for s in sorted(snaps, key=lambda s: str(s["name"])):
        rows.append([s["name"], s.get("version") or "-", str(s["revision"]),
                     s.get("tracking-channel") or "-", short_publisher(s.get("publisher")),
                     notes(s)])
    print(table(rows))
    return 0
