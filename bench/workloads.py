"""The file-system workloads: each one timed run against one filesystem, checked against
the source tree it was built from (a wrong answer fails the run; a slow one never does).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import probe
from bench.errors import BenchError
from bench.images import BuiltImage
from bench.mounts import Filesystem

PROBE = Path(probe.__file__).resolve()
RANDOM_READS = 2000


def run_probe(*args: str, timeout: float = 600) -> dict[str, object]:
    # -I -S: no site, no user paths; the probe needs only the standard library.
    proc = subprocess.run([sys.executable, "-I", "-S", str(PROBE), *args],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BenchError(f"probe {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    result = json.loads(proc.stdout)
    assert isinstance(result, dict)
    return result


def timed_shell(command: str, timeout: float = 600) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"`{command}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return seconds, proc.stdout.strip()


@dataclass
class Expected:
    """What every mount of an image must show, computed once from its source tree."""

    big_sha256: str = ""
    big_bytes: int = 0
    random: dict[int, str] = field(default_factory=dict)   # seed -> sha256
    files: int = 0
    tar_bytes: int = 0
    manifest: dict[str, list[object]] = field(default_factory=dict)

    @classmethod
    def of(cls, image: BuiltImage) -> Expected:
        exp = cls()
        if image.spec.kind == "big":
            big = image.source / "data" / "big.bin"
            digest = probe.file_sha256(str(big))
            exp.big_sha256, exp.big_bytes = str(digest["sha256"]), int(str(digest["bytes"]))
        elif image.spec.kind == "tree":
            exp.manifest = probe.manifest(str(image.source))
            exp.files = sum(1 for v in exp.manifest.values() if v[0] == "file")
            _, out = timed_shell(f"tar cf - -C '{image.source}' . | wc -c")
            exp.tar_bytes = int(out)
        return exp

    def random_sha(self, image: BuiltImage, seed: int) -> str:
        if seed not in self.random:
            got = probe.random_read(str(image.source / "data" / "big.bin"), RANDOM_READS, seed)
            self.random[seed] = str(got["sha256"])
        return self.random[seed]


def _check(ok: bool, fs: Filesystem, image: BuiltImage, what: str) -> None:
    if not ok:
        raise BenchError(f"{fs.name}: wrong result for {what} of {image.snap.name}")


def seq_read(fs: Filesystem, image: BuiltImage, exp: Expected) -> float:
    got = run_probe("seq", str(fs.tree(image) / "data" / "big.bin"))
    _check(got["bytes"] == exp.big_bytes, fs, image, "sequential read (size)")
    return float(str(got["seconds"]))


def verify_big(fs: Filesystem, image: BuiltImage, exp: Expected) -> None:
    got = run_probe("hash", str(fs.tree(image) / "data" / "big.bin"))
    _check(got["sha256"] == exp.big_sha256, fs, image, "sha256 of big.bin")


def random_read(fs: Filesystem, image: BuiltImage, exp: Expected, seed: int) -> float:
    got = run_probe("random", str(fs.tree(image) / "data" / "big.bin"), str(RANDOM_READS),
                    str(seed))
    _check(got["sha256"] == exp.random_sha(image, seed), fs, image, "random reads (sha256)")
    return float(str(got["seconds"]))


def find_files(fs: Filesystem, image: BuiltImage, exp: Expected) -> float:
    seconds, out = timed_shell(f"find '{fs.tree(image)}' -type f | wc -l")
    _check(int(out) == exp.files, fs, image, f"find -type f (got {out}, want {exp.files})")
    return seconds


def stat_walk(fs: Filesystem, image: BuiltImage, exp: Expected) -> float:
    """GNU tar never opens files when the archive is /dev/null: a pure lstat walk."""
    seconds, _ = timed_shell(f"tar cf /dev/null -C '{fs.tree(image)}' .")
    return seconds


def tar_read(fs: Filesystem, image: BuiltImage, exp: Expected) -> float:
    seconds, out = timed_shell(f"tar cf - -C '{fs.tree(image)}' . | wc -c")
    _check(int(out) == exp.tar_bytes, fs, image, f"tar | wc -c (got {out}, want "
                                                  f"{exp.tar_bytes})")
    return seconds


def verify_tree(fs: Filesystem, image: BuiltImage, exp: Expected) -> None:
    got = run_probe("manifest", str(fs.tree(image)))
    if got != exp.manifest:
        wrong = sorted(k for k in set(got) | set(exp.manifest) if got.get(k) != exp.manifest.get(k))
        raise BenchError(f"{fs.name}: {len(wrong)} entries of {image.snap.name} differ from "
                         f"the source, e.g. {wrong[:3]}")
