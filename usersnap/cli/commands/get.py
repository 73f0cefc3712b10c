"""``usersnap get NAME [KEY…] [-t|-d|-l]``: snap's get, output for output.

A single string prints raw; anything else prints as Go's tab-indented JSON; a whole
document prints as a ``Key Value`` list on a terminal and as JSON (with snap's warning)
otherwise (cmd/snap/cmd_get.go).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from usersnap.cli.render import table
from usersnap.cli.session import daemon
from usersnap.errors import UsersnapError
from usersnap.state.config import format_json

_WARNING = ("WARNING: The output of 'usersnap get' will become a list with columns - use -d "
            "or -l to force the output format.")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snap", metavar="NAME")
    parser.add_argument("keys", nargs="*", metavar="KEY")
    parser.add_argument("-t", dest="typed", action="store_true",
                        help="strict typing with nulls and quoted strings")
    parser.add_argument("-d", dest="document", action="store_true",
                        help="always return document, even with single key")
    parser.add_argument("-l", dest="list", action="store_true",
                        help="always return list, even with single key")


def _flatten(conf: dict[str, Any], root: bool) -> list[tuple[str, str]]:
    """snap's flattenConfig: one level below the asked keys, deeper maps as ``{...}``."""
    rows: list[tuple[str, Any]] = []
    for key, value in conf.items():
        if isinstance(value, dict):
            if root:
                rows.append((key, "{...}"))
            else:
                rows += [(f"{key}.{k}", "{...}" if isinstance(v, dict) else v)
                         for k, v in value.items()]
        else:
            rows.append((key, value))
    return sorted((path, _go_value(v)) for path, v in rows)


def _go_value(value: Any) -> str:
    """Go's ``%v`` for JSON values."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _print_list(snap: str, conf: dict[str, Any], root: bool) -> None:
    if root and not conf:
        raise UsersnapError(f'snap "{snap}" has no configuration')
    print(table([["Key", "Value"], *([p, v] for p, v in _flatten(conf, root))]))


def execute(args: argparse.Namespace) -> int:
    if args.document and args.typed:
        raise UsersnapError("cannot use -d and -t together")
    if args.document and args.list:
        raise UsersnapError("cannot use -d and -l together")
    conf: Any = daemon().get(f"/v2/snaps/{args.snap}/conf", {"keys": ",".join(args.keys)})
    if not isinstance(conf, dict):
        raise UsersnapError(f'cannot get configuration of snap "{args.snap}"')
    root = not args.keys
    if args.document:
        print(format_json(conf))
        return 0
    if args.list:
        _print_list(args.snap, conf, root)
        return 0
    if root and not conf:
        raise UsersnapError(f'snap "{args.snap}" has no configuration')
    value: Any = conf
    if len(args.keys) == 1 and not isinstance(conf.get(args.keys[0]), dict):
        value = conf.get(args.keys[0])
    if isinstance(value, dict):
        if sys.stdin.isatty():
            _print_list(args.snap, value, root)
            return 0
        print(_WARNING, file=sys.stderr)
        print(format_json(value))
    elif isinstance(value, str) and not args.typed:
        print(value)
    elif value is not None or args.typed:
        print(format_json(value))
    else:
        print()
    return 0
