"""Build the squashfs seed corpus from real mksquashfs images: python -m tests.fuzz.make_corpus DIR.

Small snaps (a few KiB) covering what the reader decodes: each codec, fragments and whole
blocks, a sparse file, symlinks, nested and empty directories, xattrs, hooks, and snapd's
own mksquashfs flags.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from tests.helpers.snaps import mksquashfs, write_snap_dir

SNAP_YAML = """\
    name: seed
    version: "1.0"
    base: core22
    apps:
      seed:
        command: bin/seed
        environment:
          FOO: $SNAP/foo
    layout:
      /usr/share/seed:
        bind: $SNAP/share
    plugs:
      home:
"""

# (image name, codec, mksquashfs options, snapd's flags)
VARIANTS = [
    ("xz-snapd", "xz", (), True),
    ("gzip-frag", "gzip", ("-always-use-fragments",), False),
    ("lzo-xattr", "lzo", ("-xattrs",), False),
    ("gzip-plain", "gzip", ("-noI", "-noD", "-noF", "-noX"), False),
    ("xz-small-block", "xz", ("-b", "4096"), False),
]


def write_tree(root: Path) -> Path:
    write_snap_dir(
        root, SNAP_YAML,
        files={
            "bin/seed": "#!/bin/sh\necho seed\n",
            "meta/hooks/install": "#!/bin/sh\n",
            "share/data.txt": "".join(f"line {i}\n" for i in range(1500)),
            "share/tiny": "x",
            "deep/a/b/c/d/leaf": "leaf\n",
        },
        executables=("bin/seed", "meta/hooks/install"),
    )
    (root / "share/sparse").write_bytes(b"\0" * 20000 + b"end")
    (root / "empty").mkdir()
    os.symlink("../share/data.txt", root / "bin/link")
    os.symlink("/nowhere", root / "dangling")
    return root


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp, "tree"))
        for name, comp, extra, snapd in VARIANTS:
            mksquashfs(tree, out / f"{name}.snap", comp=comp, extra=extra, snapd_flags=snapd)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
