"""``usersnap debug paths``: where this usersnap root keeps things (like snap debug paths)."""

from __future__ import annotations

import argparse

from usersnap.dirs import Dirs


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    sub = parser.add_subparsers(dest="debug_command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("paths", help="print system paths")


def paths(dirs: Dirs) -> dict[str, str]:
    return {
        "USERSNAP_ROOT": str(dirs.root),
        "USERSNAP_MOUNT": str(dirs.mount),
        "USERSNAP_BIN": str(dirs.bin),
        "USERSNAP_SOCKET": str(dirs.socket),
        "USERSNAP_SNAP_SOCKET": str(dirs.snap_socket),
        "USERSNAP_RUNTIME": str(dirs.runtime),
        "USERSNAP_STATE": str(dirs.state_file),
    }


def execute(args: argparse.Namespace) -> int:
    for key, value in paths(Dirs.from_env()).items():
        print(f"{key}={value}")
    return 0
