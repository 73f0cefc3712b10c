"""Debian's real ``snap`` 2.57.6 client against a real usersnapd (rest-api.md §1: the
sockets are reached through ``SNAPPY_GLOBAL_ROOT``): what it prints and how it exits."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snapd_oracle import ORACLE_ENV, snap_binary
from tests.helpers.snaps import build_snap
from usersnap.client import connect

pytestmark = [pytest.mark.requires_snapd, pytest.mark.requires_fuse,
              pytest.mark.requires_bwrap, pytest.mark.requires_mksquashfs,
              pytest.mark.timeout(300)]

YAML = """\
name: hooky
version: '{version}'
summary: hooks
description: a snap for the real client
plugs:
  network:
  home:
apps:
  sh:
    command: bin/sh-wrap
  svc:
    command: bin/sh-wrap
    daemon: oneshot
"""
CONFIGURE = ('if [ "$(snapctl get fail)" = true ]; then echo refusing >&2; exit 1; fi\n')


def snap_file(tmp: Path, version: str, install_hook: str = "snapctl set greeting.text=hello\n"
              ) -> Path:
    files: dict[str, str | bytes] = {
        "bin/sh-wrap": '#!/bin/sh\nexec /bin/sh "$@"\n',
        "meta/hooks/install": "#!/bin/sh\n" + install_hook,
        "meta/hooks/configure": "#!/bin/sh\n" + CONFIGURE,
    }
    return build_snap(tmp, YAML.format(version=version), files,
                      executables=["bin/sh-wrap", "meta/hooks/install", "meta/hooks/configure"],
                      name=f"hooky_{version}_all.snap")


@dataclass
class Real:
    us: Usersnap
    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = snap_binary()
        assert binary is not None
        return subprocess.run([str(binary), *args], env=self.env, cwd=self.cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=90, check=False)


@pytest.fixture
def snap(tmp_path: Path) -> Iterator[Real]:
    if snap_binary() is None:
        pytest.skip("Debian's snapd package is not available")
    with usersnap_session() as us:
        us.run("version")  # start usersnapd: the real client retries GETs for 120 s
        root = tmp_path / "groot"
        (root / "run").mkdir(parents=True)
        (root / "snap" / "bin").mkdir(parents=True)
        (root / "run" / "snapd.socket").symlink_to(us.dirs.socket)
        (root / "run" / "snapd-snap.socket").symlink_to(us.dirs.snap_socket)
        env = {**os.environ, **ORACLE_ENV, "SNAPPY_GLOBAL_ROOT": str(root),
               "SNAPD_LAST_WARNING_TIMESTAMP_FILENAME": str(tmp_path / "warnings.json"),
               "PATH": f"{root / 'snap' / 'bin'}:{os.environ['PATH']}",
               "USERSNAP_IDLE_TIMEOUT": "0"}
        yield Real(us, env, tmp_path)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_version_and_empty_list(snap: Real) -> None:
    lines = [line.split() for line in ok(snap("version")).splitlines()]
    assert lines[0][0] == "snap" and lines[1:3] == [["snapd", "0.1.0"], ["series", "16"]]
    empty = snap("list")
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr == "No snaps are installed yet. Try 'snap install hello-world'.\n"
    assert snap("list", "nope").stderr == "error: no matching snaps installed\n"


def test_install_list_info_revert_remove(snap: Real) -> None:
    snap_file(snap.cwd, "1.0")
    snap_file(snap.cwd, "2.0")
    unsigned = snap("install", "./hooky_1.0_all.snap")
    assert unsigned.returncode == 1
    assert unsigned.stderr == ('error: cannot find signatures with metadata for snap '
                               '"./hooky_1.0_all.snap"\n')
    assert ok(snap("install", "--dangerous", "./hooky_1.0_all.snap")) == "hooky 1.0 installed\n"
    assert ok(snap("install", "--dangerous", "./hooky_2.0_all.snap")) == "hooky 2.0 installed\n"
    assert ok(snap("list")).splitlines() == [
        "Name   Version  Rev  Tracking  Publisher  Notes",
        "hooky  2.0      x2   -         -          -"]
    assert ok(snap("list", "--all")).splitlines()[1:] == [
        "hooky  1.0      x1   -         -          disabled",
        "hooky  2.0      x2   -         -          -"]
    info = ok(snap("info", "hooky"))
    assert info.startswith("name:      hooky\nsummary:   hooks\n")
    assert "commands:\n  - hooky.sh\nservices:\n  hooky.svc: oneshot, enabled, inactive\n" in info
    assert "installed:    2.0 (x2)" in info
    assert ok(snap("revert", "hooky")) == "hooky reverted to 1.0\n"
    changes = ok(snap("changes")).splitlines()
    assert changes[0].split() == ["ID", "Status", "Spawn", "Ready", "Summary"]
    assert [c.split()[1] for c in changes[1:-1]] == ["Done", "Done", "Done"]
    assert changes[-1] == ""
    tasks = ok(snap("tasks", "1"))
    assert 'Run install hook of "hooky" snap if present' in tasks
    assert 'Run health check of "hooky" snap' in tasks
    tasks2 = ok(snap("tasks", "2"))
    assert 'Run pre-refresh hook of "hooky" snap if present' in tasks2
    assert ok(snap("remove", "hooky")) == "hooky removed\n"
    again = snap("remove", "hooky")
    assert (again.returncode, again.stdout) == (0, "")
    assert again.stderr == 'snap "hooky" is not installed\n'
    gone = snap("info", "hooky")
    assert gone.returncode == 1 and gone.stderr == 'error: no snap found for "hooky"\n'


def test_get_set_unset(snap: Real) -> None:
    snap_file(snap.cwd, "1.0")
    ok(snap("install", "--dangerous", "./hooky_1.0_all.snap"))
    assert ok(snap("get", "hooky", "greeting.text")) == "hello\n"
    assert ok(snap("set", "hooky", "greeting.text=bye", "n=3")) == ""
    assert ok(snap("get", "hooky", "n")) == "3\n"
    assert ok(snap("get", "-d", "hooky")) == (
        '{\n\t"greeting": {\n\t\t"text": "bye"\n\t},\n\t"n": 3\n}\n')
    assert ok(snap("get", "-l", "hooky")).splitlines() == [
        "Key       Value", "greeting  {...}", "n         3"]
    ok(snap("unset", "hooky", "greeting.text"))
    missing = snap("get", "hooky", "greeting.text")
    assert missing.returncode == 1
    assert missing.stderr == 'error: snap "hooky" has no "greeting.text" configuration option\n'
    refused = snap("set", "hooky", "fail=true")
    assert refused.returncode == 1
    assert refused.stderr == ('error: cannot perform the following tasks:\n'
                              '- Run configure hook of "hooky" snap (run hook "configure": '
                              "refusing)\n")
    assert ok(snap("get", "-d", "hooky")) == '{\n\t"greeting": {},\n\t"n": 3\n}\n'
    bad = snap("set", "hooky", "Bad=1")
    assert bad.returncode == 1 and 'invalid option name: \\"Bad\\"' not in bad.stderr
    assert 'invalid option name: "Bad"' in bad.stderr
    unknown = snap("set", "nothere", "a=1")
    assert (unknown.returncode, unknown.stderr) == (1, 'error: snap "nothere" not found\n')


def test_interfaces_services_warnings_aliases(snap: Real) -> None:
    snap_file(snap.cwd, "1.0")
    ok(snap("install", "--dangerous", "./hooky_1.0_all.snap"))
    connected = [
        "Interface  Plug           Slot      Notes",
        "home       hooky:home     :home     -",
        "network    hooky:network  :network  -"]
    assert ok(snap("connections")).splitlines() == connected
    assert ok(snap("connections", "--all")).splitlines() == connected
    assert ok(snap("connections", "hooky")).splitlines() == connected
    assert ok(snap("interface")).splitlines() == [
        "Name     Summary",
        "home     allows access to non-hidden files in the home directory",
        "network  allows access to the network"]
    assert ok(snap("interface", "network")) == (
        "name:          network\nsummary:       allows access to the network\n"
        "documentation: https://snapcraft.io/docs/network-interface\n"
        "plugs:\n  - hooky\nslots:\n  - snapd\n")
    assert ok(snap("disconnect", "hooky:network")) == ""
    assert ok(snap("connections", "--all")).splitlines() == [
        "Interface  Plug           Slot   Notes",
        "home       hooky:home     :home  -",
        "network    hooky:network  -      -"]
    assert ok(snap("disconnect", "hooky:network")) == "No connections to disconnect\n"
    bad = snap("connect", "hooky:nope")
    assert (bad.returncode, bad.stderr) == (
        1, 'error: snap "hooky" has no plug named "nope"\n')
    assert ok(snap("connect", "hooky:network")) == ""
    assert ok(snap("connections", "hooky")).splitlines()[2] == \
        "network    hooky:network  :network  manual"
    assert ok(snap("services")).splitlines() == [
        "Service    Startup  Current   Notes", "hooky.svc  enabled  inactive  -"]
    no_svc = snap("services", "hooky.sh")
    assert no_svc.returncode == 1 and 'has no service "sh"' in no_svc.stderr
    assert ok(snap("warnings")) == "No warnings.\n"
    aliases = snap("aliases")
    assert (aliases.returncode, aliases.stdout) == (0, "")
    assert aliases.stderr.startswith("No aliases are currently defined.")


def test_conflicting_change_exits_10(snap: Real) -> None:
    snap_file(snap.cwd, "1.0", install_hook="sleep 30\n")
    change_id = ok(snap("install", "--dangerous", "--no-wait", "./hooky_1.0_all.snap")).strip()
    deadline = time.monotonic() + 30
    with connect(snap.us.dirs) as client:
        while True:
            change = client.get(f"/v2/changes/{change_id}")
            assert isinstance(change, dict)
            if any(t["status"] == "Doing" and t["kind"] == "run-hook" for t in change["tasks"]):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
    busy = snap("remove", "hooky")
    assert busy.returncode == 10
    assert busy.stderr == 'error: snap "hooky" has "install-snap" change in progress\n'
    ok(snap("abort", change_id))
    watched = snap("watch", change_id)
    assert watched.returncode == 1
    assert "Undone" in watched.stderr
    assert snap("list").stderr.startswith("No snaps are installed yet")
