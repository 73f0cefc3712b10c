"""``usersnap connections [--all] [NAME]``: snap's table of plugs and slots.

Same query, columns and order as snap 2.57.6 (``cmd/snap/cmd_connections.go``); Notes
also say ``unsupported`` for a plug of an interface usersnap does not know (it can never
be connected) and ``partial`` for a connected one usersnap honours only in part rootless.
"""

from __future__ import annotations

import argparse
from typing import Any

from usersnap.cli.render import table
from usersnap.cli.session import daemon
from usersnap.errors import UsersnapError
from usersnap.interfaces.registry import INTERFACES

SYSTEM_SNAPS = frozenset({"core", "snapd", "system"})


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--all", action="store_true",
                        help="Show connected and unconnected plugs and slots")
    parser.add_argument("snap", nargs="?", default="", metavar="NAME")


def endpoint(snap: str, name: str) -> str:
    return f":{name}" if snap in SYSTEM_SNAPS else f"{snap}:{name}"


def _notes(manual: bool, interface: str, connected: bool) -> str:
    notes = ["manual"] if manual else []
    iface = INTERFACES.get(interface)
    if iface is None:
        notes.append("unsupported")
    elif connected and iface.limitation:
        notes.append("partial")
    return ",".join(notes) or "-"


def _determinant(conn: dict[str, Any]) -> str:
    if conn.get("interface") != "content":
        return ""
    value = (conn.get("plug-attrs") or {}).get("content") or \
        (conn.get("slot-attrs") or {}).get("content")
    return f"[{value}]" if isinstance(value, str) and value else ""


def execute(args: argparse.Namespace) -> int:
    query = {"select": "all"} if args.all else {}
    show_all = args.all
    if args.snap:
        if args.all:
            raise UsersnapError("cannot use --all with snap name")
        query = {"select": "all", "snap": args.snap}
        show_all = True
    data = daemon().get("/v2/connections", query)
    assert isinstance(data, dict)
    plugs, slots = data.get("plugs") or [], data.get("slots") or []
    if not plugs and not slots:
        return 0
    rows: list[tuple[str, str, str, str]] = []
    for conn in data.get("established") or []:
        plug, slot = conn["plug"], conn["slot"]
        iface = conn["interface"]
        rows.append((iface + _determinant(conn), endpoint(plug["snap"], plug["plug"]),
                     endpoint(slot["snap"], slot["slot"]),
                     _notes(bool(conn.get("manual")), iface, True)))
    if show_all:
        rows += [(p["interface"], endpoint(p["snap"], p["plug"]), "-",
                  _notes(False, p["interface"], False))
                 for p in plugs if not p.get("connections")]
        rows += [(s["interface"], "-", endpoint(s["snap"], s["slot"]), "-")
                 for s in slots if not s.get("connections")
                 and (args.snap in SYSTEM_SNAPS or s["snap"] not in SYSTEM_SNAPS)]
    rows.sort(key=lambda r: (r[0].partition("[")[0], r[1], r[2]))
    if rows:
        print(table([("Interface", "Plug", "Slot", "Notes"), *rows]))
    return 0
