"""Path attacks from inside a snap: what the app plants in its writable directories
between runs must not make usersnap write, copy, delete or bind outside them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.integration.test_layouts import install, snap_file

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

YAML = """\
name: planted
version: '{version}'
apps:
  sh:
    command: bin/sh
layout:
  /etc/planted:
    bind: $SNAP_DATA/planted
"""


@pytest.fixture
def us() -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory of the user's that no snap may touch."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_text("secret\n")
    return path


def test_symlinks_in_snap_data_survive_refresh_and_remove(us: Usersnap, tmp_path: Path,
                                                          outside: Path) -> None:
    install(us, snap_file(tmp_path, YAML.format(version=1), name="a.snap"))
    us.run("run", "planted.sh", "-c", f"ln -s {outside} $SNAP_DATA/link; "
           f"ln -s {outside}/secret $SNAP_USER_DATA/file; ln -s {outside} $SNAP_COMMON/c")
    install(us, snap_file(tmp_path, YAML.format(version=2), name="b.snap"))  # copies data
    new = us.dirs.data_dir("planted") / "x2"
    assert (new / "link").is_symlink() and str((new / "link").readlink()) == str(outside)
    us.run("remove", "planted")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "secret\n"


def test_a_layout_source_swapped_for_a_symlink_is_not_bound(us: Usersnap, tmp_path: Path,
                                                            outside: Path) -> None:
    """As Flatpak's CVE-2024-42472: the source exists from a first run; between runs the
    app replaces it with a symlink.  The next run must refuse, not bind the target."""
    install(us, snap_file(tmp_path, YAML.format(version=1)))
    us.run("run", "planted.sh", "-c", "true")  # creates $SNAP_DATA/planted
    us.run("run", "planted.sh", "-c", "rmdir $SNAP_DATA/planted; "
           "ln -s /var/snap/planted/common $SNAP_DATA/planted; echo x > $SNAP_COMMON/mark")
    out = us.run("run", "planted.sh", "-c", "ls /etc/planted; echo y > /etc/planted/w",
                 check=False)
    assert out.returncode == 1 and out.stdout == "", out
    assert out.stderr.splitlines()[-1] == (
        'error: cannot set up layout "/etc/planted": cannot use '
        '"/var/snap/planted/x1/planted" as bind-mount source: not a directory')
    assert not (us.dirs.data_dir("planted") / "common" / "w").exists()


BIND_PROBE = """
import ctypes, os, sys
from usersnap.sandbox.nsops import _bind_by_fd, _NsError
libc = ctypes.CDLL(None, use_errno=True)
top = sys.argv[1]
for src in ("real", "link", "linkdir/real"):
    dest = f"{top}/dest-{src.replace('/', '-')}"
    os.mkdir(dest)
    try:
        _bind_by_fd(libc, f"{top}/{src}", dest)
        print(src, "bound", sorted(os.listdir(dest)))
    except _NsError as err:
        print(src, "refused", err)
"""


def test_layout_binds_refuse_symlinks_anywhere_on_the_source_path(tmp_path: Path,
                                                                   outside: Path) -> None:
    """The bind itself (not only the planner's check before it) opens the source with no
    symlink on its path and mounts that very fd, so a swap after the check cannot redirect
    it.  Run in a user and mount namespace of the test's own (unshare -Urm)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    top = tmp_path / "top"
    (top / "real").mkdir(parents=True)
    (top / "real" / "data").write_text("ok\n")
    (top / "link").symlink_to(outside)
    (top / "linkdir").symlink_to(top)
    proc = subprocess.run(["unshare", "-Urm", sys.executable, "-c", BIND_PROBE, str(top)],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "real bound ['data']"
    for line, src in zip(lines[1:], ("link", "linkdir/real"), strict=True):
        assert line == (f"{src} refused cannot bind {top}/{src} on "
                        f"{top}/dest-{src.replace('/', '-')}: a symlink is on its path "
                        "(layout sources must not be symlinks)")
