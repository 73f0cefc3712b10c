"""The profile parser: every form snap-seccomp accepts, and its refusals, line by line."""

from __future__ import annotations

import errno
import os
import socket
import stat
import termios

import pytest

from usersnap.seccomp.policy import (
    CONSTANTS,
    ArgCond,
    IdRef,
    Op,
    Policy,
    Rule,
    SeccompProfileError,
    compose,
    format_rules,
    parse_policy,
)


def one(line: str) -> Rule:
    rules = parse_policy(line).rules
    assert len(rules) == 1, rules
    return rules[0]


def args(line: str) -> list[tuple[int, Op, int | IdRef, int]]:
    return [(c.index, c.op, c.value, c.mask) for c in one(line).args]


def error(text: str, source: str = "seccomp profile") -> str:
    with pytest.raises(SeccompProfileError) as info:
        parse_policy(text, source)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- lines -------------------------------------------------------------------------------


def test_plain_syscall() -> None:
    assert one("read") == Rule("read", where="seccomp profile, line 1", text="read")


@pytest.mark.parametrize("text", [
    "", "\n\n", "# comment", "#read", "   ", "\t\n", "  # indented: the name is '#'",
    "@complain extra args",  # never a syscall name, so its arguments are not read
    "Read", "~", "read-only 1", "clone3:ENOSYS",  # ':' only means something after '~'
])
def test_lines_that_are_no_rules(text: str) -> None:
    assert parse_policy(text).rules == ()


def test_line_numbers_and_source() -> None:
    policy = parse_policy("# head\n\nread\n  write\r\n", "my.src")
    assert [(r.syscall, r.where, r.text) for r in policy.rules] == [
        ("read", "my.src, line 3", "read"),
        ("write", "my.src, line 4", "  write"),
    ]


def test_go_whitespace_splits_fields() -> None:
    # strings.Fields splits on NBSP and NEL, not on the \x1c-\x1f separators.
    assert args("socket\u00a0AF_UNIX\x85-\tSOCK_STREAM") == [
        (0, Op.EQ, 1, 0), (2, Op.EQ, socket.SOCK_STREAM, 0)]
    assert parse_policy("read\x1c").rules == ()


def test_too_many_arguments() -> None:
    assert args("mmap - - - - - 0") == [(5, Op.EQ, 0, 0)]
    assert error("read\nmmap - - - - - - 0") == (
        "seccomp profile, line 2: too many arguments specified for syscall 'mmap' in line "
        '"mmap - - - - - - 0"')


def test_trailing_comment_is_a_bad_token() -> None:
    assert error("read # why") == (
        'seccomp profile, line 1: cannot parse token "#" (line "read # why")')


# --- argument forms ----------------------------------------------------------------------


@pytest.mark.parametrize(("token", "expected"), [
    ("5", (Op.EQ, 5, 0)),
    ("AF_INET6", (Op.EQ, 10, 0)),
    ("!TIOCSTI", (Op.NE, termios.TIOCSTI, 0)),
    ("<5", (Op.LT, 5, 0)),
    ("<=19", (Op.LE, 19, 0)),
    (">5", (Op.GT, 5, 0)),
    (">=0", (Op.GE, 0, 0)),
    ("|S_IFIFO", (Op.MASKED_EQ, stat.S_IFIFO, stat.S_IFIFO)),
    ("4294967295|TIOCSTI", (Op.MASKED_EQ, termios.TIOCSTI, 0xFFFFFFFF)),
    ("0|0", (Op.MASKED_EQ, 0, 0)),
    ("4294967295", (Op.EQ, 0xFFFFFFFF, 0)),
    ("007", (Op.EQ, 7, 0)),
    ("u:root", (Op.EQ, IdRef("u", "root"), 0)),
    ("g:snap_daemon", (Op.EQ, IdRef("g", "snap_daemon"), 0)),
])
def test_argument_forms(token: str, expected: tuple[Op, int | IdRef, int]) -> None:
    cond = one(f"ioctl - {token}").args[0]
    assert (cond.index, cond.op, cond.value, cond.mask, cond.token) == (1, *expected, token)


def test_dash_skips_an_argument() -> None:
    assert args("setpriority PRIO_PROCESS - <=19") == [(0, Op.EQ, 0, 0), (2, Op.LE, 19, 0)]


@pytest.mark.parametrize("token", [
    "AF_BOGUS", "af_unix", "0x10", "+5", "-1", "4294967296", "--", "!", "<", "|", "1|2|3",
    "|5|6", "!|5", ">==5", "1.5", "five",
])
def test_bad_tokens(token: str) -> None:
    line = f"ioctl - {token}"
    assert error(line) == (
        f'seccomp profile, line 1: cannot parse token "{token}" (line "{line}")')


def test_negative_numbers_only_for_id_syscalls() -> None:
    # Compared as 32-bit values, with EQ only (syscallsWithNegArgsMaskHi32).
    low32 = 0xFFFFFFFF
    assert args("chown - u:root -1") == [
        (1, Op.MASKED_EQ, IdRef("u", "root"), low32), (2, Op.MASKED_EQ, low32, low32)]
    assert args("setresuid +5 -2147483648") == [
        (0, Op.MASKED_EQ, 5, 0xFFFFFFFF), (1, Op.MASKED_EQ, 0x80000000, 0xFFFFFFFF)]
    assert args("copy_file_range - - - - - 0") == [(5, Op.MASKED_EQ, 0, 0xFFFFFFFF)]
    assert error("setuid -2147483649").endswith('cannot parse token "-2147483649" '
                                                '(line "setuid -2147483649")')
    assert error("read -1").endswith('cannot parse token "-1" (line "read -1")')


@pytest.mark.parametrize("token", [">1", "!0", "|1", "4294967295|0"])
def test_id_syscalls_refuse_other_comparisons(token: str) -> None:
    assert error(f"setgid {token}") == (
        f'seccomp profile, line 1: cannot parse token "{token}" (line "setgid {token}"): '
        "unsupported comparison")


def test_user_and_group_names_are_checked() -> None:
    assert error("chown - u:Bad") == (
        'seccomp profile, line 1: cannot parse token "u:Bad" (line "chown - u:Bad"): '
        '"Bad" must be a valid username')
    assert error("chown - - g:-x").endswith('"-x" must be a valid group name')
    assert error("chown - u:").endswith('"" must be a valid username')


def test_arguments_of_unknown_syscalls_are_still_checked() -> None:
    # snap-seccomp would skip the line if libseccomp does not know the name; a typo in
    # an argument should not wait until it does.
    assert "AF_BOGUS" in error("future_syscall AF_BOGUS")


# --- denials and directives --------------------------------------------------------------


def test_explicit_denial() -> None:
    rule = one("~ioctl - TIOCSTI")
    assert (rule.syscall, rule.deny, rule.deny_errno) == ("ioctl", True, errno.EACCES)
    assert rule.args == (ArgCond(1, Op.EQ, termios.TIOCSTI, 0, "TIOCSTI"),)


def test_denial_with_errno() -> None:
    rule = one("~clone3:ENOSYS")
    assert (rule.syscall, rule.deny_errno, rule.args) == ("clone3", errno.ENOSYS, ())
    assert error("~clone3:EBOGUS") == (
        'seccomp profile, line 1: cannot parse errno "EBOGUS" (line "~clone3:EBOGUS")')
    assert "errno" in error("~clone3:errorcode")


@pytest.mark.parametrize(("text", "unrestricted", "complain"), [
    ("read\n@unrestricted\n", True, False),
    ("  @complain \t\nread", False, True),
    ("@complain\n@unrestricted", True, True),
    ("#@complain\n@complain x\n@unrestricted,\n", False, False),
])
def test_directives(text: str, unrestricted: bool, complain: bool) -> None:
    policy = parse_policy(text)
    assert (policy.unrestricted, policy.complain) == (unrestricted, complain)


def test_render_normalises() -> None:
    assert one("  mknodat   -  - |S_IFREG  - ").render() == "mknodat - - |S_IFREG"
    assert one("~clone3:ENOSYS").render() == "~clone3:ENOSYS"
    assert one("~openat2").render() == "~openat2"
    assert one("~ioctl - 4294967295|TIOCSTI").render() == "~ioctl - 4294967295|TIOCSTI"


def test_constants_agree_with_the_host_headers() -> None:
    assert len(CONSTANTS) == 225
    for name in ("AF_UNIX", "AF_INET6", "AF_NETLINK", "AF_PACKET"):
        assert CONSTANTS[name] == CONSTANTS["PF" + name[2:]] == getattr(socket, name), name
    for name in ("SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_SEQPACKET"):
        assert CONSTANTS[name] == getattr(socket, name), name
    for name in ("S_IFREG", "S_IFCHR", "S_IFBLK", "S_IFIFO", "S_IFSOCK", "S_ISUID", "S_ISGID"):
        assert CONSTANTS[name] == getattr(stat, name), name
    assert CONSTANTS["O_CREAT"] == os.O_CREAT
    assert CONSTANTS["O_TMPFILE"] == os.O_TMPFILE
    assert CONSTANTS["O_NOTIFICATION_PIPE"] == os.O_EXCL
    assert CONSTANTS["TIOCSTI"] == termios.TIOCSTI
    assert CONSTANTS["CLONE_NEWUSER"] == 0x10000000


# --- composition and rendering -----------------------------------------------------------


def test_compose_orders_and_names_sources() -> None:
    policy = compose("read\n", {"x11": "bind\n", "audio-playback": "\nshmctl\n"})
    assert [(r.syscall, r.where) for r in policy.rules] == [
        ("read", "seccomp template, line 1"),
        ("shmctl", 'seccomp snippet of interface "audio-playback", line 2'),
        ("bind", 'seccomp snippet of interface "x11", line 1'),
    ]
    assert (policy.complain, policy.unrestricted) == (False, False)


def test_compose_modes() -> None:
    assert compose("read", {}, devmode=True).complain
    assert compose("read", {"a": "@complain"}).complain
    assert compose("read", {"a": "@unrestricted"}).unrestricted


def test_compose_errors_name_the_interface() -> None:
    with pytest.raises(SeccompProfileError) as info:
        compose("read", {"network": "\nsocket AF_NOPE\n"})
    assert str(info.value).startswith('seccomp snippet of interface "network", line 2: ')


def test_format_rules_dedupes_sorts_and_lists_unknown() -> None:
    policy = parse_policy("write\nread\nbind\nbind\n~ioctl - TIOCSTI\nmseal\n~clone3:ENOSYS",
                          "t")
    text = format_rules(policy, unknown={"mseal"}, arch="x86_64")
    lines = text.splitlines()
    assert lines[0] == "# enforcing: a system call no rule allows fails with EPERM"
    assert lines[1] == "# 3 allow rules"
    assert [line.split()[0] for line in lines[2:5]] == ["bind", "read", "write"]
    assert lines[2].endswith("# t, line 3")
    assert lines[5].startswith("# 2 explicit denials")
    assert [line.split()[0] for line in lines[6:8]] == ["~clone3:ENOSYS", "~ioctl"]
    assert lines[8] == "# ignored, unknown to libseccomp on x86_64: mseal"


def test_format_rules_modes() -> None:
    assert "@complain" in format_rules(Policy(complain=True)).splitlines()[0]
    assert format_rules(Policy(unrestricted=True)) == "# @unrestricted: no seccomp filter at all\n"
