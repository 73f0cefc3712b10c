"""``usersnap download NAME``: fetch a snap and its assertions from the store, as snap
download does; no daemon involved (nothing is installed)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from usersnap.asserts.format import encode_stream
from usersnap.cli.session import Spinner
from usersnap.store.client import StoreClient, StoreSnap
from usersnap.store.download import download_snap, fetch_assertions


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("snap", metavar="<snap>")
    parser.add_argument("--channel", help="use this channel instead of stable")
    parser.add_argument("--revision", type=int, help="download the given revision of a snap")
    parser.add_argument("--target-directory", default=".",
                        help="download to this directory (default: the current one)")


def _fetch(client: StoreClient, snap: StoreSnap, directory: Path) -> tuple[Path, Path]:
    """NAME_REV.snap (digest checked, with a progress bar on a terminal) and NAME_REV.assert
    (the verified chain) in ``directory``."""
    stem = f"{snap.name}_{snap.revision}"
    bar = Spinner() if sys.stdout.isatty() else None
    blob = directory / f"{stem}.snap"
    try:
        download_snap(client, snap, blob,
                      progress=bar.transfer(f"Download {stem}.snap") if bar else None)
    finally:
        if bar is not None:
            bar.clear()
    assertions = directory / f"{stem}.assert"
    assertions.write_bytes(encode_stream(fetch_assertions(client, snap)))
    return blob, assertions


def execute(args: argparse.Namespace) -> int:
    client = StoreClient()
    snap = client.resolve(args.snap, args.channel, args.revision)
    print(f'Fetching snap "{snap.name}"')
    blob, assertions = _fetch(client, snap, Path(args.target_directory))
    print(f'Fetching assertions for "{snap.name}"')
    print(f"Install the snap with:\n   usersnap ack {assertions.name}\n"
          f"   usersnap install {blob.name}")
    return 0
