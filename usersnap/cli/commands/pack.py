"""``usersnap pack DIR [OUTDIR]``: validate like ``snap pack`` and build the .snap."""

from __future__ import annotations

import argparse
from pathlib import Path

from usersnap.snapfile.pack import pack_snap


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("source", metavar="DIR", nargs="?", default=".")
    parser.add_argument("outdir", metavar="OUTDIR", nargs="?")
    parser.add_argument("--compression", choices=["xz", "lzo"], default="xz",
                        help="compression to use (default: xz)")
    parser.add_argument("--filename", help="output to this filename")
    parser.add_argument("--check-skeleton", action="store_true",
                        help="validate the snap directory without building it")


def execute(args: argparse.Namespace) -> int:
    source = Path(args.source)
    if args.check_skeleton:
        from usersnap.snapfile.load import load_snap_dir

        load_snap_dir(source, check_skeleton=True)
        return 0
    out = pack_snap(source, Path(args.outdir) if args.outdir else None,
                    compression=args.compression, filename=args.filename)
    print(f"built: {out}")
    return 0
