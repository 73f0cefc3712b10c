"""Layouts through the real CLI, daemon, FUSE mount and bwrap: snapd's spread scenarios
(spec §3) that apply without root, checked from inside the app and from the host.

Most snaps run on ``testbase`` (tests/helpers/testbase.py: the host's programs laid out
like ``core``, real /bin and /lib); some on the host standing in for a missing base.
Where snapd's spread test runs as root and so can write in a mimic, the app here is an
ordinary user, as under snapd for everyone but root: mimics are read-only to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.helpers.cli import Usersnap, unmount, usersnap_session
from tests.helpers.snaps import build_snap, write_snap_dir
from tests.helpers.testbase import build_testbase
from usersnap.dirs import Dirs

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_bwrap,
              pytest.mark.requires_mksquashfs, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SH = '#!/bin/sh\nPS1="$ "\nexec /bin/sh "$@"\n'
#: shell functions for the checks: the kind of a path, and whether the app may write it
PRELUDE = """
kind() { if test -h "$1"; then echo "symlink $(readlink "$1")"; elif test -d "$1"; then
  echo dir; elif test -f "$1"; then echo file; elif test -e "$1"; then echo other;
  else echo missing; fi; }
w() { if test -w "$1"; then echo writable; else echo read-only; fi; }
"""


@pytest.fixture
def us() -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


@pytest.fixture(scope="module")
def testbase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_testbase(
        tmp_path_factory.mktemp("base"),
        files={
            "usr/lib/x86_64-linux-gnu/libdemo.so.1": "lib\n",
            "usr/share/java/foo.jar": "jar\n",
            "usr/share/sib/file": "sibling content\n",
            "usr/share/sib/dir/inner": "inner\n",
            "var/spool/rsyslog/keep": "",
        },
        dirs=["usr/share/doc", "usr/lib/x86_64-linux-gnu/dri"],
        modes={"usr/share/sib/file": 0o604, "usr/share/sib/dir": 0o711,
               "var/spool/rsyslog": 0o700, "opt": 0o755},
    )


def snap_file(tmp: Path, yaml: str, files: Mapping[str, str] | None = None,
              name: str = "app.snap") -> Path:
    """A snap whose app ``sh`` runs the base's /bin/sh."""
    return build_snap(tmp, yaml, {"bin/sh": SH, **(files or {})}, executables=["bin/sh"],
                      name=name)


def install(us: Usersnap, path: Path) -> None:
    us.run("install", "--dangerous", str(path))


def checks(us: Usersnap, snap: str, probes: Mapping[str, str]) -> dict[str, str]:
    """Run every shell snippet of ``probes`` in one run of the shell app ``snap`` (NAME.sh
    unless an app is named); their outputs by key."""
    script = PRELUDE + "".join(f"echo '@@{key}'\n{{ {cmd}; }} 2>&1\n"
                               for key, cmd in probes.items())
    out = us.run("run", snap if "." in snap else f"{snap}.sh", "-c", script).stdout
    results: dict[str, str] = {}
    key = None
    for line in out.splitlines():
        if line.startswith("@@"):
            key = line[2:]
            results[key] = ""
        elif key is not None:
            results[key] = (results[key] + "\n" + line).strip()
    return results


# --- tests/main/layout (test-snapd-layout) ---------------------------------------------------

TEST_SNAPD_LAYOUT = """\
name: test-snapd-layout
version: 1.0
summary: Sample illustrating very basic layout support
{base}
apps:
    sh:
        command: bin/sh
layout:
  /etc/demo:
    bind: $SNAP_COMMON/etc/demo
  /etc/demo.conf:
    bind-file: $SNAP_COMMON/etc/demo.conf
  /etc/demo.cfg:
    symlink: $SNAP_COMMON/etc/demo.conf
  /usr/share/demo:
    bind: $SNAP/usr/share/demo
  /var/lib/demo:
    bind: $SNAP_DATA/var/lib/demo
  /var/cache/demo:
    bind: $SNAP_DATA/var/cache/demo
  /opt/demo:
    bind: $SNAP/opt/demo
  /var/spool/rsyslog/demo:
    bind: $SNAP_DATA/var/spool/rsyslog/demo
  /bin/very/weird/place:
    bind: $SNAP/bin/very/weird/place
  /bin/very/weird/space:
    bind: $SNAP/bin/very/weird/space
"""
DEMO_FILES = {"opt/demo/file": "content-of-file\n", "usr/share/demo/file": "content-of-file\n"}
ON_HOST = ("/etc/demo", "/etc/demo.conf", "/etc/demo.cfg", "/usr/share/demo", "/var/lib/demo",
           "/var/cache/demo", "/opt/demo", "/usr/bin/very", "/bin/very")


def test_snapd_layout_on_a_base(us: Usersnap, tmp_path: Path, testbase: Path) -> None:
    install(us, testbase)
    snap = snap_file(tmp_path, TEST_SNAPD_LAYOUT.format(base="base: testbase"), DEMO_FILES)
    common = us.dirs.data_dir("test-snapd-layout") / "common"
    for revision in ("x1", "x2"):
        install(us, snap)  # the second time: the snap works across refreshes
        data = us.dirs.data_dir("test-snapd-layout") / revision
        seen = checks(us, "test-snapd-layout", {
            "true": "true && echo ok",
            "etc": "kind /etc/demo; kind /etc/demo.conf; kind /etc/demo.cfg",
            "cfg": 'test "$(readlink /etc/demo.cfg)" = "$SNAP_COMMON/etc/demo.conf" && echo same',
            "dirs": "for d in /usr/share/demo /var/lib/demo /var/cache/demo /opt/demo "
                    "/bin/very/weird/place /var/spool/rsyslog/demo; do kind $d; done",
            "opt": "stat -f -c %T /opt; stat -c %a /opt",
            "rsyslog": "stat -f -c %T /var/spool/rsyslog; stat -c %a /var/spool/rsyslog",
            "writes": "echo foo-1 > /etc/demo/writable && echo foo-2 > /etc/demo.conf && "
                      "echo foo-4 > /var/lib/demo/writable && "
                      "echo foo-5 > /var/cache/demo/writable && echo written",
            "read": "cat /usr/share/demo/file /opt/demo/file",
            "through-symlink": "echo foo-3 > /etc/demo.cfg; cat $SNAP_COMMON/etc/demo.conf",
            "snap-place": "kind $SNAP/bin/very/weird/place; w $SNAP/bin/very/weird/place; "
                          "w /bin/very/weird/place",
            "read-only": "w /usr/share/demo; w /opt/demo; w /opt; w /etc; w /etc/demo; "
                         "w /var/lib/demo",
        })
        assert seen == {
            "true": "ok",
            "etc": "dir\nfile\nsymlink /var/snap/test-snapd-layout/common/etc/demo.conf",
            "cfg": "same",
            "dirs": "dir\ndir\ndir\ndir\ndir\ndir",
            "opt": "tmpfs\n755",
            "rsyslog": "tmpfs\n700",  # the mimic copies the original's mode
            "writes": "written",
            "read": "content-of-file\ncontent-of-file",
            "through-symlink": "foo-3",
            "snap-place": "dir\nread-only\nread-only",
            "read-only": "read-only\nread-only\nread-only\nread-only\nwritable\nwritable",
        }, revision
        # The writes went to the right place in the backing store, on the host.
        assert (common / "etc/demo/writable").read_text() == "foo-1\n"
        assert (common / "etc/demo.conf").read_text() == "foo-3\n"
        assert (data / "var/lib/demo/writable").read_text() == "foo-4\n"
        assert (data / "var/cache/demo/writable").read_text() == "foo-5\n"
        assert (data / "var/spool/rsyslog/demo").is_dir()
        assert [p for p in ON_HOST if os.path.lexists(p)] == []
    # x2's data is x1's, copied at refresh; common stays
    assert (us.dirs.data_dir("test-snapd-layout") / "x1/var/lib/demo/writable").exists()


def test_snapd_layout_on_the_host_standing_in_for_core(us: Usersnap, tmp_path: Path) -> None:
    install(us, snap_file(tmp_path, TEST_SNAPD_LAYOUT.format(base=""), DEMO_FILES))
    before = sorted(os.listdir("/usr/bin"))
    seen = checks(us, "test-snapd-layout", {
        "kinds": "for d in /etc/demo /etc/demo.conf /usr/share/demo /var/lib/demo "
                 "/opt/demo /bin/very/weird/place /bin/very/weird/space; do kind $d; done",
        "read": "cat /opt/demo/file",
        "write": "echo a > /etc/demo/w && cat $SNAP_COMMON/etc/demo/w",
        "usr-bin": "ls -a /usr/bin",
        "etc": "cat /etc/passwd | grep -c root",
        "fs": "stat -f -c %T /etc /opt /usr/bin",
    })
    assert seen["kinds"] == "dir\nfile\ndir\ndir\ndir\ndir\ndir"
    assert seen["read"] == "content-of-file" and seen["write"] == "a"
    # The host's /bin is a symlink to usr/bin: the layout lands in a mimic of /usr/bin,
    # which still lists every program of the host's.
    assert sorted(seen["usr-bin"].split()) == sorted([".", "..", "very", *before])
    assert int(seen["etc"]) >= 1 and seen["fs"].split() == ["tmpfs", "tmpfs", "tmpfs"]
    assert [p for p in ON_HOST if os.path.lexists(p)] == []


# --- tests/main/layout-remove, layout-symlink-bind-revert, debug layout ---------------------

LAYOUT_REMOVE = """\
name: test-layout
version: {version}
base: testbase
apps:
  test:
    command: bin/sh
layout:
{layouts}  /var/test_tmpfs:
    type: tmpfs
"""
V1_ONLY = """\
  /var/lib/test_data:
    bind: $SNAP_DATA/test_data
  /var/lib/test_common:
    bind: $SNAP_COMMON/test_common
"""


def test_layout_remove(us: Usersnap, tmp_path: Path, testbase: Path) -> None:
    install(us, testbase)
    v1 = snap_file(tmp_path, LAYOUT_REMOVE.format(version="1.0", layouts=V1_ONLY), name="1.snap")
    v2 = snap_file(tmp_path, LAYOUT_REMOVE.format(version="1.1", layouts=""), name="2.snap")
    probe = {"kinds": "kind /var/test_tmpfs; kind /var/lib/test_data; kind /var/lib/test_common",
             "tmpfs": "stat -f -c %T /var/test_tmpfs; stat -c %a /var/test_tmpfs; "
                      "ls -A /var/test_tmpfs; echo x > /var/test_tmpfs/f && echo written",
}
    install(us, v1)
    seen = us.run("run", "test-layout.test", "-c", PRELUDE + "kind /var/lib/test_data").stdout
    assert seen.strip() == "dir"
    first = checks(us, "test-layout.test", probe)
    assert first["kinds"] == "dir\ndir\ndir"
    assert first["tmpfs"] == "tmpfs\n1777\nwritten"  # empty, 1777, writable
    profile = us.run("debug", "layout", "test-layout").stdout
    assert all(word in profile for word in ("test_tmpfs", "test_common", "test_data"))
    second = checks(us, "test-layout.test", probe)
    assert second["tmpfs"] == "tmpfs\n1777\nwritten"  # RAM: nothing kept from the last run

    install(us, v2)
    after = checks(us, "test-layout.test", probe)
    assert after["kinds"] == "dir\nmissing\nmissing"
    profile = us.run("debug", "layout", "test-layout").stdout
    assert "test_tmpfs" in profile and "test_common" not in profile and "test_data" not in profile

    us.run("revert", "test-layout")
    assert checks(us, "test-layout.test", probe)["kinds"] == "dir\ndir\ndir"


SYMLINK_BIND = """\
name: app
version: {version}
base: testbase
apps:
  app:
    command: bin/app
  sh:
    command: bin/sh
layout:
  /opt/runtime:
    {kind}: $SNAP/runtime
"""
RUNTIME = {"runtime/runner": '#!/bin/sh\necho "RUNTIME: $*"\n',
           "bin/app": '#!/bin/sh\n/opt/runtime/runner "Hello from the app"\n'}


def test_layout_symlink_bind_revert(us: Usersnap, tmp_path: Path, testbase: Path) -> None:
    install(us, testbase)
    v1 = build_snap(tmp_path, SYMLINK_BIND.format(version=1, kind="symlink"),
                    {**RUNTIME, "bin/sh": SH}, executables=["bin/sh", "bin/app",
                                                            "runtime/runner"], name="1.snap")
    v2 = build_snap(tmp_path, SYMLINK_BIND.format(version=2, kind="bind"),
                    {**RUNTIME, "bin/sh": SH}, executables=["bin/sh", "bin/app",
                                                            "runtime/runner"], name="2.snap")
    install(us, v1)
    assert us.run("run", "app").stdout == "RUNTIME: Hello from the app\n"
    assert "runtime -> /snap/app/x1/runtime" in us.run("run", "app.sh", "-c", "ls -l /opt").stdout

    install(us, v2)
    assert us.run("run", "app").stdout == "RUNTIME: Hello from the app\n"
    mounts = us.run("run", "app.sh", "-c", "grep ' /opt/runtime ' /proc/self/mountinfo").stdout
    assert len(mounts.splitlines()) == 1
    assert us.run("run", "app.sh", "-c", PRELUDE + "kind /opt/runtime").stdout == "dir\n"

    assert us.run("revert", "app").stdout.strip() == "app reverted to 1"
    assert us.run("run", "app").stdout == "RUNTIME: Hello from the app\n"
    assert "runtime -> /snap/app/x1/runtime" in us.run("run", "app.sh", "-c", "ls -l /opt").stdout
    assert us.run("run", "app.sh", "-c", "grep -c ' /opt/runtime ' /proc/self/mountinfo",
                  check=False).stdout.strip() == "0"


# --- regressions -----------------------------------------------------------------------------


def _reinstall_and_check(us: Usersnap, snap: Path, name: str, probes: Mapping[str, str],
                         expected: Mapping[str, str], times: int = 3) -> None:
    for _ in range(times):
        install(us, snap)
        assert checks(us, name, probes) == expected


def test_lp_1831010_nested_layouts_in_snap(us: Usersnap, tmp_path: Path) -> None:
    yaml = """\
name: test-snapd-layout
version: 1
layout:
  $SNAP/b/c:
    bind: $SNAP/a
  $SNAP/d:
    bind: $SNAP/b
apps:
  sh:
    command: bin/sh
"""
    snap = snap_file(tmp_path, yaml, {"a/.keep": "a\n", "b/c/.keep": "bc\n", "d/.keep": "d\n"})
    _reinstall_and_check(us, snap, "test-snapd-layout", {
        "true": "/bin/true && echo ok",
        "b/c": "cat $SNAP/b/c/.keep",
        "d": "ls $SNAP/d; cat $SNAP/d/c/.keep",  # the rbind of $SNAP/b carries b/c's mount
    }, {"true": "ok", "b/c": "a", "d": "c\na"}, times=2)


def test_lp_1844496(us: Usersnap, tmp_path: Path, testbase: Path) -> None:
    install(us, testbase)
    yaml = """\
name: test-snapd-layout
version: 1
base: testbase
apps:
    sh:
        command: bin/sh
layout:
    /usr/lib/x86_64-linux-gnu/wpe-webkit-1.0:
        bind: $SNAP/usr/lib/x86_64-linux-gnu/wpe-webkit-1.0
    /usr/libexec/wpe-webkit-1.0:
        bind: $SNAP/usr/wpe-webkit-1.0
    $SNAP/fooo/deeper:
        bind: $SNAP/usr/lib/x86_64-linux-gnu/wpe-webkit-1.0
    $SNAP/fooo-top:
        bind: $SNAP/usr/wpe-webkit-1.0
    /var/fooo/deeper:
        bind: $SNAP/usr/lib/x86_64-linux-gnu/wpe-webkit-1.0
    /var/fooo-top:
        bind: $SNAP/usr/wpe-webkit-1.0
"""
    snap = snap_file(tmp_path, yaml, {
        "usr/lib/x86_64-linux-gnu/wpe-webkit-1.0/canary": "content\n",
        "usr/wpe-webkit-1.0/canary": "content\n"})
    targets = ("/usr/lib/x86_64-linux-gnu/wpe-webkit-1.0", "/usr/libexec/wpe-webkit-1.0",
               "$SNAP/fooo/deeper", "$SNAP/fooo-top", "/var/fooo/deeper", "/var/fooo-top")
    probes = {t: f"cat {t}/canary" for t in targets}
    probes["siblings"] = ("cat /usr/lib/x86_64-linux-gnu/libdemo.so.1; "
                          "kind /usr/lib/x86_64-linux-gnu/dri")
    expected = dict.fromkeys(targets, "content")
    expected["siblings"] = "lib\ndir"
    _reinstall_and_check(us, snap, "test-snapd-layout", probes, expected)


def test_lp_1852361(us: Usersnap, tmp_path: Path, testbase: Path) -> None:
    install(us, testbase)
    yaml = """\
name: test-snapd-layout
version: 1
base: testbase
apps:
    sh:
        command: bin/sh
layout:
    /etc/vtpath.ini:
        bind-file: $SNAP/etc/vtpath.ini
    /usr/lib/x86_64-linux-gnu/alsa-lib:
        bind: $SNAP/usr/lib/x86_64-linux-gnu/alsa-lib
    /usr/share/pico:
        bind: $SNAP/usr/share/pico
    /usr/share/snips:
        bind: $SNAP/usr/share/snips
    /usr/vt:
        bind: $SNAP/usr/vt
"""
    snap = snap_file(tmp_path, yaml, {
        "etc/vtpath.ini": "content\n", "usr/lib/x86_64-linux-gnu/alsa-lib/.keep": "",
        "usr/share/pico/.keep": "", "usr/share/snips/.keep": "", "usr/vt/.keep": ""})
    _reinstall_and_check(us, snap, "test-snapd-layout", {
        "ini": "cat /etc/vtpath.ini; kind /etc/vtpath.ini",
        "keeps": "for d in /usr/lib/x86_64-linux-gnu/alsa-lib /usr/share/pico "
                 "/usr/share/snips /usr/vt; do kind $d/.keep; done",
    }, {"ini": "content\nfile", "keeps": "file\nfile\nfile\nfile"})


def test_lp_1803535_nested_missing_dirs_under_the_hosts_etc(
        us: Usersnap, tmp_path: Path) -> None:
    yaml = """\
name: test-snapd-lp-1803535
version: 1.0
apps:
    sh:
        command: bin/sh
layout:
  /etc/OpenCL/vendors/foo.icd:
    bind-file: $SNAP/etc/OpenCL/vendors/foo.icd
"""
    install(us, snap_file(tmp_path, yaml, {"etc/OpenCL/vendors/foo.icd": "icd\n"}))
    assert checks(us, "test-snapd-lp-1803535", {
        "true": "/bin/true && echo ok", "icd": "cat /etc/OpenCL/vendors/foo.icd",
    }) == {"true": "ok", "icd": "icd"}
    assert not os.path.exists("/etc/OpenCL/vendors/foo.icd")


def test_lp_1808821_file_in_a_missing_dir_of_a_base_dir(
        us: Usersnap, tmp_path: Path, testbase: Path) -> None:
    install(us, testbase)
    yaml = """\
name: test-snapd-app
version: 1
base: testbase
layout:
    /usr/share/java/stub/stub.txt:
        bind-file: $SNAP/stub.txt
apps:
    sh:
        command: bin/sh
"""
    snap = snap_file(tmp_path, yaml, {"stub.txt": "STUB\n"})
    _reinstall_and_check(us, snap, "test-snapd-app", {
        "stub": "cat /usr/share/java/stub/stub.txt", "jar": "cat /usr/share/java/foo.jar",
        "fs": "stat -f -c %T /usr/share/java",
    }, {"stub": "STUB", "jar": "jar", "fs": "tmpfs"})


def test_lp_1949368_reserved_characters_are_refused_at_install(
        us: Usersnap, tmp_path: Path) -> None:
    yaml = ('name: bad-layout\nversion: 1.0\n'
            'layout:\n  /var/lib/foo:\n    bind: "$SNAP_DATA/var/*"\n')
    out = us.run("install", "--dangerous", str(snap_file(tmp_path, yaml)), check=False)
    assert out.returncode == 1
    assert out.stderr.startswith('error: cannot validate snap "bad-layout"')
    assert "contains a reserved apparmor char" in out.stderr


# --- mimics, targets under $SNAP, tmpfs, errors -------------------------------------------


def test_a_mimic_keeps_every_original_entry(us: Usersnap, tmp_path: Path,
                                             testbase: Path) -> None:
    install(us, testbase)
    yaml = """\
name: mimic
version: 1
base: testbase
apps:
  sh:
    command: bin/sh
layout:
  /usr/share/sib/new:
    bind: $SNAP/new
"""
    install(us, snap_file(tmp_path, yaml, {"new/x": "x\n"}))
    seen = checks(us, "mimic", {
        "listing": "ls -A /usr/share/sib",
        "modes": "stat -c '%n %a' /usr/share/sib /usr/share/sib/file /usr/share/sib/dir",
        "content": "cat /usr/share/sib/file /usr/share/sib/dir/inner /usr/share/sib/new/x",
        "fs": "stat -f -c %T /usr/share/sib /usr/share/sib/dir",
        "writes": "touch /usr/share/sib/other; touch /usr/share/sib/file; w /usr/share/sib",
    })
    assert seen["listing"].split() == ["dir", "file", "new"]
    assert seen["modes"].splitlines() == ["/usr/share/sib 755", "/usr/share/sib/file 604",
                                          "/usr/share/sib/dir 711"]
    assert seen["content"] == "sibling content\ninner\nx"
    assert seen["fs"].split()[0] == "tmpfs" and seen["fs"].split()[1] != "tmpfs"
    assert seen["writes"].endswith("read-only") and "Read-only file system" in seen["writes"]


GEMFILE = """\
name: gems
version: 1
apps:
  sh:
    command: bin/sh
layout:
  $SNAP/Gemfile.lock:
    bind-file: $SNAP_DATA/Gemfile.lock
  $SNAP/vendor:
    bind: $SNAP_DATA/vendor
"""


def test_layout_targets_under_snap(us: Usersnap, tmp_path: Path) -> None:
    """The forum's Gemfile case: bundler writes next to the Gemfile, i.e. in $SNAP."""
    install(us, snap_file(tmp_path, GEMFILE, {"Gemfile": "source 'x'\n",
                                              "Gemfile.lock": "shipped\n"}))
    seen = checks(us, "gems", {
        "lock": "test -s $SNAP/Gemfile.lock || echo empty; echo locked > $SNAP/Gemfile.lock "
                "&& cat $SNAP/Gemfile.lock",
        "vendor": "echo v > $SNAP/vendor/gem && cat $SNAP/vendor/gem",
        "gemfile": "cat $SNAP/Gemfile; w $SNAP/Gemfile; ls -A $SNAP",
    })
    # the source did not exist: created empty (hiding the shipped one), written through
    assert seen["lock"] == "empty\nlocked"
    assert seen["vendor"] == "v"
    assert seen["gemfile"].splitlines()[:2] == ["source 'x'", "read-only"]
    assert sorted(seen["gemfile"].split()[3:]) == sorted(
        ["Gemfile", "Gemfile.lock", "bin", "meta", "vendor"])
    data = us.dirs.data_dir("gems") / "x1"
    assert (data / "Gemfile.lock").read_text() == "locked\n"
    assert (data / "vendor/gem").read_text() == "v\n"
    # persistence across runs
    assert us.run("run", "gems.sh", "-c", "cat $SNAP/Gemfile.lock").stdout == "locked\n"


def test_a_layout_that_cannot_be_realised_fails_before_the_app_runs(
        us: Usersnap, tmp_path: Path) -> None:
    yaml = """\
name: broken
version: 1
apps:
  sh:
    command: bin/sh
layout:
  /etc/passwd:
    bind: $SNAP_DATA/passwd
"""
    install(us, snap_file(tmp_path, yaml))
    out = us.run("run", "broken.sh", "-c", "echo ran > $SNAP_DATA/ran", check=False)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines()[-1] == (
        'error: cannot set up layout "/etc/passwd": cannot use "/etc/passwd" as mount point: '
        "not a directory")
    data = us.dirs.data_dir("broken") / "x1"
    assert not (data / "ran").exists() and not (data / "passwd").exists()


def test_a_symlink_planted_in_snap_data_is_not_followed(us: Usersnap, tmp_path: Path) -> None:
    yaml = """\
name: planted
version: 1
apps:
  sh:
    command: bin/sh
layout:
  /etc/planted:
    bind: $SNAP_COMMON/etc/planted
"""
    install(us, snap_file(tmp_path, yaml))
    outside = tmp_path / "outside"
    outside.mkdir()
    us.run("run", "planted.sh", "-c", "true", check=False)  # first run creates the source
    common = us.dirs.data_dir("planted") / "common"
    shutil.rmtree(common / "etc")
    (common / "etc").symlink_to(outside)
    out = us.run("run", "planted.sh", "-c", "echo ran", check=False)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines()[-1] == (
        'error: cannot set up layout "/etc/planted": cannot open directory '
        '"/var/snap/planted/common/etc": not a directory')
    assert list(outside.iterdir()) == []


def test_a_tried_directorys_layouts_follow_its_edits(us: Usersnap, tmp_path: Path) -> None:
    """``usersnap try``: each run plans from the directory's snap.yaml as it is now."""
    yaml = ("name: tried\nversion: '1'\napps:\n  sh:\n    command: bin/sh\n"
            "layout:\n  /opt/tool:\n    {kind}: $SNAP/tool\n")
    src = write_snap_dir(tmp_path / "tried", yaml.format(kind="symlink"),
                         {"bin/sh": SH, "tool/run": "v1\n"}, executables=["bin/sh"])
    src.chmod(0o755)
    us.run("try", str(src))
    probe = {"kind": "kind /opt/tool", "read": "cat /opt/tool/run"}
    assert checks(us, "tried", probe) == {"kind": "symlink /snap/tried/x1/tool", "read": "v1"}
    (src / "meta" / "snap.yaml").write_text(yaml.format(kind="bind"))
    (src / "tool" / "run").write_text("v2\n")
    assert checks(us, "tried", probe) == {"kind": "dir", "read": "v2"}
    lines = us.run("debug", "layout", "tried").stdout.splitlines()
    assert lines == ["/snap/tried/x1/tool /opt/tool none rbind,rw,x-snapd.origin=layout 0 0"]


def test_debug_layout_prints_the_profile_and_the_ops(us: Usersnap, tmp_path: Path) -> None:
    install(us, snap_file(tmp_path, TEST_SNAPD_LAYOUT.format(base=""), DEMO_FILES))
    lines = us.run("debug", "layout", "test-snapd-layout").stdout.splitlines()
    assert lines[2] == ("/var/snap/test-snapd-layout/common/etc/demo /etc/demo none "
                        "rbind,rw,x-snapd.origin=layout 0 0")
    assert len(lines) == 10
    ops = us.run("debug", "layout", "--ops", "test-snapd-layout").stdout.splitlines()
    assert ops[:10] == lines
    assert "# applied in the sandbox, in this order" in ops and "mimic /etc" in ops
    missing = us.run("debug", "layout", "nothere", check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")


# --- as an ordinary user ---------------------------------------------------------------------


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


@pytest.mark.requires_root
@pytest.mark.skipif(_user("ustest") is None or not shutil.which("runuser"),
                    reason="needs runuser and the user ustest (useradd -m ustest)")
def test_layouts_as_an_unprivileged_user(tmp_path: Path, testbase: Path) -> None:
    user = _user("ustest")
    assert user is not None
    top = Path(tempfile.mkdtemp(prefix="us-layout-", dir="/tmp"))
    env = {"HOME": f"{top}/home", "XDG_RUNTIME_DIR": f"{top}/xdg",
           "USERSNAP_ROOT": f"{top}/root", "PATH": "/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "USERSNAP_IDLE_TIMEOUT": "600"}
    dirs = Dirs.from_env(env)
    snap = snap_file(tmp_path, TEST_SNAPD_LAYOUT.format(base="base: testbase"), DEMO_FILES)
    for path in (top, top / "home", top / "xdg"):
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
    for path in (snap, testbase):
        shutil.copy(path, top / path.name)
        os.chown(top / path.name, user.pw_uid, user.pw_gid)

    def usersnap(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "ustest", "--", "env", "-i",
             *(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "usersnap", *args],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)

    try:
        for name in (testbase.name, snap.name):
            assert usersnap("install", "--dangerous", str(top / name)).returncode == 0
        out = usersnap("run", "test-snapd-layout.sh", "-c", PRELUDE + """
            id -u; kind /etc/demo; kind /etc/demo.conf; kind /opt/demo
            cat /usr/share/demo/file; echo u > /etc/demo/writable; stat -f -c %T /opt
            kind /var/spool/rsyslog/demo; w /opt""")
        assert out.returncode == 0, out.stderr
        assert out.stdout.split("\n")[:8] == [
            str(user.pw_uid), "dir", "file", "dir", "content-of-file", "tmpfs", "dir",
            "read-only"]
        written = dirs.data_dir("test-snapd-layout") / "common/etc/demo/writable"
        assert written.read_text() == "u\n" and written.stat().st_uid == user.pw_uid
        assert [p for p in ON_HOST if os.path.lexists(p)] == []
    finally:
        pid_text = (dirs.lock_file.read_text().strip() if dirs.lock_file.exists() else "")
        if pid_text.isdigit():
            subprocess.run(["kill", pid_text], check=False)
            for _ in range(100):
                if not Path(f"/proc/{pid_text}").exists():
                    break
                subprocess.run(["sleep", "0.05"], check=False)
        unmount(dirs.mount)
        shutil.rmtree(top, ignore_errors=True)
