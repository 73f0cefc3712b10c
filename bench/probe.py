"""The reading side of the benchmark, run as a child process against one mount.

A separate process because the readers must never share an interpreter (or a GIL) with
the benchmark driver, and because they run as the measured user.  Timings are taken
around the reads only, so interpreter start-up is not counted.  Every command prints one
JSON object on stdout.  Kept stdlib-only and importable: the driver computes the
expected answers from the source files with the same functions.

  probe.py seq FILE                  time one sequential read, 1 MiB at a time
  probe.py hash FILE                 sha256 of the whole file (untimed verification)
  probe.py random FILE COUNT SEED    time COUNT 4 KiB reads at seeded random offsets
  probe.py manifest DIR              type, mode, size and sha256 (or link target) of each entry
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
import sys
import time
from pathlib import Path

CHUNK = 1 << 20
PAGE = 4096


def seq_read(path: str) -> dict[str, float]:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        while True:
            n = os.readv(fd, [view])
            if not n:
                break
            total += n
        seconds = time.perf_counter() - start
    finally:
        os.close(fd)
    return {"seconds": seconds, "bytes": total}


def file_sha256(path: str) -> dict[str, object]:
    digest = hashlib.sha256()
    total = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            total += len(chunk)
    return {"sha256": digest.hexdigest(), "bytes": total}


def random_offsets(size: int, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    pages = max(1, size // PAGE)
    return [rng.randrange(pages) * PAGE for _ in range(count)]


def random_read(path: str, count: int, seed: int) -> dict[str, object]:
    """Page-sized reads with read-ahead off (POSIX_FADV_RANDOM), as a database or a
    dynamic loader touching scattered pages would do."""
    fd = os.open(path, os.O_RDONLY)
    try:
        offsets = random_offsets(os.fstat(fd).st_size, count, seed)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        digest = hashlib.sha256()
        start = time.perf_counter()
        chunks = [os.pread(fd, PAGE, off) for off in offsets]
        seconds = time.perf_counter() - start
    finally:
        os.close(fd)
    for chunk in chunks:
        digest.update(chunk)
    return {"seconds": seconds, "sha256": digest.hexdigest()}


def manifest(top: str) -> dict[str, list[object]]:
    """What a correct mount must show for every entry below ``top`` (``top`` itself is
    left out: its mode and owner belong to the mount point)."""
    out: dict[str, list[object]] = {}
    root = Path(top)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ["link", os.readlink(path)]
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ["dir", mode]
            else:
                sha = file_sha256(str(path))["sha256"]
                out[rel] = ["file", mode, st.st_size, sha]
        dirnames.sort()
    return out


def main(argv: list[str]) -> int:
    cmd, path, *rest = argv
    if cmd == "seq":
        result: object = seq_read(path)
    elif cmd == "hash":
        result = file_sha256(path)
    elif cmd == "random":
        result = random_read(path, int(rest[0]), int(rest[1]))
    elif cmd == "manifest":
        result = manifest(path)
    else:
        raise SystemExit(f"probe: unknown command {cmd!r}")
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
