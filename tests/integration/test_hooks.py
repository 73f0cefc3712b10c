"""Hooks, configuration and snapctl as a user meets them: the real CLI, a real usersnapd,
hooks confined by real bwrap, snapctl (ours, built by the daemon, and Debian's) inside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snapd_oracle import snap_binary
from tests.helpers.snaps import build_snap, mksquashfs
from tests.helpers.testbase import build_testbase
from usersnap.client import connect

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

YAML = """\
name: hooky
version: '{version}'
summary: hooks
description: a snap with hooks
{base}apps:
  sh:
    command: bin/sh-wrap
  svc:
    command: bin/sh-wrap
    daemon: oneshot
"""
LOG = 'echo "$0 $SNAP_REVISION" >> "$SNAP_COMMON/hooks.log"\n'
HOOKS = {
    "install": LOG + "echo installing; snapctl set installed=yes greeting.text=hello\n"
                     '[ "$(cat $SNAP/fail-install 2>/dev/null)" = yes ] && '
                     "{ echo install broke >&2; exit 3; }\nexit 0\n",
    "configure": LOG + 'echo "configure sees $(snapctl get greeting.text)"\n'
                       'if [ "$(snapctl get fail)" = true ]; then echo refusing >&2; exit 1; fi\n'
                       'snapctl set seen-by-configure="$(snapctl get greeting.text)"\n',
    "pre-refresh": LOG,
    "post-refresh": LOG,
    "remove": LOG + "exit 1\n",
    "check-health": 'snapctl set-health blocked "waiting for the owl" --code=owl-missing\n',
}


def hooky(tmp: Path, version: str = "1.0", *, hooks: Mapping[str, str] | None = None,
          extra: Mapping[str, str] | None = None, base: str = "",
          name: str = "hooky.snap") -> Path:
    hooks = HOOKS if hooks is None else hooks
    files: dict[str, str | bytes] = {"bin/sh-wrap": '#!/bin/sh\nexec /bin/sh "$@"\n'}
    files.update({f"meta/hooks/{h}": "#!/bin/sh\n" + body for h, body in hooks.items()})
    files.update(extra or {})
    yaml = YAML.format(version=version, base=f"base: {base}\n" if base else "")
    return build_snap(tmp, yaml, files,
                      executables=["bin/sh-wrap", *(f"meta/hooks/{h}" for h in hooks)],
                      name=name)


@pytest.fixture
def us() -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def conf(us: Usersnap, *keys: str) -> object:
    return json.loads(us.run("get", "-d", "hooky", *keys).stdout)


def hook_log(us: Usersnap) -> list[str]:
    path = us.dirs.data_dir("hooky") / "common" / "hooks.log"
    return [line.split("/meta/hooks/")[-1] for line in path.read_text().splitlines()]


def traces(us: Usersnap) -> list[str]:
    """What of hooky is anywhere under the root or the runtime directory."""
    return [str(p) for top in (us.dirs.root, us.dirs.runtime) for p in top.rglob("*hooky*")]


def api(us: Usersnap, path: str) -> Any:
    with connect(us.dirs) as client:
        return client.get(path)


def test_install_hooks_configure_and_health(us: Usersnap, tmp_path: Path) -> None:
    assert us.run("install", "--dangerous", str(hooky(tmp_path))).stdout == \
        "hooky 1.0 installed\n"
    assert hook_log(us) == ["install x1", "configure x1"]
    assert conf(us) == {"installed": "yes", "greeting": {"text": "hello"},
                        "seen-by-configure": "hello"}
    tasks = us.run("tasks", "1").stdout
    assert "Run install hook of \"hooky\" snap if present" in tasks
    assert "INFO installing" in tasks and "INFO configure sees hello" in tasks
    health = api(us, "/v2/snaps/hooky")["health"]
    assert {k: health[k] for k in ("status", "message", "code", "revision")} == {
        "status": "blocked", "message": "waiting for the owl", "code": "owl-missing",
        "revision": "x1"}


def test_set_runs_configure_and_a_failing_hook_rejects_it(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(hooky(tmp_path)))
    us.run("set", "-s", "hooky", "greeting.text=bye", "n=3", "list=[1,2]", "s=007")
    assert conf(us, "greeting", "n", "s") == {"greeting": {"text": "bye"}, "n": "3",
                                              "s": "007"}
    assert us.run("get", "hooky", "seen-by-configure").stdout == "bye\n"
    before = conf(us)
    bad = us.run("set", "hooky", "fail=true", "greeting.text=lost", check=False)
    assert bad.returncode == 1
    assert bad.stderr == ('error: cannot perform the following tasks:\n'
                          '- Run configure hook of "hooky" snap (run hook "configure": \n'
                          "-----\nconfigure sees lost\nrefusing\n-----)\n")
    assert conf(us) == before
    assert us.run("get", "-t", "hooky", "seen-by-configure").stdout == '"bye"\n'
    us.run("unset", "hooky", "n", "greeting.text")
    assert conf(us, "greeting") == {"greeting": {}}
    missing = us.run("get", "hooky", "n", check=False)
    assert missing.returncode == 1
    assert missing.stderr == 'error: snap "hooky" has no "n" configuration option\n'


def test_set_needs_a_configure_hook(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(hooky(tmp_path, hooks={})))
    out = us.run("set", "hooky", "a=1", check=False)
    assert out.returncode == 1
    assert out.stderr == ('error: cannot perform the following tasks:\n'
                          '- Run configure hook of "hooky" snap '
                          '(snap "hooky" has no "configure" hook)\n')
    assert us.run("get", "hooky", check=False).stderr == \
        'error: snap "hooky" has no configuration\n'


def test_failing_install_hook_leaves_no_trace(us: Usersnap, tmp_path: Path) -> None:
    us.run("version")  # the daemon and its state exist before the snapshot
    state = us.state_bytes()
    snap = hooky(tmp_path, extra={"fail-install": "yes\n"})
    out = us.run("install", "--dangerous", str(snap), check=False)
    assert out.returncode == 1
    assert out.stderr.startswith(
        'error: cannot perform the following tasks:\n'
        '- Run install hook of "hooky" snap if present (run hook "install": \n'
        "-----\ninstalling\ninstall broke\n-----)")
    assert us.run("list", check=False).stderr.startswith("No snaps are installed yet")
    assert traces(us) == []
    assert json.loads(us.state_bytes())["snaps"] == json.loads(state or b'{"snaps": {}}')["snaps"]


def test_refresh_hooks_run_on_the_right_revisions(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(hooky(tmp_path, "1.0", name="a.snap")))
    us.run("install", "--dangerous", str(hooky(tmp_path, "2.0", name="b.snap")))
    assert hook_log(us) == ["install x1", "configure x1", "pre-refresh x1", "post-refresh x2",
                            "configure x2"]
    us.run("revert", "hooky")
    assert hook_log(us)[-1] == "configure x1"
    # the remove hook fails: ignored, and logged in its task
    out = us.run("remove", "hooky")
    assert out.stdout == "hooky removed\n"


def test_remove_hook_failure_is_ignored_and_logged(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(hooky(tmp_path)))
    us.run("remove", "hooky")
    tasks = us.run("tasks", "2").stdout
    assert 'ERROR ignoring failure in hook "remove": exit status 1' in tasks
    assert not us.dirs.data_dir("hooky").exists()


def test_hook_timeout_kills_it(us: Usersnap, tmp_path: Path) -> None:
    snap = hooky(tmp_path, hooks={"install": "echo started; sleep 60\n"})
    out = us.run("install", "--dangerous", str(snap), check=False,
                 env={"USERSNAP_HOOK_TIMEOUT": "1"})
    assert out.returncode == 1
    # snapd appends "\n<why>" to the output kept so far
    assert ('(run hook "install": \n-----\nstarted\n\n<exceeded maximum runtime of 1s>\n'
            "-----)") in out.stderr


def test_abort_undoes_a_running_install(us: Usersnap, tmp_path: Path) -> None:
    us.run("version")
    snap = hooky(tmp_path, hooks={"install": "sleep 60\n"})
    change_id = us.run("install", "--dangerous", "--no-wait", str(snap)).stdout.strip()
    deadline = time.monotonic() + 30
    while not any(t["status"] == "Doing" and "install hook" in t["summary"]
                  for t in api(us, f"/v2/changes/{change_id}")["tasks"]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    us.run("abort", change_id)
    watched = us.run("watch", change_id, check=False)
    assert watched.returncode == 1
    assert watched.stderr == 'error: change finished in status "Undone" with no error message\n'
    changes = us.run("changes").stdout.splitlines()
    assert changes[1].split()[:2] == [change_id, "Undone"]
    assert traces(us) == []
    again = us.run("abort", change_id, check=False)
    assert again.stderr == f"error: cannot abort change {change_id} with nothing pending\n"


def test_snapctl_from_an_app_commits_at_once(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(hooky(tmp_path, hooks={})))
    out = us.run("run", "hooky.sh", "-c",
                 "snapctl set a.b=1 s=x && snapctl get a.b && snapctl get -d s; "
                 "snapctl is-connected nope; echo rc=$?; snapctl services; "
                 "snapctl get :p x; echo rc=$?; snapctl nonsense; echo rc=$?", check=False)
    assert out.stdout.splitlines() == ["1", "{", '\t"s": "x"', "}", "rc=1",
                                       "Service    Startup  Current   Notes",
                                       "hooky.svc  enabled  inactive  -",
                                       "rc=1", "rc=1"]
    assert [line for line in out.stderr.splitlines() if not line.startswith("usersnap: ")] == [
        'error: error running snapctl: snap "hooky" has no plug or slot named "nope"',
        "error: error running snapctl: interface attributes can only be read during the "
        "execution of interface hooks",
        "error: error running snapctl: Unknown command `nonsense'. Please specify one "
        "command of: get, is-connected, restart, services, set, set-health, start, stop, "
        "unset"]
    assert conf(us) == {"a": {"b": 1}, "s": "x"}


def test_snapctl_outside_a_snap_and_with_a_stale_cookie(us: Usersnap, tmp_path: Path) -> None:
    us.run("install", "--dangerous", str(hooky(tmp_path, hooks={})))
    binary = us.dirs.cache / "snapctl" / "snapctl"
    root = tmp_path / "groot"
    (root / "run").mkdir(parents=True)
    (root / "run" / "snapd-snap.socket").symlink_to(us.dirs.snap_socket)
    env = {**os.environ, "SNAPPY_GLOBAL_ROOT": str(root), "SNAP_COOKIE": "stale"}
    out = subprocess.run([str(binary), "get", "a"], env=env, capture_output=True, text=True,
                         timeout=30, check=False)
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == ('error: error running snapctl: cannot invoke snapctl operation '
                          'commands (here "get") from outside of a snap\n')
    helped = subprocess.run([str(binary), "get", "--help"], env=env, capture_output=True,
                            text=True, timeout=30, check=False)
    assert helped.returncode == 0 and helped.stdout.startswith("Usage:\n  snapctl [OPTIONS] get")
    gone = subprocess.run([str(binary), "get", "a"], capture_output=True, text=True,
                          timeout=30, check=False,
                          env={**env, "SNAPPY_GLOBAL_ROOT": str(tmp_path / "none")})
    assert gone.stderr == (
        'error: cannot communicate with server: Post "http://localhost/v2/snapctl": dial unix '
        f'{tmp_path}/none/run/snapd-snap.socket: connect: no such file or directory\n')


def _core_like_base(tmp: Path) -> Path:
    """A base without Python that, like core22, has /usr/lib/snapd and a
    /usr/bin/snapctl symlink into it."""
    build_testbase(tmp, dirs=["usr/lib/snapd"])
    root = tmp / "testbase.d"
    (root / "usr" / "bin" / "snapctl").symlink_to("../lib/snapd/snapctl")
    assert not any(root.rglob("python3*"))
    return mksquashfs(root, tmp / "testbase.snap")


@pytest.mark.parametrize("snapctl", ["ours", "debian"])
def test_snapctl_on_a_base_without_python(us: Usersnap, tmp_path: Path, snapctl: str) -> None:
    env: dict[str, str] = {}
    if snapctl == "debian":
        real = snap_binary()
        if real is None:
            pytest.skip("Debian's snapd package is not available")
        env["USERSNAP_SNAPCTL"] = str(real.parent.parent / "lib" / "snapd" / "snapctl")
    us.run("install", "--dangerous", str(_core_like_base(tmp_path)), env=env)
    hooks = {"install": "snapctl set where=\"$(command -v snapctl)\"\n"}
    us.run("install", "--dangerous", str(hooky(tmp_path, hooks=hooks, base="testbase")),
           env=env)
    assert conf(us) == {"where": "/usr/bin/snapctl"}
    out = us.run("run", "hooky.sh", "-c", "snapctl get where; snapctl set-health okay; "
                 "snapctl is-connected nope; echo rc=$?", env=env, check=False)
    assert out.stdout == "/usr/bin/snapctl\nrc=1\n"
    assert 'has no plug or slot named "nope"' in out.stderr
    if snapctl == "ours":
        assert shutil.which("python3") is not None  # the host has it; the base has not
