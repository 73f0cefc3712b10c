"""``usersnap known TYPE [HEADER=VALUE…]``: print the assertions known, as snap known."""

from __future__ import annotations

import argparse
import sys

from usersnap.cli.session import daemon
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("type", metavar="<assertion type>", help="assertion type name")
    parser.add_argument("filters", nargs="*", metavar="<header>=<value>",
                        help="constrain listing to those matching header=value")


def execute(args: argparse.Namespace) -> int:
    query: dict[str, str] = {}
    for item in args.filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsersnapError(f'invalid header filter: "{item}" (want key=value)')
        query[key] = value
    data = daemon(Dirs.from_env()).get_bytes(f"/v2/assertions/{args.type}", query)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0
