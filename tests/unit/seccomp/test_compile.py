"""Compiling with the real libseccomp (a system library, no process is filtered here)."""

from __future__ import annotations

import os
import struct

import pytest

from usersnap.seccomp import compile as sc
from usersnap.seccomp.policy import compose, parse_policy
from usersnap.seccomp.profiles import default_template, known_interfaces, snippet_for

X86_64 = os.uname().machine == "x86_64"
#: BPF_LD | BPF_W | BPF_ABS of seccomp_data.arch (offset 4): every program starts so.
LOAD_ARCH = struct.pack("<HBBI", 0x20, 0, 0, 4)


def test_library() -> None:
    major, minor, _ = map(int, sc.library_version().split("."))
    assert (major, minor) >= (2, 4)
    assert sc.filter_arches()[0] == sc.native_arch()


def test_full_profile() -> None:
    policy = compose(default_template(), {name: snippet_for(name) for name in known_interfaces()})
    compiled = sc.compile_policy(policy)
    assert compiled.programs == (compiled.deny, compiled.allow)
    for program in compiled.programs:
        assert len(program) % 8 == 0
        assert 0 < len(program) // 8 <= sc.MAX_INSTRUCTIONS
        assert program.startswith(LOAD_ARCH)
    # Names libseccomp 2.5 does not know, or not on this architecture, are skipped.
    assert "mseal" in compiled.skipped or "pread" in compiled.skipped


def test_same_text_same_bytes() -> None:
    policy = parse_policy("read\nsocket AF_UNIX\n~ioctl - TIOCSTI\nioctl\n")
    assert sc.compile_policy(policy) == sc.compile_policy(policy)


def test_unknown_syscalls_are_skipped() -> None:
    compiled = sc.compile_policy(parse_policy("read\nusersnap_no_such_call 1\nread"))
    assert compiled.skipped == ("usersnap_no_such_call",)


def test_no_denials_no_deny_program() -> None:
    compiled = sc.compile_policy(parse_policy("read\nwrite\n"))
    assert compiled.deny == b"" and compiled.programs == (compiled.allow,)


def test_unrestricted_compiles_to_nothing() -> None:
    compiled = sc.compile_policy(parse_policy("@unrestricted\nread\n~ioctl"))
    assert compiled.programs == ()
    assert sc.export_pfc(parse_policy("@unrestricted")) == ""


def test_actions_in_pseudo_code() -> None:
    pfc = sc.export_pfc(parse_policy("read\n~ioctl - TIOCSTI\n~clone3:ENOSYS\n"))
    deny, allow = pfc.split("# ---- allow, loaded last ----")
    assert deny.startswith("# ---- deny, loaded first ----")
    assert "action ERRNO(13);" in deny and "action ERRNO(38);" in deny
    assert deny.rstrip().endswith("#") and "  action ALLOW;" in deny  # default of deny
    assert "  action ERRNO(1);" in allow  # the default: EPERM
    complain = sc.export_pfc(parse_policy("@complain\nread\n"))
    assert "  action LOG;" in complain and "ERRNO(1)" not in complain


@pytest.mark.skipif(not X86_64, reason="compat architectures of x86_64")
def test_compat_architectures() -> None:
    assert sc.filter_arches() == (sc.ARCH_X86_64, sc.ARCH_X86, sc.ARCH_X32)
    pfc = sc.export_pfc(parse_policy("read\n"))
    assert pfc.count("# filter for arch x86 ") == 1
    assert pfc.count("# filter for arch x32 ") == 1


def test_user_and_group_lookup() -> None:
    pfc = sc.export_pfc(parse_policy("setuid u:root\nsetgid g:root\n"))
    assert pfc.count("if ($a0.lo32 & 0xffffffff == 0)") == 2  # root's ids, low 32 bits
    with pytest.raises(sc.SeccompCompileError) as info:
        sc.compile_policy(parse_policy("read\nchown - u:usersnap-no-such-user\n", "p.src"))
    assert str(info.value) == (
        'p.src, line 2: cannot parse token "u:usersnap-no-such-user" '
        '(line "chown - u:usersnap-no-such-user"): unknown user usersnap-no-such-user')


def test_render_rules() -> None:
    text = sc.render_rules(parse_policy("read\nusersnap_no_such_call\n~ioctl - TIOCSTI\n", "p"))
    lines = text.splitlines()
    assert lines[0].startswith(f"# libseccomp {sc.library_version()}; architectures: ")
    assert lines[1] == "# enforcing: a system call no rule allows fails with EPERM"
    assert "read              # p, line 1" in lines
    assert lines[-1] == "#" and "# ---- deny, loaded first ----" in lines
    assert any(line.startswith("# ignored, unknown to libseccomp on ")
               and line.endswith(": usersnap_no_such_call") for line in lines)
