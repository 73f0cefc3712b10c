"""Test isolation and capability markers.

Every test gets its own USERSNAP_ROOT, HOME, XDG dirs and a short runtime dir (unix
socket paths are limited to 107 bytes), so no test touches the real user.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capabilities import MUST_WORK, missing


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers():
        if marker.name.startswith("requires_"):
            why = missing(marker.name.removeprefix("requires_"))
            if why:
                if MUST_WORK and marker.name not in ("requires_snapd", "requires_root"):
                    pytest.fail(f"USERSNAP_MUST_WORK=1 but {why}")
                pytest.skip(why)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    runtime = Path(tempfile.mkdtemp(prefix="us-", dir="/tmp"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("USERSNAP_ROOT", str(tmp_path / "root"))
    monkeypatch.delenv("USERSNAP_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("USERSNAP_IDLE_TIMEOUT", "600")
    # never the real store (``info`` of a store snap asks it): a closed port, refused at
    # once; tests of the store set their loopback store's URL
    monkeypatch.setenv("USERSNAP_STORE_URL", "http://127.0.0.1:9")
    try:
        yield tmp_path
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
