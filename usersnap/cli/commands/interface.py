"""``usersnap interface [--all] [--attrs] [NAME]``: snap's interface overview or one
interface's plugs and slots (``cmd/snap/cmd_interface.go``)."""

from __future__ import annotations

import argparse
from typing import Any

from usersnap.cli.render import table
from usersnap.cli.session import daemon
from usersnap.errors import UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--attrs", action="store_true", help="Show interface attributes")
    parser.add_argument("--all", action="store_true",
                        help="Include unused interfaces")
    parser.add_argument("interface", nargs="?", default="", metavar="<interface>")


def _attrs(attrs: dict[str, Any], indent: str) -> list[str]:
    return [f"{indent}  {k}:\t{v}" if isinstance(v, str | bool | int | float)
            else f"{indent}  {k}:\t..." for k, v in sorted(attrs.items())]


def _one(iface: dict[str, Any], show_attrs: bool) -> str:
    rows = [f"name:\t{iface['name']}"]
    if iface.get("summary"):
        rows.append(f"summary:\t{iface['summary']}")
    if iface.get("doc-url"):
        rows.append(f"documentation:\t{iface['doc-url']}")
    for kind, side in (("plugs", "plug"), ("slots", "slot")):
        if iface.get(kind):
            rows.append(f"{kind}:")
            for item in iface[kind]:
                ref = item["snap"] if item[side] == iface["name"] else \
                    f"{item['snap']}:{item[side]}"
                if item.get("attrs") and show_attrs:
                    rows.append(f"  - {ref}:")
                    rows += _attrs(item["attrs"], "    ")
                else:
                    rows.append(f"  - {ref}")
    # snap's tabwriter here: minwidth 2, padding 1
    return table([r.split("\t") for r in rows], minwidth=2, padding=1)


def execute(args: argparse.Namespace) -> int:
    client = daemon()
    if args.interface:
        found = client.get("/v2/interfaces", {
            "select": "all", "names": args.interface, "doc": "true", "plugs": "true",
            "slots": "true"})
        if not found:
            raise UsersnapError("no such interface")
        assert isinstance(found, list)
        print(_one(found[0], args.attrs))
        return 0
    found = client.get("/v2/interfaces", {"select": "all" if args.all else "connected"})
    if not found:
        raise UsersnapError("no interfaces found" if args.all
                            else "no interfaces currently connected")
    assert isinstance(found, list)
    print(table([("Name", "Summary"), *((i["name"], i["summary"]) for i in found)]))
    return 0
