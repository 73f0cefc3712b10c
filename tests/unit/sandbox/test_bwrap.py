"""Ops render bwrap options; the spec becomes argv + an --args blob; bwrap is found on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from usersnap.errors import SandboxError
from usersnap.meta.model import frozen_map
from usersnap.sandbox.bwrap import Hardening, bwrap_argv, bwrap_options, find_bwrap
from usersnap.sandbox.ops import (
    Bind,
    Chmod,
    Dev,
    DevBind,
    Dir,
    Proc,
    RemountRo,
    RoBind,
    SetEnv,
    Symlink,
    Tmpfs,
)
from usersnap.sandbox.plan import SandboxSpec


@pytest.mark.parametrize(("op", "args"), [
    (Bind("/a", "/b"), ["--bind", "/a", "/b"]),
    (Bind("/a", "/b", optional=True), ["--bind-try", "/a", "/b"]),
    (RoBind("/a", "/b"), ["--ro-bind", "/a", "/b"]),
    (RoBind("/a", "/b", optional=True), ["--ro-bind-try", "/a", "/b"]),
    (DevBind("/dev", "/dev"), ["--dev-bind", "/dev", "/dev"]),
    (DevBind("/dev/kvm", "/dev/kvm", optional=True), ["--dev-bind-try", "/dev/kvm", "/dev/kvm"]),
    (Tmpfs("/run"), ["--tmpfs", "/run"]),
    (Tmpfs("/x", 0o1777), ["--perms", "1777", "--tmpfs", "/x"]),
    (Dir("/d"), ["--dir", "/d"]),
    (Dir("/d", 0o700), ["--perms", "0700", "--dir", "/d"]),
    (Symlink("usr/bin", "/bin"), ["--symlink", "usr/bin", "/bin"]),
    (Proc("/proc"), ["--proc", "/proc"]),
    (Dev("/dev"), ["--dev", "/dev"]),
    (Chmod("/usr/share", 0o755), ["--chmod", "0755", "/usr/share"]),
    (RemountRo("/"), ["--remount-ro", "/"]),
    (SetEnv("K", "v w"), ["--setenv", "K", "v w"]),
])
def test_op_args(op: object, args: list[str]) -> None:
    assert op.to_args() == args  # type: ignore[attr-defined]


SPEC = SandboxSpec(
    instance="foo", revision="1", uid=1000, gid=100,
    ops=(Tmpfs("/run"), RoBind("/usr", "/usr")),
    env=frozen_map({"Z": "last", "A": "first=1"}),
    argv=("/snap/foo/1/bin/foo", "--x", "user arg"),
)


def test_options() -> None:
    assert bwrap_options(SPEC) == [
        "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--uid", "1000", "--gid", "100",
        "--json-status-fd", "4", "--sync-fd", "5",
        "--tmpfs", "/run", "--ro-bind", "/usr", "/usr",
        "--setenv", "A", "first=1", "--setenv", "Z", "last",
    ]
    assert "--new-session" not in bwrap_options(SPEC)
    assert "--die-with-parent" not in bwrap_options(SPEC)


def test_hardening_options_follow_the_namespace_options() -> None:
    options = bwrap_options(SPEC, Hardening(seccomp_programs=2, disable_userns=True))
    assert options[5:13] == [
        "--uid", "1000", "--gid", "100", "--json-status-fd", "4", "--sync-fd", "5"]
    # one --add-seccomp-fd per program, in load order, from fd 7 up
    assert options[13:18] == [
        "--disable-userns", "--add-seccomp-fd", "7", "--add-seccomp-fd", "8"]


def test_chdir_when_set() -> None:
    from dataclasses import replace

    assert bwrap_options(replace(SPEC, cwd="/tmp"))[-2:] == ["--chdir", "/tmp"]


def test_argv_and_blob() -> None:
    argv, blob = bwrap_argv(SPEC)
    assert argv == ["bwrap", "--args", "3", "--", "/snap/foo/1/bin/foo", "--x", "user arg"]
    assert blob.endswith(b"\0")
    assert blob[:-1].split(b"\0") == [a.encode() for a in bwrap_options(SPEC)]


def test_find_bwrap(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "bwrap").write_text("not executable")
    exe = tmp_path / "b" / "bwrap"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert find_bwrap(f"{tmp_path / 'a'}:{tmp_path / 'b'}") == str(exe)


def test_find_bwrap_missing(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="sudo apt-get install bubblewrap"):
        find_bwrap(str(tmp_path))
