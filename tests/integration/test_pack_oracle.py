"""usersnap's snap.yaml validation and ``pack`` against Debian's snapd 2.57.6 ``snap pack``.

The corpus test compares verdicts for every generated snap.yaml and messages wherever
snapd's message is deterministic (Go map order makes some first errors random: those are
rerun to see the spread and only required to include ours).  The pack tests build the same
directory with both tools and compare the images.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.snapd_oracle import error_message, oracle_check, run_snap
from tests.helpers.snaps import write_snap_dir
from tests.helpers.yaml_corpus import Case, corpus, materialize
from usersnap.errors import UsersnapError
from usersnap.snapfile.load import load_snap_dir
from usersnap.snapfile.pack import PackError, pack_snap

Verdict = tuple[bool, str]

#: How often a differing snapd message is re-asked to tell Go's map-order randomness from
#: a real difference; with two equally likely first errors ours shows up with p = 1 - 2^-16.
RERUNS = 16
WORKERS = 4


def usersnap_check(snap_dir: Path) -> Verdict:
    try:
        load_snap_dir(snap_dir, check_skeleton=True)  # as snap pack --check-skeleton
    except UsersnapError as err:
        return False, err.message
    return True, ""


def _parallel(func: Callable[[Path], Verdict], dirs: list[Path]) -> list[Verdict]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(func, dirs))


def _spread(snap_dir: Path, ours: str) -> set[str]:
    """snapd's messages over several runs, stopping once ours appears."""
    seen: set[str] = set()
    for _ in range(RERUNS):
        seen.add(oracle_check(snap_dir)[1])
        if ours in seen:
            break
    return seen


@pytest.mark.requires_snapd
@pytest.mark.timeout(300)
def test_corpus_agrees_with_snapd(tmp_path: Path) -> None:
    cases = corpus()
    dirs = [materialize(case, tmp_path / str(index)) for index, case in enumerate(cases)]
    theirs = _parallel(oracle_check, dirs)
    ours = [usersnap_check(snap_dir) for snap_dir in dirs]

    verdict_diffs: list[str] = []
    message_diffs: list[str] = []
    random_messages: list[Case] = []
    same_message = 0
    for case, snap_dir, (ok, message), (our_ok, our_message) in zip(
        cases, dirs, theirs, ours, strict=True
    ):
        if ok != our_ok:
            verdict_diffs.append(f"{case.ident}: snapd {message or 'accepts'!r}, "
                                 f"usersnap {our_message or 'accepts'!r}")
        elif message == our_message:
            same_message += 1
        else:
            seen = _spread(snap_dir, our_message) | {message}
            if len(seen) > 1:
                random_messages.append(case)
                if our_message in seen:
                    continue
            message_diffs.append(f"{case.ident}:\n  snapd    {sorted(seen)!r}\n"
                                 f"  usersnap {our_message!r}")

    rejected = sum(not ok for ok, _ in theirs)
    deterministic = len(cases) - len(random_messages)
    print(
        f"\noracle corpus: {len(cases)} cases ({rejected} rejected by snapd); "
        f"verdicts agree {len(cases) - len(verdict_diffs)}/{len(cases)}; identical messages "
        f"{same_message}/{len(cases)} ({same_message / len(cases):.1%}); "
        f"snapd message random in {len(random_messages)} "
        f"({', '.join(case.ident for case in random_messages) or 'none'}); "
        f"deterministic-message mismatches {len(message_diffs)}/{deterministic}"
    )
    assert not verdict_diffs, "verdicts differ:\n" + "\n".join(verdict_diffs)
    assert not message_diffs, "messages differ:\n" + "\n".join(message_diffs)


# --- pack ----------------------------------------------------------------------------------

SNAP_YAML = """\
name: packprobe
version: "2.1"
summary: pack comparison
description: Packed by snapd and by usersnap.
base: core22
{archs}apps:
  packprobe:
    command: bin/run
    completer: share/complete.sh
layout:
  /usr/share/packprobe:
    bind: $SNAP/share
"""

#: Files snapd's exclude list drops (top-level names, and patterns anywhere) and look-alikes
#: it keeps, so the listings compare the exclusion rules too.
TREE: dict[str, str] = {
    "bin/run": "#!/bin/sh\necho run\n",
    "share/complete.sh": "complete -F _x packprobe\n",
    "share/data.txt": "data\n" * 100,
    "share/empty": "",
    "share/deep/a/b/c.txt": "c\n",
    "meta/hooks/configure": "#!/bin/sh\nexit 0\n",
    ".git/config": "[core]\n",
    "DEBIAN/control": "x\n",
    ".snapignore": "x\n",
    "CVS/Root": "x\n",
    "old.snap": "not a snap\n",
    "share/nested.snap": "x\n",
    "share/.#lock": "x\n",
    "share/backup~": "x\n",
    "share/,,tmp": "x\n",
    "share/.file.swp": "x\n",
    "share/.git/kept": "top-level only rule\n",
    "share/DEBIAN": "kept below the top level\n",
    "x.click": "x\n",
    ".hidden": "kept\n",
}


def _snap_source(root: Path, archs: str = "") -> Path:
    src = write_snap_dir(
        root, SNAP_YAML.format(archs=archs), TREE, executables=["bin/run", "meta/hooks/configure"]
    )
    (src / "share/link").symlink_to("data.txt")
    (src / "share/private.txt").write_text("mode 0600\n")
    (src / "share/private.txt").chmod(0o600)
    return src


def _listing(image: Path) -> list[str]:
    """``unsquashfs -lln`` without the leading squashfs-root prefix."""
    out = subprocess.run(
        ["unsquashfs", "-lln", "-d", "", str(image)], check=True, capture_output=True, text=True,
        timeout=60, env={**os.environ, "TZ": "UTC"},
    ).stdout
    return [line for line in out.splitlines() if line and not line.startswith("Parallel")]


def _superblock(image: Path) -> list[str]:
    out = subprocess.run(
        ["unsquashfs", "-s", str(image)], check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    return [line for line in out.splitlines()
            if not line.startswith(("Found a valid", "Creation or last append time",
                                    "Filesystem size"))]


@pytest.mark.requires_snapd
@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize("compression", ["xz", "lzo"])
def test_pack_matches_snap_pack(tmp_path: Path, compression: str) -> None:
    src = _snap_source(tmp_path / "src")
    proc = run_snap(["pack", f"--compression={compression}", str(src), str(tmp_path / "snapd")])
    assert proc.returncode == 0, proc.stderr
    theirs = tmp_path / "snapd" / "packprobe_2.1_all.snap"
    ours = pack_snap(src, tmp_path / "usersnap", compression=compression)
    assert ours.name == theirs.name
    assert sorted(os.listdir(ours.parent)) == [ours.name]  # no temporary left behind
    assert _listing(ours) == _listing(theirs)
    assert _superblock(ours) == _superblock(theirs)
    listing = "\n".join(_listing(ours))
    assert "/share/.git/kept" in listing
    assert ".snapignore" not in listing
    assert "old.snap" not in listing


@pytest.mark.requires_snapd
@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize(
    ("archs", "suffix"),
    [("", "all"), ("architectures: [arm64]\n", "arm64"),
     ("architectures: [amd64, arm64]\n", "multi")],
)
def test_pack_file_name_matches_snap_pack(tmp_path: Path, archs: str, suffix: str) -> None:
    src = _snap_source(tmp_path / "src", archs)
    proc = run_snap(["pack", str(src), str(tmp_path / "snapd")])
    assert proc.returncode == 0, proc.stderr
    ours = pack_snap(src, tmp_path / "usersnap")
    assert os.listdir(tmp_path / "snapd") == [ours.name] == [f"packprobe_2.1_{suffix}.snap"]


@pytest.mark.requires_snapd
def test_pack_error_matches_snap_pack(tmp_path: Path) -> None:
    src = write_snap_dir(tmp_path / "bad", SNAP_YAML.format(archs="").replace(
        "/usr/share/packprobe", "/dev/packprobe"), TREE, executables=["bin/run"])
    proc = run_snap(["pack", str(src), str(tmp_path / "out")])
    with pytest.raises(PackError) as caught:
        pack_snap(src, tmp_path / "out")
    assert proc.returncode != 0
    assert caught.value.message == error_message(proc.stderr)
    assert caught.value.message == (
        f'cannot pack "{src}": cannot validate snap "packprobe": layout "/dev/packprobe" '
        'defines a new top-level directory "/dev"'
    )


@pytest.mark.requires_mksquashfs
def test_pack_rejects_unknown_compression(tmp_path: Path) -> None:
    src = _snap_source(tmp_path / "src")
    with pytest.raises(PackError, match=r'^cannot pack ".*": cannot use compression "gzip"$'):
        pack_snap(src, tmp_path / "out", compression="gzip")


def test_pack_without_mksquashfs_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _snap_source(tmp_path / "src")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PackError, match=r"mksquashfs not found \(apt-get install squashfs-tools\)"):
        pack_snap(src, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@pytest.mark.requires_mksquashfs
def test_pack_filename_and_default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _snap_source(tmp_path / "src")
    monkeypatch.chdir(src)  # snapd's default target is the current dir, here inside src
    first = pack_snap(src)
    second = pack_snap(src, filename="again.snap")
    assert (first, second) == (Path("packprobe_2.1_all.snap"), Path("again.snap"))
    # the first image (a *.snap inside src) is excluded from the second; the root dir's
    # mtime changed in between, so compare the paths only
    assert [line.split()[-1] for line in _listing(src / first)] == [
        line.split()[-1] for line in _listing(src / second)
    ]
    with pytest.raises(PackError, match="absolute filename while also specifying target dir"):
        pack_snap(src, tmp_path, filename=str(tmp_path / "x.snap"))
