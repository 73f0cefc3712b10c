"""``usersnap abort ID``: stop a change; what it did is undone (snap abort)."""

from __future__ import annotations

import argparse

from usersnap.cli.session import daemon


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("change", metavar="ID")


def execute(args: argparse.Namespace) -> int:
    daemon().post(f"/v2/changes/{args.change}", {"action": "abort"})
    return 0
