"""``usersnap info NAME|FILE``: snap's info layout, for an installed snap or a file."""

from __future__ import annotations

import argparse
import os
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usersnap.cli.commands.list import notes
from usersnap.cli.render import (
    _unicode,
    human_size,
    human_time,
    long_publisher,
    parse_rfc3339,
)
from usersnap.cli.session import daemon
from usersnap.errors import NotInstalledError, UsersnapError

if TYPE_CHECKING:  # the model imports yaml (~30 ms): only `info FILE` needs it
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
            continue
        block = snap_info(arg, args.verbose)
        if block is None:
            if len(args.snaps) == 1:
                raise UsersnapError(f'no snap found for "{arg}"')
            block = f'warning: no snap found for "{arg}"\n'
        blocks.append(block)
    print("---\n".join(blocks), end="")
    return 0


def snap_info(name: str, verbose: bool) -> str | None:
    """An installed snap, with what the store says of it when it came from the store, or
    a snap only in the store (snap's FindOne and Snap; a store that cannot be reached
    leaves the store part out, as with snap).  Snaps installed from a file do not ask
    the store."""
    client = daemon()
    try:
        local = client.get(f"/v2/snaps/{name}")
    except NotInstalledError:
        local = None
    remote = None
    if local is None or (isinstance(local, dict) and local.get("id")):
        try:
            found = client.get("/v2/find", {"name": name})
            remote = found[0] if isinstance(found, list) and found else None
        except UsersnapError:
            remote = None
    if local is not None:
        return installed_info(local, verbose, remote)
    return None if remote is None else remote_info(remote)


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


def remote_info(snap: dict[str, Any]) -> str:
    """snap info of a snap that is not installed: the store's view and channels."""
    lines = [
        f"name:      {snap['name']}",
        f"summary:   {snap.get('summary') or '-'}",
        f"publisher: {long_publisher(snap.get('publisher'))}",
        f"license:   {snap.get('license') or 'unset'}",
        *_description(str(snap.get("description", ""))),
        f"snap-id: {snap.get('id') or '-'}",
        *_channels(snap, None),
    ]
    return "\n".join(lines) + "\n"


def _channels(remote: dict[str, Any] | None, local: dict[str, Any] | None) -> list[str]:
    """snap's ``channels:`` map (per track, every risk: open ones with version, date,
    revision and size, closed ones ``↑`` below an open one) and ``installed:`` line,
    aligned as its tabwriter aligns them."""
    rows: list[list[str]] = []
    channels = (remote or {}).get("channels") or {}
    for track in (remote or {}).get("tracks") or []:
        opened = False
        for risk in ("stable", "candidate", "beta", "edge"):
            name = f"{track}/{risk}"
            ch = channels.get(name)
            if ch is None:
                rows.append([f"  {name}:", _closed_mark(opened), "", "", "", ""])
                continue
            opened = True
            released = parse_rfc3339(ch.get("released-at"))
            rows.append([f"  {name}:", str(ch.get("version") or "-"),
                         time.strftime("%Y-%m-%d", time.gmtime(released)) if released else "",
                         f"({ch.get('revision')})", human_size(int(ch.get("size", 0))), "-"])
    lines = ["channels:"] if rows else []
    if local is not None:
        rows.append(["installed:", str(local["version"] or "-"), "", f"({local['revision']})",
                     human_size(int(local.get("installed-size", 0))), notes(local)])
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:  # empty cells are padded too, as its tabwriter pads them
        cells = [c.rjust(widths[i]) if i in (3, 4) else c.ljust(widths[i])
                 for i, c in enumerate(row[:5])]
        lines.append(" ".join([*cells, row[5]]))
    return lines


def _closed_mark(after_open: bool) -> str:
    if _unicode():
        return "↑" if after_open else "–"
    return "^" if after_open else "--"


def installed_info(snap: Any, verbose: bool, remote: dict[str, Any] | None = None) -> str:
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
    if snap.get("tracking-channel"):
        lines.append(f"tracking:     {snap['tracking-channel']}")
    installed = parse_rfc3339(snap.get("install-date"))
    if installed is not None:
        lines.append(f"refresh-date: {human_time(installed)}")
    if remote is not None:
        lines += _channels(remote, snap)
    else:
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

