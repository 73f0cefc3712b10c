"""``usersnap set NAME KEY=VALUE…`` and ``usersnap unset NAME KEY…``.

Values are JSON when they parse as JSON, else strings (``-s``: always strings; ``-t``:
JSON or an error); ``KEY!`` unsets.  The daemon runs the snap's configure hook with the
change, which is rejected (nothing stored) when the hook fails (cmd/snap/cmd_set.go).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from usersnap.cli.session import add_no_wait, daemon, wait
from usersnap.errors import DaemonError, UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snap", metavar="NAME")
    if name == "unset":
        parser.add_argument("values", nargs="+", metavar="KEY")
    else:
        parser.add_argument("values", nargs="+", metavar="KEY=VALUE")
        parser.add_argument("-t", dest="typed", action="store_true",
                            help="parse the value strictly as JSON document")
        parser.add_argument("-s", dest="string", action="store_true",
                            help="parse the value as a string")
    add_no_wait(parser)
    parser.set_defaults(unset=name == "unset")


def parse_values(items: list[str], *, typed: bool = False, string: bool = False
                 ) -> dict[str, Any]:
    if typed and string:
        raise UsersnapError("cannot use -t and -s together")
    patch: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep and item.endswith("!"):
            patch[item[:-1]] = None
            continue
        if not sep:
            raise UsersnapError(f'invalid configuration: "{item}" (want key=value)')
        if string:
            patch[key] = text
            continue
        try:
            patch[key] = json.loads(text, parse_constant=_refuse)
        except ValueError as err:
            if typed:
                raise UsersnapError(f"failed to parse JSON: {err}") from None
            patch[key] = text
    return patch


def _refuse(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def execute(args: argparse.Namespace) -> int:
    if args.unset:
        patch: dict[str, Any] = dict.fromkeys(args.values)
    else:
        patch = parse_values(args.values, typed=args.typed, string=args.string)
    client = daemon()
    result = client.request("PUT", f"/v2/snaps/{args.snap}/conf", body=patch)
    if result.change is None:
        raise DaemonError(f"expected an asynchronous answer from PUT /v2/snaps/{args.snap}/conf")
    wait(client, result.change, no_wait=args.no_wait)
    return 0
