"""Debian's real ``snap`` client driving services: ``snap services``, ``start``,
``stop``, ``restart`` (``POST /v2/apps``) and ``snap logs`` (``/v2/logs``, json-seq)."""

from __future__ import annotations

import pytest

from tests.helpers.snaps import build_snap
from tests.integration.test_real_snap_client import Real, ok, snap  # noqa: F401 (fixture)
from tests.integration.test_services import FILES, YAML, wait_for

pytestmark = [pytest.mark.requires_snapd, pytest.mark.requires_fuse,
              pytest.mark.requires_bwrap, pytest.mark.requires_mksquashfs,
              pytest.mark.timeout(300)]


def test_services_start_stop_restart_logs(snap: Real) -> None:  # noqa: F811
    build_snap(snap.cwd, YAML, FILES, executables=list(FILES), name="svcs_1.0_all.snap")
    ok(snap("install", "--dangerous", "./svcs_1.0_all.snap"))
    assert ok(snap("services", "svcs.crasher", "svcs.ticker")).splitlines() == [
        "Service       Startup   Current   Notes",
        "svcs.crasher  disabled  inactive  -",
        "svcs.ticker   enabled   active    -"]
    wait_for(lambda: "tick 1" in ok(snap("logs", "svcs.ticker")))
    line = next(x for x in ok(snap("logs", "-n", "2", "svcs")).splitlines() if "tick" in x)
    assert "svcs.ticker[" in line and ": tick " in line
    assert ok(snap("stop", "--disable", "svcs.ticker")) == "Stopped.\n"
    assert ok(snap("services", "svcs.ticker")).splitlines()[1].split() == [
        "svcs.ticker", "disabled", "inactive", "-"]
    assert ok(snap("start", "--enable", "svcs.ticker")) == "Started.\n"
    assert ok(snap("restart", "--reload", "svcs.ticker")) == "Restarted.\n"
    assert ok(snap("services", "svcs.ticker")).splitlines()[1].split() == [
        "svcs.ticker", "enabled", "active", "-"]
    assert "Stopping Service for snap application svcs.ticker" in ok(
        snap("logs", "-n", "all", "svcs.ticker"))
    missing = snap("start", "svcs.nope")
    assert (missing.returncode, missing.stderr) == (
        1, 'error: snap "svcs" has no service "nope"\n')
