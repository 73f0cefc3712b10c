"""``usersnap info NAME|FILE``: snap's info layout, for an installed snap or a file."""

from __future__ import annotations

import argparse
import os
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from usersnap.cli.commands.list import notes
from usersnap.cli.render import human_size, human_time, long_publisher, parse_rfc3339
from usersnap.cli.session import daemon
from usersnap.meta.model import SnapInfo


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snaps", nargs="+", metavar="NAME|FILE")
    parser.add_argument("--verbose", action="store_true", help="include more details")


def execute(args: argparse.Namespace) -> int:
    blocks = []
    for arg in args.snaps:
        path = Path(arg)
        if path.is_file() or "/" in arg or arg.endswith(".snap"):
            blocks.append(file_info(path, arg))
        else:
            blocks.append(installed_info(daemon().get(f"/v2/snaps/{arg}"), args.verbose))
    print("---\n".join(blocks), end="")
    return 0


def _description(text: str) -> list[str]:
    body = text.strip() or "-"
    return ["description: |", *textwrap.indent(body, "  ").splitlines()]


def _commands(snap: str, apps: Iterable[tuple[str, str]]) -> list[str]:
    """snap's ``commands:`` and ``services:`` sections from (app, daemon) pairs."""
    apps = list(apps)
    lines = []
    cmds = [a for a, d in apps if not d]
    svcs = [(a, d) for a, d in apps if d]
    if cmds:
        lines.append("commands:")
        lines += [f"  - {snap if a == snap else f'{snap}.{a}'}" for a in cmds]
    if svcs:
        lines.append("services:")
        lines += [f"  {snap}.{a}: {d}" for a, d in svcs]
    return lines


def installed_info(snap: Any, verbose: bool) -> str:
    assert isinstance(snap, dict)
    name = snap["name"]
    lines = [
        f"name:      {name}",
        f"summary:   {snap.get('summary') or '-'}",
        f"publisher: {long_publisher(snap.get('publisher'))}",
        f"license:   {snap.get('license') or 'unset'}",
        *_description(str(snap.get("description", ""))),
    ]
    if snap.get("type") not in ("", "app", None):
        lines.append(f"type:      {snap['type']}")
    if verbose:
        lines.append(f"base:      {snap.get('base') or '-'}")
        lines.append(f"confinement: {snap.get('confinement')}")
    lines += _commands(name, ((a["name"], a.get("daemon", "")) for a in snap.get("apps", [])))
    if snap.get("id"):
        lines.append(f"snap-id:      {snap['id']}")
    installed = parse_rfc3339(snap.get("install-date"))
    if installed is not None:
        lines.append(f"refresh-date: {human_time(installed)}")
    lines.append(f"installed:    {snap['version'] or '-'} ({snap['revision']}) "
                 f"{human_size(int(snap.get('installed-size', 0)))} {notes(snap)}")
    return "\n".join(lines) + "\n"


def file_info(path: Path, shown: str) -> str:
    from usersnap.snapfile.load import load_snap_file

    loaded = load_snap_file(path)
    try:
        info: SnapInfo = loaded.info
    finally:
        loaded.image.close()
    build = time.localtime(os.stat(path).st_mtime)
    lines = [
        f'path:       "{shown}"',
        f"name:       {info.name}",
        f"summary:    {info.summary or '-'}",
        f"version:    {info.version} {_notes(info)}",
        f"build-date: {time.strftime('%Y-%m-%d', build)}",
        f"license:    {info.license or 'unset'}",
        *_description(info.description),
        *_commands(info.name, ((a.name, a.daemon) for a in info.apps.values())),
    ]
    return "\n".join(lines) + "\n"


def _notes(info: SnapInfo) -> str:
    notes = [info.confinement] if info.confinement != "strict" else []
    return ", ".join(notes) or "-"

