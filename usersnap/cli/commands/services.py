"""``usersnap services|start|stop|restart|logs``: snap's service commands.

The same requests and output as ``snap`` (``cmd/snap/cmd_services.go``): ``GET
/v2/apps?select=service``, ``POST /v2/apps`` (a change), ``GET /v2/logs`` (json-seq).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
from collections.abc import Iterable
from urllib.parse import urlencode

from usersnap.cli.render import table
from usersnap.cli.session import add_no_wait, daemon, start, wait
from usersnap.daemon.services import status_row
from usersnap.dirs import Dirs
from usersnap.errors import UsersnapError

_DONE = {"start": "Started.", "stop": "Stopped.", "restart": "Restarted."}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "services":
        parser.add_argument("names", nargs="*", metavar="NAME[.SERVICE]")
        return
    if name == "logs":
        parser.add_argument("-n", default="10",
                            help="show only the given number of lines, or 'all'")
        parser.add_argument("-f", action="store_true", help="wait for new lines and print "
                            "them as they come in")
        parser.add_argument("names", nargs="+", metavar="NAME[.SERVICE]")
        return
    if name != "stop":
        parser.add_argument("--enable", action="store_true",
                            help="as well as starting the service, enable it")
    if name == "restart":
        parser.add_argument("--reload", action="store_true",
                            help="if the service has a reload command, use it instead of "
                                 "restarting")
    parser.add_argument("--disable", action="store_true",
                        help=f"as well as {name}ing the service, disable it")
    add_no_wait(parser)
    parser.add_argument("names", nargs="+", metavar="NAME[.SERVICE]")


def execute(args: argparse.Namespace) -> int:
    if args.command == "services":
        return _services(args.names)
    if args.command == "logs":
        return _logs(args.names, args.n, args.f)
    body: dict[str, object] = {"action": args.command, "names": args.names}
    for flag in ("enable", "disable", "reload"):
        if getattr(args, flag, False):
            body[flag] = True
    client = daemon()
    if wait(client, start(client, "/v2/apps", body), no_wait=args.no_wait) is not None:
        print(_DONE[args.command])
    return 0


def _services(names: list[str]) -> int:
    query = {"select": "service", **({"names": ",".join(names)} if names else {})}
    result = daemon().get("/v2/apps", query)
    entries = [e for e in result if isinstance(e, dict)] if isinstance(result, list) else []
    if not entries:
        print("There are no services provided by installed snaps.", file=sys.stderr)
        return 0
    rows = [["Service", "Startup", "Current", "Notes"], *map(status_row, entries)]
    sys.stdout.write(table(rows) + "\n")
    return 0


def _logs(names: list[str], n: str, follow: bool) -> int:
    if n == "all":
        n = "-1"
    elif not n.lstrip("-").isdigit() or int(n) < -1:
        raise UsersnapError(f'invalid argument for flag "-n": expected a non-negative '
                            f'integer argument, or "all", but got "{n}"')
    query = {"n": n, "names": ",".join(names), **({"follow": "true"} if follow else {})}
    if not follow:
        _print(daemon().get_bytes("/v2/logs", query).split(b"\x1e"))
        return 0
    daemon().close()  # started and answering; the stream needs a raw connection
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(Dirs.from_env().socket))
        sock.sendall(f"GET /v2/logs?{urlencode(query)} HTTP/1.0\r\nHost: localhost\r\n\r\n"
                     .encode())
        with sock.makefile("rb") as stream:
            status = stream.readline()
            if b" 200 " not in status:
                raise UsersnapError(f"cannot follow logs: {status.decode().strip()}")
            while stream.readline() not in (b"\r\n", b""):
                pass
            _print(line for line in iter(stream.readline, b""))
    return 0


def _print(records: Iterable[bytes]) -> None:
    """snap's format: ``TIME SID[PID]: MESSAGE`` in local time."""
    for raw in records:
        try:
            entry = json.loads(raw.strip(b"\x1e\n"))
        except ValueError:
            continue
        when = dt.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
        stamp = when.astimezone().isoformat(timespec="seconds").replace("+00:00", "Z")
        print(f"{stamp} {entry['sid']}[{entry['pid']}]: {entry['message']}", flush=True)
