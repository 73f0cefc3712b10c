"""Interfaces for real: install auto-connects, ``usersnap connect``/``disconnect`` change
what a real bwrap sandbox (real daemon, real FUSE) lets the app see."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

PROBE_YAML = """\
name: ifprobe
version: '1.0'
plugs:
  home:
  network:
  removable-media:
  dotconf:
    interface: personal-files
    read: [$HOME/.probe-config]
  shared:
    interface: content
    content: probe-data
    target: $SNAP/ext
apps:
  sh:
    command: bin/sh-c
"""
PROVIDER_YAML = """\
name: ifdata
version: '1.0'
slots:
  data:
    interface: content
    content: probe-data
    read: [$SNAP/shared]
"""
SH = '#!/bin/sh\nexec /bin/sh -c "$1"\n'


@pytest.fixture
def us(tmp_path: Path) -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def install_probe(us: Usersnap, tmp: Path) -> None:
    snap = build_snap(tmp, PROBE_YAML, {"bin/sh-c": SH, "ext/.keep": ""},
                      executables=["bin/sh-c"], name="ifprobe.snap")
    us.run("install", "--dangerous", str(snap))


def sh(us: Usersnap, script: str, home: Path | None = None, check: bool = True) -> str:
    """``script`` run by the probe; with ``home``, ``~`` is that (the real $HOME) rather
    than the app's $HOME ($SNAP_USER_DATA)."""
    if home is not None:
        script = f"HOME={home}; " + script
    proc = us.run("run", "ifprobe.sh", script, check=check)
    return proc.stdout


def test_auto_connect_and_connections_table(us: Usersnap, tmp_path: Path) -> None:
    install_probe(us, tmp_path)
    assert us.run("connections").stdout.splitlines() == [
        "Interface  Plug             Slot      Notes",
        "home       ifprobe:home     :home     -",
        "network    ifprobe:network  :network  -",
    ]
    rows = [r.split() for r in us.run("connections", "ifprobe").stdout.splitlines()]
    assert rows == [
        ["Interface", "Plug", "Slot", "Notes"],
        ["content", "ifprobe:shared", "-", "-"],
        ["home", "ifprobe:home", ":home", "-"],
        ["network", "ifprobe:network", ":network", "-"],
        ["personal-files", "ifprobe:dotconf", "-", "-"],
        ["removable-media", "ifprobe:removable-media", "-", "-"],
    ]


def test_home_shows_visible_files_only(us: Usersnap, tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    (home / "visible.txt").write_text("seen\n")
    (home / ".ssh").mkdir(exist_ok=True)
    (home / ".ssh" / "id_test").write_text("secret\n")
    (home / ".secret").write_text("secret\n")
    install_probe(us, tmp_path)
    assert sh(us, f"cat {home}/visible.txt") == "seen\n"
    out = sh(us, f"ls -A {home}/.ssh; cat {home}/.secret 2>/dev/null || echo denied")
    assert out == "denied\n"
    assert sh(us, f"touch {home}/.ssh/new 2>/dev/null || echo read-only") == "read-only\n"
    assert sorted(p.name for p in (home / ".ssh").iterdir()) == ["id_test"]
    us.run("disconnect", "ifprobe:home")
    assert sh(us, f"cat {home}/visible.txt 2>/dev/null || echo gone") == "gone\n"
    assert sh(us, f"ls -A {home}") == "snap\n"


def test_home_symlinks_resolve_like_apparmor(us: Usersnap, tmp_path: Path) -> None:
    """snapd's AppArmor rules match the path a symlink resolves to: a link (hidden or not)
    to a hidden entry is denied, a hidden link to a visible file is not.  usersnap leaves
    top-level links alone and gets the same answers from the covers they resolve into."""
    home = Path(os.environ["HOME"])
    (home / "visible.txt").write_text("seen\n")
    (home / ".ssh").mkdir(exist_ok=True)
    (home / ".ssh" / "id_test").write_text("secret\n")
    (home / ".secret").write_text("secret\n")
    for name, target in ((".ssh-link", ".ssh"), ("keys", ".ssh"), ("abs-keys", f"{home}/.ssh"),
                         (".secret-link", ".secret"), ("secret-link", ".secret"),
                         (".dotlink", "visible.txt")):
        (home / name).symlink_to(target)
    install_probe(us, tmp_path)
    script = "; ".join(f"cat {home}/{path} 2>/dev/null || echo denied" for path in (
        ".ssh-link/id_test", "keys/id_test", "abs-keys/id_test", ".secret-link", "secret-link",
        ".dotlink"))
    assert sh(us, script).splitlines() == ["denied"] * 5 + ["seen"]
    assert sh(us, f"echo x > {home}/keys/planted 2>/dev/null || echo read-only") == "read-only\n"
    assert sorted(p.name for p in (home / ".ssh").iterdir()) == ["id_test"]


def test_home_new_entries_persist_and_hidden_ones_cannot_be_made(
        us: Usersnap, tmp_path: Path) -> None:
    """Issue #4: new visible top-level entries reach the real $HOME, as under snapd; new
    hidden ones are refused (snapd's AppArmor denies them) and leave nothing behind."""
    home = Path(os.environ["HOME"])
    (home / "visible.txt").write_text("one\n")
    install_probe(us, tmp_path)
    before = {p.name for p in home.iterdir()}
    assert sh(us, "echo new > ~/newfile && mkdir -p ~/newdir/sub && echo deep > "
                  "~/newdir/sub/file && echo two >> ~/visible.txt && echo ok", home) == "ok\n"
    assert (home / "newfile").read_text() == "new\n"
    assert (home / "newdir" / "sub" / "file").read_text() == "deep\n"
    assert (home / "visible.txt").read_text() == "one\ntwo\n"
    # an editor's atomic save over an existing top-level file
    sh(us, "echo saved > ~/visible.txt.new && mv ~/visible.txt.new ~/visible.txt", home)
    assert (home / "visible.txt").read_text() == "saved\n"
    attempts = ["echo x > ~/.bash_login", "mkdir ~/.config", "mkdir ~/.ssh",
                "mv ~/newfile ~/.hidden", "ln -s x ~/.evil", "ln ~/newfile ~/.evil2",
                "mkfifo ~/.fifo", "mkdir ~/snap/other"]
    script = "; ".join(f"{{ {a}; }} 2>/dev/null && echo made || echo refused" for a in attempts)
    assert sh(us, script, home).splitlines() == ["refused"] * len(attempts)
    assert {p.name for p in home.iterdir()} == before | {"newfile", "newdir"}
    assert (home / "newfile").read_text() == "new\n"
    # the view itself is no way round: hidden in the sandbox's /snap
    assert sh(us, "ls -A /snap/.home 2>/dev/null; cat /snap/.home/visible.txt 2>/dev/null "
                  "|| echo hidden") == "hidden\n"


#: Plans ifprobe.sh with home, then swaps ~/Documents for a symlink to .ssh, then starts
#: the planned sandbox: what a snap racing the launcher could do.
SWAP_AFTER_PLANNING = """
import os, sys
from pathlib import Path
from usersnap.cli.installed import load_installed
from usersnap.dirs import Dirs
from usersnap.sandbox.installed import plan_installed
from usersnap.sandbox.launch import prepare_host_dirs, prepare_launch, run_prepared
dirs = Dirs.from_env()
snap = load_installed(dirs, "ifprobe")
home = str(dirs.home)
spec = plan_installed(dirs, snap.info, snap.revision, snap.base_tree, host_env=os.environ,
                      app=snap.info.apps["sh"], args=[sys.argv[1]])
launch = prepare_launch(spec)
os.rename(home + "/Documents", home + "/Documents.old")
os.symlink(".ssh", home + "/Documents")
prepare_host_dirs(dirs, "ifprobe", snap.revision)
sys.exit(run_prepared(spec, launch, run_lock=dirs.run_lock))
"""


def test_home_entry_swapped_for_a_symlink_is_not_followed(us: Usersnap, tmp_path: Path) -> None:
    """Existing entries are bound from descriptors the launcher opens without following
    symlinks: one swapped for a link to ~/.ssh after planning is not bound (the view
    shows the link, which resolves to the hidden placeholder)."""
    home = Path(os.environ["HOME"])
    (home / "Documents").mkdir()
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text("secret\n")
    install_probe(us, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", SWAP_AFTER_PLANNING,
         f"cat {home}/Documents/id_rsa 2>/dev/null || echo denied; readlink {home}/Documents"],
        capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout) == (0, "denied\n.ssh\n"), proc.stderr


def test_home_top_level_changes_reach_the_next_run(us: Usersnap, tmp_path: Path) -> None:
    """The list of top-level entries is planned with: a run after it changed binds what
    is there now (the run cache's record of the last plan no longer matches)."""
    home = Path(os.environ["HOME"])
    (home / "gone").mkdir()
    install_probe(us, tmp_path)
    devices = "stat -c %d ~ ~/{name}"
    first = sh(us, devices.format(name="gone"), home).split()
    assert first[0] != first[1]  # bound straight from the real $HOME, not the view
    sh(us, "mkdir ~/made", home)
    made = sh(us, devices.format(name="made"), home).split()
    assert made[0] != made[1] and made[1] == first[1]
    (home / "gone").rmdir()  # planned for a bind, now missing: the launch still works
    (home / "later").mkdir()
    (home / "later" / "file").write_text("later\n")
    (home / "top.txt").write_text("top\n")  # files stay in the view: see plan._home_ops
    later = sh(us, "cat ~/later/file ~/top.txt; stat -c %d ~ ~/later ~/top.txt", home).split()
    assert later[:2] == ["later", "top"] and later[2] != later[3] and later[2] == later[4]


def test_home_without_a_view_has_a_read_only_top_level(us: Usersnap, tmp_path: Path) -> None:
    """usersnapd serves the view of the $HOME it was started with: a run with another
    $HOME gets the fallback, a tmpfs with that $HOME's visible entries, read-only."""
    install_probe(us, tmp_path)  # starts usersnapd with the test's $HOME
    other = tmp_path / "other-home"
    (other / ".ssh").mkdir(parents=True)
    (other / "docs").mkdir()
    (other / "visible.txt").write_text("seen\n")
    (other / "link").symlink_to("visible.txt")
    script = (f"cat {other}/link; echo more >> {other}/docs/notes; ls -A {other}; "
              f"for p in new .bash_login; do echo x > {other}/$p 2>/dev/null || echo refused; "
              "done")
    proc = us.run("run", "ifprobe.sh", script, env={"HOME": str(other)})
    assert proc.stdout.splitlines() == ["seen", "docs", "link", "snap", "visible.txt",
                                        "refused", "refused"]
    assert "the top level of $HOME is read-only" in proc.stderr
    assert (other / "docs" / "notes").read_text() == "more\n"
    assert sorted(p.name for p in other.iterdir()) == [".ssh", "docs", "link", "visible.txt"]


def _listener() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def serve() -> None:
        try:
            while True:
                server.accept()[0].close()
        except OSError:  # closed by the test
            pass

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def seccomp_sources(us: Usersnap) -> str:
    """The ``# source:`` lines of the profile ``usersnap run ifprobe.sh`` loads."""
    profile = us.run("debug", "seccomp", "ifprobe.sh").stdout
    return "".join(line for line in profile.splitlines(True) if line.startswith("# source:"))


def test_network_follows_the_connection(us: Usersnap, tmp_path: Path) -> None:
    install_probe(us, tmp_path)
    server, port = _listener()
    probe = (f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 5)"
             "' && echo reached; grep -c : /proc/net/dev")
    try:
        out = sh(us, probe, check=False)
        assert "reached" in out
        us.run("disconnect", "ifprobe:network")
        out = sh(us, probe, check=False)
        assert "reached" not in out and out.strip().splitlines()[-1] == "1"  # lo only
        assert 'interface "network"' not in seccomp_sources(us)
        us.run("connect", "ifprobe:network")
        assert "reached" in sh(us, probe, check=False)
        assert 'interface "network"' in seccomp_sources(us)
    finally:
        server.close()


def test_removable_media_and_personal_files(us: Usersnap, tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    (home / ".probe-config").write_text("config\n")
    install_probe(us, tmp_path)
    media_dev = str(os.stat("/media").st_dev)
    assert sh(us, "stat -c %d /media").strip() != media_dev
    assert sh(us, f"cat {home}/.probe-config 2>/dev/null || echo hidden") == "hidden\n"
    us.run("connect", "ifprobe:removable-media")
    us.run("connect", "ifprobe:dotconf")
    assert sh(us, "stat -c %d /media").strip() == media_dev
    assert sh(us, f"cat {home}/.probe-config") == "config\n"
    rows = [r.split() for r in us.run("connections").stdout.splitlines()[1:]]
    assert ["personal-files", "ifprobe:dotconf", ":personal-files", "manual"] in rows


def test_content_from_an_installed_provider(us: Usersnap, tmp_path: Path) -> None:
    provider = build_snap(tmp_path, PROVIDER_YAML, {"shared/data.txt": "shared data\n"},
                          name="ifdata.snap")
    us.run("install", "--dangerous", str(provider))
    install_probe(us, tmp_path)
    rows = [r.split() for r in us.run("connections").stdout.splitlines()[1:]]
    assert ["content[probe-data]", "ifprobe:shared", "ifdata:data", "-"] in rows
    assert sh(us, 'cat "$SNAP/ext/data.txt"') == "shared data\n"
    us.run("disconnect", "ifprobe:shared", "ifdata:data")
    assert sh(us, 'ls -A "$SNAP/ext"') == ".keep\n"


def test_connect_errors_are_snaps(us: Usersnap, tmp_path: Path) -> None:
    install_probe(us, tmp_path)
    bad = us.run("connect", "ifprobe:nope", check=False)
    assert (bad.returncode, bad.stderr) == (
        1, 'error: snap "ifprobe" has no plug named "nope"\n')
    wrong = us.run("connect", "ifprobe:home", ":network", check=False)
    assert wrong.stderr == ('error: cannot connect ifprobe:home ("home" interface) to '
                            'snapd:network ("network" interface)\n')
    assert us.run("connect", "ifprobe:removable-media").stdout == ""
    assert us.run("disconnect", "ifprobe:removable-media").stdout == ""
    none = us.run("disconnect", "ifprobe:removable-media")
    assert none.stdout == "No connections to disconnect\n"
    assert us.run("interface").stdout.splitlines() == [
        "Name     Summary",
        "home     allows access to non-hidden files in the home directory",
        "network  allows access to the network",
    ]
