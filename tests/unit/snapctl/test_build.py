from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from usersnap.dirs import Dirs
from usersnap.snapctl import snapctl_dir
from usersnap.snapctl.build import ensure_snapctl


def dirs(tmp_path: Path) -> Dirs:
    return Dirs(root=tmp_path, runtime=tmp_path / "rt", home=tmp_path, uid=os.getuid())


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="no C compiler")
def test_builds_a_static_binary_once(tmp_path: Path) -> None:
    d = dirs(tmp_path)
    binary = ensure_snapctl(d, {})
    assert binary == snapctl_dir(d) / "snapctl"
    assert sorted(p.name for p in snapctl_dir(d).iterdir()) == ["snapctl"]
    mtime = binary.stat().st_mtime_ns
    assert ensure_snapctl(d, {}) == binary and binary.stat().st_mtime_ns == mtime
    out = subprocess.run(["file", str(binary)], capture_output=True, text=True, check=False,
                         timeout=30).stdout
    assert "statically linked" in out or not out
    # no daemon listens: the Go client's wording, exit 1
    proc = subprocess.run([str(binary), "get", "x"], capture_output=True, text=True,
                          env={"SNAPPY_GLOBAL_ROOT": str(tmp_path / "nowhere")}, timeout=30,
                          check=False)
    assert proc.returncode == 1
    assert proc.stderr.endswith("/run/snapd-snap.socket: connect: no such file or directory\n")


def test_override_is_copied(tmp_path: Path) -> None:
    d = dirs(tmp_path)
    fake = tmp_path / "fake"
    fake.write_text("#!/bin/sh\necho fake\n")
    binary = ensure_snapctl(d, {"USERSNAP_SNAPCTL": str(fake)})
    assert binary is not None and binary.read_text() == fake.read_text()
    assert os.access(binary, os.X_OK)
    assert ensure_snapctl(d, {"USERSNAP_SNAPCTL": str(tmp_path / "missing")}) is None
