"""``usersnap tasks ID`` and ``usersnap watch ID``."""

from __future__ import annotations

import argparse
from typing import Any

from usersnap.cli.commands.changes import when
from usersnap.cli.render import table
from usersnap.cli.session import daemon, wait


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("change", metavar="ID")
    parser.set_defaults(watch=name == "watch")


def execute(args: argparse.Namespace) -> int:
    client = daemon()
    if args.watch:
        wait(client, args.change)
        return 0
    change: Any = client.get(f"/v2/changes/{args.change}")
    rows = [["Status", "Spawn", "Ready", "Summary"]]
    rows += [[t["status"], when(t.get("spawn-time")), when(t.get("ready-time")), t["summary"]]
             for t in change.get("tasks", [])]
    print(table(rows))
    for t in change.get("tasks", []):
        if t.get("log"):
            print("\n......................................................................")
            print(t["summary"] + "\n")
            print("\n".join(t["log"]))
    return 0
