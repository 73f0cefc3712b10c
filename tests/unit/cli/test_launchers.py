from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import usersnap
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
    python = tmp_path / "python"  # prints what the launcher gives it, one item per line
    python.write_text('#!/bin/sh\necho "$USERSNAP_ROOT"; for a in "$@"; do echo "$a"; done\n')
    python.chmod(0o755)
    script = tmp_path / "l"
    script.write_text(render_launcher("hello.env", root, str(python)))
    out = subprocess.run(["sh", str(script), "a b"], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == str(root)
    assert lines[1:4] == ["-I", "-S", "-c"]
    assert lines[5:] == [str(Path(usersnap.__file__).parents[1]), "hello.env", "a b"]
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_launcher_runs_usersnap_without_site(tmp_path: Path) -> None:
    """The launcher's Python finds usersnap without site and hands main() `run APP ARGS`."""
    script = tmp_path / "l"
    script.write_text(render_launcher("hello.env", tmp_path, sys.executable))
    probe = tmp_path / "usersnap-probe"  # stands in for the package's parent directory
    (probe / "usersnap" / "cli").mkdir(parents=True)
    (probe / "usersnap" / "__init__.py").write_text("")
    (probe / "usersnap" / "cli" / "__init__.py").write_text("")
    (probe / "usersnap" / "cli" / "main.py").write_text(
        "import sys\n"
        "def main(argv):\n"
        "    print(argv, 'site' in sys.modules)\n"
        "    return 3\n"
    )
    source = str(Path(usersnap.__file__).parents[1])
    text = script.read_text().replace(f"' {source} hello.env", f"' {probe} hello.env")
    script.write_text(text)
    out = subprocess.run(["sh", str(script), "a b"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 3
    assert out.stdout.strip() == "['run', 'hello.env', 'a b'] False"


def test_bin_on_path(tmp_path: Path) -> None:
    dirs = Dirs(root=tmp_path, runtime=tmp_path, home=tmp_path, uid=1)
    assert bin_on_path(dirs, f"/usr/bin:{dirs.bin}")
    assert not bin_on_path(dirs, "/usr/bin")
