"""cgroup v2 detection on fake /proc and /sys trees, and the lines it gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usersnap.cli.commands.doctor import OK, WARNING, check_cgroup
from usersnap.daemon import svcrun
from usersnap.daemon.cgroups import (
    DELEGATED,
    NO_MOUNT,
    NO_V2,
    NOT_DELEGATED,
    CgroupInfo,
    cgroup2_mounts,
    detect,
    locate,
    own_cgroup,
    populated,
    procs,
    remove,
    service_cgroup,
)

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / {mount} rw,relatime shared:9 - cgroup2 cgroup2 rw
"""


def fake(tmp_path: Path, cgroup: str, mount_line: str = HYBRID) -> tuple[str, Path]:
    """A /proc/self with ``cgroup`` as its v2 path and a cgroup2 mount under tmp_path."""
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    mount = tmp_path / "sys fs" / "unified"  # mountinfo escapes the space
    (proc / "cgroup").write_text(f"4:memory:/x\n0::{cgroup}\n")
    (proc / "mountinfo").write_text(
        mount_line.format(mount=str(mount).replace(" ", "\\040")))
    return str(proc), mount


def make_cgroup(path: Path, controllers: str) -> None:
    path.mkdir(parents=True)
    (path / "cgroup.controllers").write_text(controllers + "\n")
    (path / "cgroup.procs").write_text("")


def test_parsing() -> None:
    assert own_cgroup("1:name=systemd:/a\n0::/user.slice/u\n") == "/user.slice/u"
    assert own_cgroup("1:name=systemd:/a\n") is None
    assert cgroup2_mounts("1 2 0:3 /sub /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
                          "5 1 0:4 / /a\\040b rw master:1 - cgroup2 none rw\n"
                          "6 1 0:5 / /proc rw - proc proc rw\n") == [
        ("/sub", "/sys/fs/cgroup"), ("/", "/a b")]
    mounts = [("/sub", "/m1"), ("/", "/m2")]
    assert locate("/sub/x", mounts) == "/m1/x"
    assert locate("/sub", mounts) == "/m1"
    assert locate("/other", mounts) == "/m2/other"
    assert locate("/other", mounts[:1]) is None


def test_delegated_cgroup_found_from_proc_not_a_fixed_path(tmp_path: Path) -> None:
    proc, mount = fake(tmp_path, "/user.slice/user@1000.service/app.slice")
    here = mount / "user.slice" / "user@1000.service" / "app.slice"
    make_cgroup(here, "hugetlb")
    found = detect(proc, uid=os.stat(here).st_uid)
    assert found == CgroupInfo(DELEGATED, str(here), frozenset({"hugetlb"}))
    assert found.describe() == (
        f"delegated ({here}): services in per-snap cgroups; memory/cpu controllers not "
        "delegated: quota limits not enforced")
    assert detect(proc, uid=os.stat(here).st_uid + 1).state == NOT_DELEGATED  # not ours


def test_controllers_decide_the_quota_words(tmp_path: Path) -> None:
    proc, mount = fake(tmp_path, "/me")
    make_cgroup(mount / "me", "cpu io memory pids")
    found = detect(proc, uid=os.stat(mount / "me").st_uid)
    assert found.missing_controllers() == []
    assert found.describe().endswith("memory/cpu controllers delegated, but quota groups "
                                     "are not implemented: no limits applied")
    only_cpu = CgroupInfo(DELEGATED, "/c", frozenset({"cpu"}))
    assert only_cpu.describe().endswith("; memory controller not delegated: quota limits "
                                        "not enforced")


def test_the_root_cgroup_and_missing_pieces(tmp_path: Path) -> None:
    proc, mount = fake(tmp_path, "/")
    make_cgroup(mount, "memory cpu")
    assert detect(proc, uid=os.stat(mount).st_uid).state == NOT_DELEGATED  # the system's
    assert detect(proc).describe() == "not delegated: no per-snap resource limits"
    Path(proc, "mountinfo").write_text("6 1 0:5 / /proc rw - proc proc rw\n")
    assert detect(proc).state == NO_MOUNT
    assert detect(proc).describe() == "none (no cgroup v2 mount): no per-snap resource limits"
    Path(proc, "cgroup").write_text("1:name=systemd:/\n")
    assert detect(proc).state == NO_V2
    assert detect(str(tmp_path / "nowhere")).state == NO_V2
    assert detect(proc).describe() == "none (no cgroup v2): no per-snap resource limits"


def test_a_cgroup_that_is_not_there_is_not_delegated(tmp_path: Path) -> None:
    proc, _ = fake(tmp_path, "/gone")
    assert detect(proc).state == NOT_DELEGATED


@pytest.mark.parametrize(("controllers", "status"), [("hugetlb", WARNING),
                                                     ("memory cpu", OK)])
def test_doctor_line(tmp_path: Path, controllers: str, status: str) -> None:
    proc, mount = fake(tmp_path, "/me")
    make_cgroup(mount / "me", controllers)
    if os.stat(mount / "me").st_uid != os.getuid():
        pytest.skip("the fake cgroup is not ours")
    found = check_cgroup(proc)
    assert (found.status, found.check) == (status, "cgroup")
    assert found.detail.startswith(f"delegated ({mount / 'me'}): services in per-snap cgroups")
    Path(proc, "cgroup").write_text("0::/\n")
    assert check_cgroup(proc).detail == ("not delegated: no per-snap resource limits "
                                         "(services are supervised by process tree, "
                                         "without memory or CPU limits)")


def test_cgroup_files_read_and_a_gone_cgroup(tmp_path: Path) -> None:
    cg = tmp_path / "snap.a.b.service"
    assert service_cgroup(str(tmp_path), "a.b") == str(cg)
    assert (procs(str(cg)), populated(str(cg)), remove(str(cg))) == ([], False, True)
    cg.mkdir()
    (cg / "cgroup.procs").write_text("12\n34\n")
    (cg / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    assert (procs(str(cg)), populated(str(cg))) == ([12, 34], True)
    (cg / "cgroup.events").write_text("populated 0\nfrozen 0\n")
    assert not populated(str(cg))
    assert not remove(str(cg))  # not empty: a real cgroup's files do not count there


def test_svcrun_that_cannot_enter_its_cgroup_runs_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = tmp_path / "snap.a.b.service"
    assert svcrun.main(["--cgroup", str(gone), "-r", "1", "a", "b"]) == 1
    assert capsys.readouterr().err == (f"error: cannot enter cgroup {gone}: "
                                       "No such file or directory\n")
