from __future__ import annotations

import subprocess
from pathlib import Path

from usersnap.apps.launchers import bin_on_path, launcher_name, render_launcher, sync_launchers
from usersnap.dirs import Dirs


def test_launcher_names_follow_snap_bin() -> None:
    assert launcher_name("hello", "hello") == "hello"
    assert launcher_name("hello", "env") == "hello.env"


def test_sync_writes_and_removes_only_ours(tmp_path: Path) -> None:
    dirs = Dirs(root=tmp_path, runtime=tmp_path / "run", home=tmp_path, uid=1000)
    dirs.bin.mkdir()
    (dirs.bin / "foreign").write_text("#!/bin/sh\n")
    sync_launchers(dirs, {"hello": ["hello", "env"]})
    assert sorted(p.name for p in dirs.bin.iterdir()) == ["foreign", "hello", "hello.env"]
    assert (dirs.bin / "hello").stat().st_mode & 0o111
    sync_launchers(dirs, {})
    assert sorted(p.name for p in dirs.bin.iterdir()) == ["foreign"]


def test_launcher_is_valid_shell_that_pins_the_root(tmp_path: Path) -> None:
    root = tmp_path / "odd root's dir"
    text = render_launcher("hello.env", root, "/usr/bin/env")
    script = tmp_path / "l"
    script.write_text(text.replace("-m usersnap run", "sh -c 'echo $USERSNAP_ROOT; echo $@' x"))
    out = subprocess.run(["sh", str(script), "a b"], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [str(root), "hello.env a b"]
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_bin_on_path(tmp_path: Path) -> None:
    dirs = Dirs(root=tmp_path, runtime=tmp_path, home=tmp_path, uid=1)
    assert bin_on_path(dirs, f"/usr/bin:{dirs.bin}")
    assert not bin_on_path(dirs, "/usr/bin")
