"""Machines that lack what usersnap needs.  Without FUSE usersnapd serves extracted
copies, chosen when FUSE cannot be used (here: no fusermount3 on PATH) or forced with
USERSNAP_NO_FUSE=1, announced in one line; without bubblewrap a run fails in one line
that points to ``usersnap doctor``."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, path_without, usersnap_session
from tests.helpers.snaps import build_snap

pytestmark = [pytest.mark.requires_bwrap, pytest.mark.requires_mksquashfs,
              pytest.mark.timeout(300)]

YAML = """\
name: plain
version: '{version}'
summary: served without FUSE
description: an app, a hook and a file
apps:
  plain:
    command: bin/show
  sh:
    command: bin/sh-wrap
"""
FILES: dict[str, str | bytes] = {
    "bin/show": '#!/bin/sh\ncat "$SNAP/share/message"\necho "rev=$SNAP_REVISION"\n',
    "bin/sh-wrap": '#!/bin/sh\nexec /bin/sh "$@"\n',
    "meta/hooks/install": '#!/bin/sh\necho installed > "$SNAP_DATA/hook-ran"\n',
    "share/message": "hello from the image\n",
}
NOTICE = "notice: FUSE is not used ({}): snaps are served from extracted copies; " \
         "see usersnap doctor"


def plain_snap(tmp: Path, version: str = "1.0") -> Path:
    return build_snap(tmp / version, YAML.format(version=version), FILES,
                      executables=["bin/show", "bin/sh-wrap", "meta/hooks/install"],
                      name="plain.snap")


@pytest.fixture
def us(monkeypatch: pytest.MonkeyPatch) -> Iterator[Usersnap]:
    monkeypatch.setenv("USERSNAP_NO_FUSE", "1")
    with usersnap_session() as session:
        yield session


def test_install_run_refresh_revert_remove_without_fuse(us: Usersnap, tmp_path: Path) -> None:
    first = us.run("install", "--dangerous", str(plain_snap(tmp_path)))
    assert first.stderr.splitlines()[0] == NOTICE.format("USERSNAP_NO_FUSE=1")
    assert "extracted copies, not FUSE (USERSNAP_NO_FUSE=1)" in us.run("version").stdout
    assert us.dirs.mount.is_symlink() and us.dirs.mount.resolve() == us.dirs.extracted
    tree = us.dirs.extracted / "plain" / "x1"
    assert (tree / "share" / "message").read_text() == "hello from the image\n"
    assert not stat.S_IMODE(tree.stat().st_mode) & 0o222  # read-only on the host too
    assert os.readlink(us.dirs.extracted / "plain" / "current") == "x1"

    assert us.run("run", "plain").stdout == "hello from the image\nrev=x1\n"
    hook = us.run("run", "plain.sh", "-c", 'cat "$SNAP_DATA/hook-ran"').stdout
    assert hook == "installed\n"
    bad = us.run("run", "plain.sh", "-c", 'echo x > "$SNAP/share/message"', check=False)
    assert bad.returncode != 0 and "Read-only file system" in bad.stderr

    us.run("install", "--dangerous", str(plain_snap(tmp_path, "2.0")))
    assert us.run("run", "plain").stdout.endswith("rev=x2\n")
    us.run("revert", "plain")
    assert us.run("run", "plain").stdout.endswith("rev=x1\n")

    # a restarted daemon keeps the extractions (revisions never change)
    before = tree.stat().st_mtime_ns
    us.stop_daemon()
    assert us.run("run", "plain").stdout.endswith("rev=x1\n")
    assert us.run("list").returncode == 0 and tree.stat().st_mtime_ns == before

    us.run("remove", "plain")
    assert not (us.dirs.extracted / "plain").exists()


def test_try_is_refused_in_one_line(us: Usersnap, tmp_path: Path) -> None:
    src = tmp_path / "1.0" / "plain.snap.d"
    plain_snap(tmp_path)
    out = us.run("try", str(src), check=False)
    assert out.returncode == 1
    assert out.stderr.splitlines()[-1] == (
        f'error: cannot try "{src}": usersnap try needs FUSE, which is not used here '
        "(USERSNAP_NO_FUSE=1); see usersnap doctor")


def test_a_corrupt_image_leaves_no_extraction(us: Usersnap, tmp_path: Path) -> None:
    good = plain_snap(tmp_path)
    data = bytearray(good.read_bytes())
    data[200:264] = b"\xff" * 64  # data blocks follow the 96-byte superblock
    bad = tmp_path / "bad.snap"
    bad.write_bytes(bytes(data))
    out = us.run("install", "--dangerous", str(bad), check=False)
    if out.returncode == 0:  # the damage missed what install reads: extraction must catch it
        pytest.fail(f"a damaged image installed: {out.stdout}")
    assert out.stderr.splitlines()[-1].startswith("error: ")
    assert "Traceback" not in out.stderr
    assert not any(us.dirs.extracted.glob("*/*")), list(us.dirs.extracted.glob("**/*"))
    assert "plain" not in us.run("list").stdout


def test_chosen_when_fuse_cannot_be_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    """A PATH without fusermount3 stands in for a machine without FUSE."""
    monkeypatch.delenv("USERSNAP_NO_FUSE", raising=False)
    # the daemon inherits it from the CLI that starts it
    path = {"PATH": path_without(tmp_path / "bin", "fusermount3")}
    with usersnap_session() as us:
        out = us.run("install", "--dangerous", str(plain_snap(tmp_path)), env=path)
        assert out.stderr.splitlines()[0] == NOTICE.format(
            "fusermount3 not found (install the fuse3 package)")
        assert us.run("run", "plain", env=path).stdout.startswith("hello from the image\n")


def test_a_machine_without_bubblewrap_is_one_line_pointing_to_doctor(
        us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(plain_snap(tmp_path)))
    path = {"PATH": path_without(tmp_path / "bin", "bwrap")}
    out = us.run("run", "plain", env=path, check=False)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "error: cannot find bubblewrap (bwrap) on PATH; install it, e.g. sudo apt-get "
        "install bubblewrap; see usersnap doctor"]
    doctor = us.run("doctor", env=path, check=False)
    assert doctor.returncode == 1 and "bubblewrap" in doctor.stdout
