"""``usersnap version``: like ``snap version``, with the daemon's answer."""

from __future__ import annotations

import argparse
import platform

from usersnap import __version__
from usersnap.cli.render import table
from usersnap.cli.session import daemon


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    pass


def execute(args: argparse.Namespace) -> int:
    info = daemon().get("/v2/system-info")
    assert isinstance(info, dict)
    osr = info.get("os-release") or {}
    rows = [
        ["usersnap", __version__],
        ["usersnapd", str(info.get("version", "-"))],
        ["series", str(info.get("series", "-"))],
        [str(osr.get("id", "-")), str(osr.get("version-id") or "-")],
        ["kernel", str(info.get("kernel-version") or platform.release())],
    ]
    extra = info.get("usersnap")
    if isinstance(extra, dict) and extra.get("cgroup"):
        rows.append(["cgroup", str(extra["cgroup"])])
    if isinstance(extra, dict) and extra.get("served-from") == "extracted":
        rows.append(["snaps", f"extracted copies, not FUSE ({extra.get('no-fuse-reason')})"])
    print(table(rows))
    return 0
