"""The app environment: snapd's variable set and values, and its expansion rules."""

from __future__ import annotations

import pytest

from usersnap.meta.model import App, Hook, SnapInfo, frozen_map
from usersnap.sandbox.environment import (
    SNAPD_PATH,
    build_environment,
    dpkg_arch,
    expand_env_value,
    go_expand,
    go_join,
)

# snapd's tests/lib/snaps/test-snapd-tools, as tests/main/snap-env uses it.
TOOLS = SnapInfo(
    name="test-snapd-tools",
    version="1.0",
    environment=(("EXTRA_GLOBAL", "extra-global"), ("EXTRA_CACHE_DIR", "$SNAP_USER_DATA/.cache")),
    apps=frozen_map({
        "env": App(
            name="env",
            command="bin/env",
            environment=(
                ("EXTRA_LOCAL", "extra-local"),
                ("EXTRA_LOCAL_NESTED", "${EXTRA_GLOBAL}-nested"),
                ("EXTRA_LOCAL_PATH", "$SNAP/bin:$SNAP/usr/bin:/usr/bin"),
            ),
        ),
    }),
)
HOST = {"SHELL": "/bin/sh", "TMPDIR": "/foobar", "LANG": "C.UTF-8", "TERM": "xterm",
        "PATH": "/home/alice/bin:/usr/bin", "LD_PRELOAD": "/evil.so", "LD_LIBRARY_PATH": "/x",
        "GCONV_PATH": "/g", "TZDIR": "/tz", "LD_BIND_NOW": "1", "HOME": "/home/alice"}


def tools_env(uid: int = 0, home: str = "/root", **kwargs: object) -> dict[str, str]:
    return build_environment(
        TOOLS, "x1", app=TOOLS.apps["env"], host_env=kwargs.pop("host_env", HOST),  # type: ignore[arg-type]
        uid=uid, home=home, arch="amd64", cookie="c00kie", **kwargs,  # type: ignore[arg-type]
    )


def test_snap_env_spread_expectations() -> None:
    env = tools_env()
    snap_vars = {k: v for k, v in env.items() if k.startswith("SNAP_")}
    assert snap_vars == {
        "SNAP_ARCH": "amd64",
        "SNAP_COMMON": "/var/snap/test-snapd-tools/common",
        "SNAP_DATA": "/var/snap/test-snapd-tools/x1",
        "SNAP_LIBRARY_PATH": "/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32:/var/lib/snapd/void",
        "SNAP_REEXEC": "",
        "SNAP_REVISION": "x1",
        "SNAP_USER_COMMON": "/root/snap/test-snapd-tools/common",
        "SNAP_USER_DATA": "/root/snap/test-snapd-tools/x1",
        "SNAP_VERSION": "1.0",
        "SNAP_COOKIE": "c00kie",
        "SNAP_CONTEXT": "c00kie",
        "SNAP_NAME": "test-snapd-tools",
        "SNAP_INSTANCE_NAME": "test-snapd-tools",
        "SNAP_INSTANCE_KEY": "",
        "SNAP_REAL_HOME": "/root",
        "SNAP_UID": "0",
        "SNAP_EUID": "0",
    }  # 17 on classic, as tests/main/snap-env counts them
    assert env["SNAP"] == "/snap/test-snapd-tools/x1"
    assert env["XDG_RUNTIME_DIR"] == "/run/user/0/snap.test-snapd-tools"
    assert {k: v for k, v in env.items() if k.startswith("EXTRA_")} == {
        "EXTRA_GLOBAL": "extra-global",
        "EXTRA_LOCAL": "extra-local",
        "EXTRA_LOCAL_NESTED": "extra-global-nested",
        "EXTRA_CACHE_DIR": "/root/snap/test-snapd-tools/x1/.cache",
        "EXTRA_LOCAL_PATH":
            "/snap/test-snapd-tools/x1/bin:/snap/test-snapd-tools/x1/usr/bin:/usr/bin",
    }
    assert env["PATH"] == SNAPD_PATH
    assert env["SHELL"] == "/bin/bash"  # even when the caller has /bin/sh
    assert env["HOME"] == "/root/snap/test-snapd-tools/x1"
    assert env["TMPDIR"] == env["TEMPDIR"] == "/tmp"


def test_user_values() -> None:
    env = tools_env(uid=1000, home="/home/alice")
    assert env["HOME"] == env["SNAP_USER_DATA"] == "/home/alice/snap/test-snapd-tools/x1"
    assert env["SNAP_USER_COMMON"] == "/home/alice/snap/test-snapd-tools/common"
    assert env["SNAP_REAL_HOME"] == "/home/alice"
    assert env["XDG_RUNTIME_DIR"] == "/run/user/1000/snap.test-snapd-tools"
    assert env["SNAP_UID"] == env["SNAP_EUID"] == "1000"


def test_host_environment_passes_minus_unsafe() -> None:
    env = tools_env(host_env={**HOST, "SNAP_REEXEC": "0", "DISPLAY": ":0"})
    assert (env["LANG"], env["TERM"], env["DISPLAY"]) == ("C.UTF-8", "xterm", ":0")
    assert env["LD_BIND_NOW"] == "1"  # not in glibc's unsecure list
    for gone in ("LD_PRELOAD", "LD_LIBRARY_PATH", "GCONV_PATH", "TZDIR"):
        assert gone not in env
    assert env["SNAP_REEXEC"] == "0"


def test_snap_variables_override_host_ones() -> None:
    env = tools_env(host_env={
        "SNAP": "/elsewhere", "SNAP_COOKIE": "stolen", "XDG_RUNTIME_DIR": "/run/user/0",
    })
    assert env["SNAP"] == "/snap/test-snapd-tools/x1"
    assert env["SNAP_COOKIE"] == "c00kie"
    assert env["XDG_RUNTIME_DIR"] == "/run/user/0/snap.test-snapd-tools"


def test_app_level_overrides_and_sees_top_level() -> None:
    info = SnapInfo(
        name="foo", version="2",
        environment=(("A", "top"), ("PATH", "$SNAP/bin:$PATH"), ("LD_LIBRARY_PATH",
                     "${SNAP_LIBRARY_PATH}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}:$SNAP/lib")),
        apps=frozen_map({"a": App(name="a", command="x", environment=(
            ("B", "$A-b"), ("A", "app"), ("C", "$A"), ("PATH", "$PATH:/extra"),
        ))}),
    )
    env = build_environment(info, "12", app=info.apps["a"], host_env={"LD_LIBRARY_PATH": "/host"},
                            uid=1000, home="/home/a", arch="arm64")
    assert env["B"] == "top-b"
    assert (env["A"], env["C"]) == ("app", "app")
    assert env["PATH"] == f"/snap/foo/12/bin:{SNAPD_PATH}:/extra"
    # the host's LD_LIBRARY_PATH is dropped before the snap's is computed
    assert env["LD_LIBRARY_PATH"] == (
        "/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32:/var/lib/snapd/void:/snap/foo/12/lib"
    )
    assert env["SNAP_ARCH"] == "arm64"


def test_hook_environment() -> None:
    hook = Hook(name="configure", environment=(("H", "$A-hook"),))
    info = SnapInfo(name="foo", version="2", environment=(("A", "top"),),
                    hooks=frozen_map({"configure": hook}))
    env = build_environment(info, "3", hook=info.hooks["configure"], host_env={}, uid=0,
                            home="/root", arch="amd64")
    assert env["H"] == "top-hook"
    assert env["SNAP_COOKIE"] == ""


def test_exactly_one_owner() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        build_environment(TOOLS, "1", host_env={}, uid=0, home="/root", arch="amd64")


@pytest.mark.parametrize(("text", "expected"), [
    ("plain", "plain"),
    ("$A", "a"),
    ("${A}", "a"),
    ("$A$B", "ab"),
    ("${A}x", "ax"),
    ("$Ax", ""),  # the name is Ax
    ("$UNSET-x", "-x"),
    ("x$", "x$"),  # a final $ stays
    ("$/x", "$/x"),  # $ without a name stays
    ("$$", "pid"),  # special one-character names
    ("$12", "one2"),
    ("${1}", "one"),
    ("${}x", "x"),  # bad syntax is eaten
    ("${A", "A"),  # unterminated: "${" eaten
    ("${A B}", "spaced"),  # anything up to } is the name
    ("${A:-x}", ""),  # plain os.Expand has no defaults
    ("${A}}", "a}"),
])
def test_go_expand(text: str, expected: str) -> None:
    values = {"A": "a", "B": "b", "$": "pid", "1": "one", "A B": "spaced"}
    assert go_expand(text, lambda name: values.get(name, "")) == expected


# snapd's osutil/env_test.go: TestExpandEnvVariable, then edge cases of the same code.
@pytest.mark.parametrize(("value", "expected"), [
    ("${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/lib/x86_64-linux-gnu",
     "/usr/lib:/usr/local/lib:/usr/lib/x86_64-linux-gnu"),
    ("${PATH:+$PATH:}/usr/local/bin", "/usr/local/bin"),
    ("${TMPDIR:-this-wont-be}", "/var/tmp"),
    ("${NOEXISTS:-a-new-value}", "a-new-value"),
    ("${A:+}", ""),
    ("${B:+goodvalue}", "goodvalue"),
    ("${C:-}", ""),
    ("${D:-$D_default}", "default"),
    ("${EMPTY:-fallback}", "fallback"),  # empty counts as unset
    ("${EMPTY:+alt}", ""),
    ("${A:-$B}", "foo"),
    ("${A:+${B}}", "B}"),  # the name ends at the first }; "${B" loses its "${"
    ("x-${A:+[$A]}-y", "x-[foo]-y"),
    ("$A:-x", "foo:-x"),  # no braces, no condition
])
def test_expand_env_value(value: str, expected: str) -> None:
    env = {"LD_LIBRARY_PATH": "/usr/lib:/usr/local/lib", "TMPDIR": "/var/tmp", "A": "foo",
           "B": "bad-value", "D_default": "default", "EMPTY": ""}
    assert expand_env_value(value, env) == expected


@pytest.mark.parametrize(("machine", "bits64", "arch"), [
    ("x86_64", True, "amd64"), ("x86_64", False, "i386"), ("i686", False, "i386"),
    ("aarch64", True, "arm64"), ("aarch64", False, "armhf"), ("armv7l", False, "armhf"),
    ("ppc64le", True, "ppc64el"), ("s390x", True, "s390x"), ("riscv64", True, "riscv64"),
])
def test_dpkg_arch(machine: str, bits64: bool, arch: str) -> None:
    assert dpkg_arch(machine, bits64=bits64) == arch


def test_go_join() -> None:
    assert go_join("/snap/foo/1", "/bin/x") == "/snap/foo/1/bin/x"
    assert go_join("/snap/foo/1", "./bin//x") == "/snap/foo/1/bin/x"
    assert go_join("/snap/foo/1", "") == "/snap/foo/1"
    assert go_join("/home/a/", "snap", "n", "1") == "/home/a/snap/n/1"
    assert go_join("/", "bin") == "/bin"
    assert go_join("//x", "y") == "/x/y"
