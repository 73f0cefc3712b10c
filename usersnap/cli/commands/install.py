"""``usersnap install [--dangerous] FILE…`` sideloads local snap files; ``usersnap install
NAME [--channel=…] [--revision=…]`` installs from the store."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from usersnap.apps.launchers import bin_on_path, path_hint
from usersnap.cli.commands.download import fetch
from usersnap.cli.render import long_publisher
from usersnap.cli.session import daemon, wait
from usersnap.client import Client
from usersnap.dirs import Dirs
from usersnap.errors import AlreadyInstalledError, NotInstalledError, UsersnapError
from usersnap.store.client import StoreClient


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="local .snap file, or the name of a snap in the store")
    parser.add_argument("--channel", help="use this channel instead of stable (store snaps)")
    parser.add_argument("--revision", type=int, help="install the given revision (store snaps)")
    parser.add_argument("--dangerous", action="store_true",
                        help="install the given snap file even if there are no "
                             "pre-acknowledged signatures for it")
    parser.add_argument("--devmode", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-wait", action="store_true",
                        help="do not wait for the operation to finish but just print the change id")


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
            _install_from_store(client, file, args.channel, args.revision)
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
        _installed(snap)
    if not bin_on_path(dirs):
        print(path_hint(dirs), file=sys.stderr)
    return 0


def _installed(snap: object, channel: str = "") -> None:
    """snap's "NAME (CHANNEL) VERSION from PUBLISHER installed" line."""
    assert isinstance(snap, dict)
    by = snap.get("publisher")
    origin = f" from {long_publisher(by)}" if isinstance(by, dict) else ""
    shown = f" ({channel})" if channel and not channel.endswith("stable") else ""
    print(f"{snap['name']}{shown} {snap['version']}{origin} installed")


def _install_from_store(client: Client, name: str, channel: str | None,
                        revision: int | None) -> None:
    """Download the snap and its assertions, acknowledge them, install the verified file
    (client-side: usersnapd installs it like any signed local file)."""
    try:
        client.get(f"/v2/snaps/{name}")
    except NotInstalledError:
        pass
    else:
        raise AlreadyInstalledError(
            f"snap \"{name}\" is already installed, see 'usersnap help refresh'")
    store = StoreClient()
    snap = store.resolve(name, channel, revision)
    with tempfile.TemporaryDirectory(prefix="usersnap-download-") as tmp:
        blob, assertions = fetch(store, snap, Path(tmp))
        client.post_bytes("/v2/assertions", assertions.read_bytes(),
                          "application/x.ubuntu.assertion")
        wait(client, client.install_local(blob, {"action": "install", "snap-path": blob.name}),
             no_wait=False)
    _installed(client.get(f"/v2/snaps/{snap.name}"), snap.channel)
