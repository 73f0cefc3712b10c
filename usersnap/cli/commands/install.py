"""``usersnap install [--dangerous] FILE…`` sideloads local snap files; ``usersnap install
NAME [--channel=…] [--revision=…]`` installs from the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from usersnap.apps.launchers import bin_on_path, path_hint
from usersnap.cli.render import long_publisher
from usersnap.cli.session import add_no_wait, daemon, start, wait
from usersnap.client import Client
from usersnap.dirs import Dirs
from usersnap.errors import AlreadyInstalledError, UsersnapError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="local .snap file, or the name of a snap in the store")
    parser.add_argument("--channel", help="use this channel instead of stable (store snaps)")
    parser.add_argument("--revision", type=int, help="install the given revision (store snaps)")
    parser.add_argument("--dangerous", action="store_true",
                        help="install the given snap file even if there are no "
                             "pre-acknowledged signatures for it")
    parser.add_argument("--devmode", action="store_true", help=argparse.SUPPRESS)
    add_no_wait(parser)


def execute(args: argparse.Namespace) -> int:
    dirs = Dirs.from_env()
    names = [f for f in args.files if not Path(f).is_file() and "/" not in f
             and not f.endswith(".snap")]
    for file in args.files:
        if file not in names and not Path(file).is_file():
            raise UsersnapError(f'cannot open "{file}": no such file')
    client = daemon(dirs)
    for file in args.files:
        if file in names:
            _install_from_store(client, file, args.channel, args.revision, args.no_wait)
            continue
        change_id = client.install_local(
            Path(file), {"action": "install", "snap-path": file,
                         **({"dangerous": "true"} if args.dangerous else {})})
        change = wait(client, change_id, no_wait=args.no_wait)
        if change is None:
            continue
        name = str(change.get("data", {}).get("snap-name", ""))
        snap = client.get(f"/v2/snaps/{name}")
        assert isinstance(snap, dict)
        show_done(snap)
    if not bin_on_path(dirs):
        print(path_hint(dirs), file=sys.stderr)
    return 0


def show_done(snap: object, action: str = "installed") -> None:
    """snap's "NAME (CHANNEL) VERSION from PUBLISHER installed" line (showDoneSnap)."""
    assert isinstance(snap, dict)
    by = snap.get("publisher")
    origin = f" from {long_publisher(by)}" if isinstance(by, dict) else ""
    print(f"{snap['name']}{channel_note(str(snap.get('channel') or ''))} {snap['version']}"
          f"{origin} {action}")


def channel_note(channel: str) -> str:
    """`` (beta)`` for latest/beta, nothing for stable (snapd's channel.Parse Name)."""
    if not channel:
        return ""
    from usersnap.store.channels import parse_channel  # store snaps only: off the file path

    name = str(parse_channel(channel)).removeprefix("latest/")
    return "" if name == "stable" else f" ({name})"


def _install_from_store(client: Client, name: str, channel: str | None,
                        revision: int | None, no_wait: bool) -> None:
    """usersnapd downloads the snap and its assertions, checks them and installs it,
    in one change (the task's progress shows the download on a terminal)."""
    body: dict[str, object] = {"action": "install"}
    if channel:
        body["channel"] = channel
    if revision is not None:
        body["revision"] = str(revision)
    try:
        change_id = start(client, f"/v2/snaps/{name}", body)
    except AlreadyInstalledError:
        raise AlreadyInstalledError(
            f"snap \"{name}\" is already installed, see 'usersnap help refresh'") from None
    if wait(client, change_id, no_wait=no_wait) is not None:
        show_done(client.get(f"/v2/snaps/{name}"))
