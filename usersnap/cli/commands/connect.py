"""``usersnap connect SNAP:PLUG [SNAP[:SLOT]]`` and ``usersnap disconnect``: as snap's,
silent on success; a disconnect with nothing to do says so and succeeds."""

from __future__ import annotations

import argparse

from usersnap.cli.session import add_no_wait, daemon, start, wait
from usersnap.errors import InterfacesUnchanged, UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("plug", metavar="<snap>:<plug>")
    parser.add_argument("slot", nargs="?", default="", metavar="<snap>:<slot>")
    if name == "disconnect":
        parser.add_argument("--forget", action="store_true",
                            help="Forget remembered state about the given connection.")
    add_no_wait(parser)


def split_ref(ref: str) -> tuple[str, str]:
    """snap's SnapAndName: ``snap:name``, ``snap`` or ``:name``."""
    snap, _, name = ref.partition(":")
    if ref.count(":") > 1 or (not snap and not name):
        raise UsersnapError(f'invalid value: "{ref}" (want snap:name or snap)')
    return snap, name


def execute(args: argparse.Namespace) -> int:
    action = "disconnect" if hasattr(args, "forget") else "connect"
    plug_snap, plug = split_ref(args.plug)
    slot_snap, slot = split_ref(args.slot) if args.slot else ("", "")
    if action == "disconnect" and not args.slot:  # snap's client sends one side as the slot
        plug_snap, plug, slot_snap, slot = "", "", plug_snap, plug
    elif action == "connect" and plug_snap and not plug:  # `connect PLUG SNAP[:SLOT]`
        plug_snap, plug = "", plug_snap
    body: dict[str, object] = {"action": action,
                               "plugs": [{"snap": plug_snap, "plug": plug}],
                               "slots": [{"snap": slot_snap, "slot": slot}]}
    if action == "disconnect" and args.forget:
        body["forget"] = True
    client = daemon()
    try:
        change_id = start(client, "/v2/interfaces", body)
    except InterfacesUnchanged:
        print("No connections to disconnect")
        return 0
    wait(client, change_id, no_wait=args.no_wait)
    return 0
