"""``usersnap``: the command line, modelled verb for verb on ``snap``.

Each command lives in ``usersnap.cli.commands.<name>`` and is imported only when used,
so ``usersnap run`` pays for nothing but the launch path.  Every
:class:`~usersnap.errors.UsersnapError` is printed as one ``error: …`` line with exit
status 1, as snap does; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

from usersnap.errors import UsersnapError

TYPE_CHECKING = False
if TYPE_CHECKING:  # `usersnap run` must not pay for argparse and typing
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Protocol

    class Command(Protocol):
        """What every module in ``usersnap.cli.commands`` provides."""

        def add_arguments(self, parser: argparse.ArgumentParser, name: str) -> None: ...
        def execute(self, args: argparse.Namespace) -> int: ...

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "install": ("install", "Install snaps from local files"),
    "try": ("try", "Test an unpacked snap in the system"),
    "remove": ("remove", "Remove snaps from the system"),
    "refresh": ("refresh", "Refresh snaps in the system"),
    "list": ("list", "List installed snaps"),
    "info": ("info", "Show detailed information about snaps"),
    "revert": ("revert", "Revert the given snap to the previous state"),
    "run": ("run", "Run the given snap command"),
    "pack": ("pack", "Pack the given directory as a snap"),
    "version": ("version", "Show version details"),
    "changes": ("changes", "List system changes"),
    "tasks": ("tasks", "List a change's tasks"),
    "watch": ("tasks", "Watch a change in progress"),
    "abort": ("abort", "Abort a pending change"),
    "get": ("get", "Print configuration options"),
    "set": ("set", "Change configuration options"),
    "unset": ("set", "Remove configuration options"),
    "debug": ("debug", "Run debug commands"),
    "ack": ("ack", "Add an assertion to the system"),
    "known": ("known", "Show known assertions of the provided type"),
    "connections": ("connections", "List interface connections"),
    "connect": ("connect", "Connect a plug to a slot"),
    "disconnect": ("connect", "Disconnect a plug from a slot"),
    "interface": ("interface", "Show details of snap interfaces"),
    "services": ("services", "Query the status of services"),
    "start": ("services", "Start services"),
    "stop": ("services", "Stop services"),
    "restart": ("services", "Restart services"),
    "logs": ("services", "Retrieve logs for services"),
    "find": ("find", "Find packages to install"),
    "download": ("download", "Download the given snap"),
    "doctor": ("doctor", "Check what this machine offers usersnap"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only that command's options are set up (and its
    module imported): every other sub-parser only carries its help line."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="usersnap",
        description="usersnap runs snaps without root: it installs .snap files into your "
                    "home and runs their apps under bubblewrap.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or name == command:
            _command_module(module).add_arguments(p, name)
    return parser


def _command_module(module: str) -> Command:
    command: Command = importlib.import_module(f"usersnap.cli.commands.{module}")
    return command


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `usersnap run` is parsed by hand: building every sub-parser imports every command.
    if argv and argv[0] == "run":
        from usersnap.cli.commands import run

        return _guard(lambda: run.main(argv[1:]))
    # Importing every command to parse one cost `usersnap list` 200 ms.
    parser = build_parser(next((a for a in argv if not a.startswith("-")), ""))
    args = parser.parse_args(argv)
    module = _command_module(COMMANDS[args.command][0])
    return _guard(lambda: module.execute(args))


def one_line(message: str) -> str:
    """Fold snapd's multi-line reasons (yaml type errors) onto one line; a failed change's
    task list stays as snap prints it."""
    if message.startswith("cannot perform the following tasks:"):
        return message
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def _guard(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except UsersnapError as err:
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141
