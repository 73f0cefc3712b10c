"""``usersnap ack FILE``: add assertions to the system assertion database, as snap ack."""

from __future__ import annotations

import argparse
from pathlib import Path

from usersnap.cli.session import daemon
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("file", metavar="<assertion file>",
                        help="assertion file (a stream of assertions)")


def execute(args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as e:
        raise UsersnapError(f"cannot read assertion input: {e.strerror}") from None
    try:
        daemon(Dirs.from_env()).post_bytes("/v2/assertions", data,
                                           "application/x.ubuntu.assertion")
    except UsersnapError as e:
        raise UsersnapError(f"cannot assert: {e.message}") from None
    return 0
