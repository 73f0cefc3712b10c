"""snapd's seccomp profile language, parsed and composed without libseccomp.

The grammar is snap-seccomp's (``cmd/snap-seccomp/main.go``: ``parseLine``,
``readNumber``, ``preprocess``) as of 2.57.6, the version Debian 12 ships, plus what
later snap-seccomp added and snapd's current template is written in:

* one rule per line, ``#`` comments (only in column 0: snap-seccomp has no trailing
  comments, ``read # x`` is a bad token), the syscall name, then up to 6 argument
  filters: ``-`` any, ``N`` or ``CONST`` equal, ``!N``, ``<N``, ``<=N``, ``>N``,
  ``>=N``, ``|M`` (all bits of M set), ``M|V`` (masked equal, 2.63), ``u:NAME`` /
  ``g:NAME`` (a host user or group id, looked up when compiling);
* numbers are decimal and 32-bit; negative ones only for the uid/gid syscalls and
  ``copy_file_range``, which compare the low 32 bits for equality only;
* ``~name ...`` is an explicit denial (2.63): it goes to a second filter and fails with
  EACCES even where an allow rule matches;
* ``@unrestricted`` / ``@complain`` on a line of their own switch the whole profile;
* a name libseccomp does not know on this architecture is ignored, so snippets written
  for other architectures or newer kernels compile everywhere (``compile`` decides,
  this module cannot know).

One usersnap extension: ``~name:ERRNO ...`` denies with that errno instead of EACCES.
snap-seccomp sees ``name:ERRNO`` as an unknown syscall and skips the line, so a profile
using it still compiles there.  It exists for ``clone3``, which must fail with ENOSYS so
that glibc falls back to ``clone``, whose flags a filter can see.

Where this parser is stricter than snap-seccomp: a line snap-seccomp would skip because
libseccomp does not know its syscall still has its arguments checked (a typo in an
argument should not hide until the syscall appears), unless the name cannot be a
syscall name at all; and a line of only blanks is blank here, where snap-seccomp
crashes on it.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import termios
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from usersnap.errors import UsersnapError
from usersnap.meta.gostd import GoNumError, go_parse_int, go_parse_uint, go_quote

#: ``ScArgsMaxlength``, libseccomp's ARG_COUNT_MAX.
MAX_ARGS = 6
#: What an explicit denial returns without an ``:ERRNO`` (snapd's errnoOnExplicitDenial).
EXPLICIT_DENIAL_ERRNO = errno.EACCES
#: What a syscall no rule allows returns (snapd's errnoOnImplicitDenial).
IMPLICIT_DENIAL_ERRNO = errno.EPERM
_LOW32 = 0xFFFFFFFF

#: ``syscallsWithNegArgsMaskHi32``: 32-bit ids the kernel masks itself; -1 means "unchanged".
NEGATIVE_ARG_SYSCALLS = frozenset({
    "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
    "setgid", "setgid32", "setregid", "setregid32", "setresgid", "setresgid32",
    "setreuid", "setreuid32", "setresuid", "setresuid32", "setuid", "setuid32",
    "copy_file_range",
})


def _constants() -> dict[str, int]:
    """snap-seccomp's ``seccompResolver`` table (snapd bee548f747, 225 names).

    Values are Linux's, checked against the C headers snap-seccomp includes on amd64.
    The few that differ between architectures come from Python's own bindings of the
    same headers, so they are right for the machine that compiles, as snap-seccomp's
    cgo values are.
    """
    families = {
        "UNIX": 1, "LOCAL": 1, "INET": 2, "INET6": 10, "IPX": 4, "NETLINK": 16, "X25": 9,
        "AX25": 3, "ATMPVC": 8, "APPLETALK": 5, "PACKET": 17, "ALG": 38, "BRIDGE": 7,
        "NETROM": 6, "ROSE": 11, "NETBEUI": 13, "SECURITY": 14, "KEY": 15, "ASH": 18,
        "ECONET": 19, "SNA": 22, "IRDA": 23, "PPPOX": 24, "WANPIPE": 25, "BLUETOOTH": 31,
        "RDS": 21, "LLC": 26, "TIPC": 30, "IUCV": 32, "RXRPC": 33, "ISDN": 34, "PHONET": 35,
        "IEEE802154": 36, "CAIF": 37, "NFC": 39, "VSOCK": 40, "IB": 27, "MPLS": 28,
        "CAN": 29, "CONN": 123, "QIPCRTR": 42, "XDP": 44,
    }
    table = {f"{prefix}_{name}": value for name, value in families.items()
             for prefix in ("AF", "PF")}
    table.update({
        "SOCK_STREAM": socket.SOCK_STREAM, "SOCK_DGRAM": socket.SOCK_DGRAM,
        "SOCK_SEQPACKET": socket.SOCK_SEQPACKET, "SOCK_RAW": socket.SOCK_RAW,
        "SOCK_RDM": socket.SOCK_RDM, "SOCK_PACKET": 10,
        # man 2 prctl
        "PR_CAP_AMBIENT": 47, "PR_CAP_AMBIENT_IS_SET": 1, "PR_CAP_AMBIENT_RAISE": 2,
        "PR_CAP_AMBIENT_LOWER": 3, "PR_CAP_AMBIENT_CLEAR_ALL": 4, "PR_CAPBSET_READ": 23,
        "PR_CAPBSET_DROP": 24, "PR_SET_CHILD_SUBREAPER": 36, "PR_GET_CHILD_SUBREAPER": 37,
        "PR_SET_DUMPABLE": 4, "PR_GET_DUMPABLE": 3, "PR_SET_ENDIAN": 20, "PR_GET_ENDIAN": 19,
        "PR_SET_FPEMU": 10, "PR_GET_FPEMU": 9, "PR_SET_FPEXC": 12, "PR_GET_FPEXC": 11,
        "PR_SET_KEEPCAPS": 8, "PR_GET_KEEPCAPS": 7, "PR_MCE_KILL": 33, "PR_MCE_KILL_GET": 34,
        "PR_SET_MM": 35, "PR_SET_MM_START_CODE": 1, "PR_SET_MM_END_CODE": 2,
        "PR_SET_MM_START_DATA": 3, "PR_SET_MM_END_DATA": 4, "PR_SET_MM_START_STACK": 5,
        "PR_SET_MM_START_BRK": 6, "PR_SET_MM_BRK": 7, "PR_SET_MM_ARG_START": 8,
        "PR_SET_MM_ARG_END": 9, "PR_SET_MM_ENV_START": 10, "PR_SET_MM_ENV_END": 11,
        "PR_SET_MM_AUXV": 12, "PR_SET_MM_EXE_FILE": 13, "PR_MPX_ENABLE_MANAGEMENT": 43,
        "PR_MPX_DISABLE_MANAGEMENT": 44, "PR_SET_NAME": 15, "PR_GET_NAME": 16,
        "PR_SET_NO_NEW_PRIVS": 38, "PR_GET_NO_NEW_PRIVS": 39, "PR_SET_PDEATHSIG": 1,
        "PR_GET_PDEATHSIG": 2, "PR_SET_PTRACER": 0x59616D61, "PR_SET_SECCOMP": 22,
        "PR_GET_SECCOMP": 21, "PR_SET_SECUREBITS": 28, "PR_GET_SECUREBITS": 27,
        "PR_SET_THP_DISABLE": 41, "PR_GET_THP_DISABLE": 42,
        "PR_TASK_PERF_EVENTS_DISABLE": 31, "PR_TASK_PERF_EVENTS_ENABLE": 32,
        "PR_GET_TID_ADDRESS": 40, "PR_SET_TIMERSLACK": 29, "PR_GET_TIMERSLACK": 30,
        "PR_SET_TIMING": 14, "PR_GET_TIMING": 13, "PR_SET_TSC": 26, "PR_GET_TSC": 25,
        "PR_SET_UNALIGN": 6, "PR_GET_UNALIGN": 5,
        # man 2 getpriority, man 2 setns
        "PRIO_PROCESS": 0, "PRIO_PGRP": 1, "PRIO_USER": 2,
        "CLONE_NEWIPC": 0x08000000, "CLONE_NEWNET": 0x40000000, "CLONE_NEWNS": 0x00020000,
        "CLONE_NEWPID": 0x20000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWUTS": 0x04000000,
        # man 4 tty_ioctl, man 2 ioctl_console
        "TIOCSTI": termios.TIOCSTI, "TIOCLINUX": getattr(termios, "TIOCLINUX", 0x541C),
        # man 2 quotactl: QCMD commands, and XQM_CMD(n) = ('X' << 8) + n
        "Q_SYNC": 0x800001, "Q_QUOTAON": 0x800002, "Q_QUOTAOFF": 0x800003,
        "Q_GETFMT": 0x800004, "Q_GETINFO": 0x800005, "Q_SETINFO": 0x800006,
        "Q_GETQUOTA": 0x800007, "Q_SETQUOTA": 0x800008, "Q_XQUOTAON": 0x5801,
        "Q_XQUOTAOFF": 0x5802, "Q_XGETQUOTA": 0x5803, "Q_XSETQLIM": 0x5804,
        "Q_XGETQSTAT": 0x5805, "Q_XQUOTARM": 0x5806,
        # man 2 mknod, man 7 inode
        "S_IFREG": 0o100000, "S_IFCHR": 0o20000, "S_IFBLK": 0o60000, "S_IFIFO": 0o10000,
        "S_IFSOCK": 0o140000, "S_ISUID": 0o4000, "S_ISGID": 0o2000,
        # man 7 netlink
        "NETLINK_ROUTE": 0, "NETLINK_USERSOCK": 2, "NETLINK_FIREWALL": 3,
        "NETLINK_SOCK_DIAG": 4, "NETLINK_INET_DIAG": 4, "NETLINK_NFLOG": 5,
        "NETLINK_XFRM": 6, "NETLINK_SELINUX": 7, "NETLINK_ISCSI": 8, "NETLINK_AUDIT": 9,
        "NETLINK_FIB_LOOKUP": 10, "NETLINK_CONNECTOR": 11, "NETLINK_NETFILTER": 12,
        "NETLINK_IP6_FW": 13, "NETLINK_DNRTMSG": 14, "NETLINK_KOBJECT_UEVENT": 15,
        "NETLINK_GENERIC": 16, "NETLINK_SCSITRANSPORT": 18, "NETLINK_ECRYPTFS": 19,
        "NETLINK_RDMA": 20, "NETLINK_CRYPTO": 21,
        # man 2 ptrace (the GETREGS family: snap-seccomp defines x86's numbers everywhere)
        "PTRACE_ATTACH": 16, "PTRACE_DETACH": 17, "PTRACE_GETREGS": 12,
        "PTRACE_GETFPREGS": 14, "PTRACE_GETFPXREGS": 18, "PTRACE_GETREGSET": 0x4204,
        "PTRACE_PEEKDATA": 2, "PTRACE_PEEKUSR": 3, "PTRACE_PEEKUSER": 3, "PTRACE_CONT": 7,
        # man 2 kcmp
        "KCMP_FILE": 0, "KCMP_VM": 1, "KCMP_FILES": 2, "KCMP_FS": 3, "KCMP_SIGHAND": 4,
        "KCMP_IO": 5, "KCMP_SYSVSEM": 6, "KCMP_EPOLL_TFD": 7,
        # man 2 pipe (O_NOTIFICATION_PIPE is O_EXCL), man 2 open
        "O_NOTIFICATION_PIPE": os.O_EXCL, "O_CREAT": os.O_CREAT,
        "O_TMPFILE": getattr(os, "O_TMPFILE", 0o20200000),
    })
    return table


CONSTANTS: Mapping[str, int] = _constants()

# Go's unicode.IsSpace, which strings.Fields and strings.TrimSpace use (Python's
# str.split() and str.strip() also take \x1c-\x1f as blanks).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B)))
_FIELDS = re.compile(f"[^{_GO_SPACE}]+")
#: Anything else is unknown to libseccomp, so snap-seccomp skips the line unread.
_SYSCALL_NAME = re.compile(r"[a-z_][a-z0-9_]*")
#: osutil.IsValidUsername (2.57.6).
_USERNAME = re.compile(r"[a-z0-9][-a-z0-9+._]*")


class SeccompProfileError(UsersnapError):
    """A profile line snap-seccomp would refuse; the message names the source and line."""


class Op(Enum):
    """libseccomp's comparisons (``enum scmp_compare``)."""

    NE = "!="
    LT = "<"
    LE = "<="
    EQ = "=="
    GE = ">="
    GT = ">"
    MASKED_EQ = "&="


@dataclass(frozen=True)
class IdRef:
    """``u:NAME`` / ``g:NAME``: resolved on the host when compiling, as snap-seccomp does."""

    kind: Literal["u", "g"]
    name: str


@dataclass(frozen=True)
class ArgCond:
    """Argument ``index`` compared with ``value`` (``(arg & mask) == value`` for MASKED_EQ)."""

    index: int
    op: Op
    value: int | IdRef
    mask: int = 0
    token: str = ""


@dataclass(frozen=True)
class Rule:
    """One rule; ``deny_errno`` is None for an allow rule, else the errno of a denial."""

    syscall: str
    args: tuple[ArgCond, ...] = ()
    deny_errno: int | None = None
    where: str = ""
    text: str = ""

    @property
    def deny(self) -> bool:
        return self.deny_errno is not None

    def render(self) -> str:
        """The rule in profile syntax, normalised (single spaces, no trailing ``-``)."""
        head = self.syscall
        if self.deny_errno is not None:
            suffix = "" if self.deny_errno == EXPLICIT_DENIAL_ERRNO else \
                f":{errno.errorcode[self.deny_errno]}"
            head = f"~{head}{suffix}"
        tokens = ["-"] * (max((c.index for c in self.args), default=-1) + 1)
        for cond in self.args:
            tokens[cond.index] = cond.token
        return " ".join([head, *tokens])


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = ()
    unrestricted: bool = False
    complain: bool = False

    @property
    def allow_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if not rule.deny)

    @property
    def deny_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.deny)


def parse_policy(text: str, source: str = "seccomp profile") -> Policy:
    """Parse a whole profile; errors name ``source`` and the line number."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    directives = {line.strip(_GO_SPACE) for line in lines}
    rules = []
    for number, line in enumerate(lines, 1):
        try:
            rule = _parse_line(line, f"{source}, line {number}")
        except _LineError as err:
            raise SeccompProfileError(f"{source}, line {number}: {err}") from None
        if rule is not None:
            rules.append(rule)
    return Policy(tuple(rules), unrestricted="@unrestricted" in directives,
                  complain="@complain" in directives)


def compose(template: str, snippets: Mapping[str, str], *, devmode: bool = False) -> Policy:
    """The profile snapd generates for an app: template, then each connected interface.

    ``snippets`` maps interface names to their text; ``devmode`` adds ``@complain``
    as snapd's ``generateContent`` does for devmode snaps.
    """
    parts = [parse_policy(template, "seccomp template")]
    parts += [parse_policy(snippets[name], f"seccomp snippet of interface {go_quote(name)}")
              for name in sorted(snippets)]
    return Policy(
        rules=tuple(rule for part in parts for rule in part.rules),
        unrestricted=any(part.unrestricted for part in parts),
        complain=devmode or any(part.complain for part in parts),
    )


def format_rules(policy: Policy, *, unknown: Collection[str] = (), arch: str = "") -> str:
    """The effective rules, one per line, sorted and without duplicates.

    ``unknown`` are the syscall names libseccomp does not know on ``arch``: listed at
    the end instead of among the rules, since they compile to nothing.
    """
    if policy.unrestricted:
        return "# @unrestricted: no seccomp filter at all\n"
    if policy.complain:
        mode = "# @complain: a system call no rule allows is logged, then allowed"
    else:
        mode = (f"# enforcing: a system call no rule allows fails with "
                f"{errno.errorcode[IMPLICIT_DENIAL_ERRNO]}")
    seen: dict[str, Rule] = {}
    for rule in policy.rules:
        if rule.syscall not in unknown:
            seen.setdefault(rule.render(), rule)
    allowed = sorted((text, rule) for text, rule in seen.items() if not rule.deny)
    denied = sorted((text, rule) for text, rule in seen.items() if rule.deny)
    width = max((len(text) for text in seen), default=0) + 2
    out = [mode, f"# {len(allowed)} allow rules"]
    out += [f"{text:<{width}}# {rule.where}" for text, rule in allowed]
    out.append(f"# {len(denied)} explicit denials, checked even where a rule allows "
               f"(errno {errno.errorcode[EXPLICIT_DENIAL_ERRNO]} unless given)")
    out += [f"{text:<{width}}# {rule.where}" for text, rule in denied]
    if unknown:
        where = f" on {arch}" if arch else ""
        out.append(f"# ignored, unknown to libseccomp{where}: {' '.join(sorted(unknown))}")
    return "\n".join(out) + "\n"


class _LineError(Exception):
    """snap-seccomp's message for a line, before the source and line number are added."""


def _parse_line(line: str, where: str) -> Rule | None:
    if line.startswith("#"):
        return None
    tokens = _FIELDS.findall(line)
    if not tokens:
        return None
    if len(tokens) - 1 > MAX_ARGS:
        raise _LineError(f"too many arguments specified for syscall '{tokens[0]}' in line "
                         f"{go_quote(line)}")
    name, deny_errno = tokens[0], None
    if name.startswith("~"):
        name, _, errno_name = name[1:].partition(":")
        deny_errno = _errno(errno_name, line) if errno_name else EXPLICIT_DENIAL_ERRNO
    if not _SYSCALL_NAME.fullmatch(name):
        return None
    args = tuple(cond for index, token in enumerate(tokens[1:])
                 if (cond := _parse_arg(index, token, name, line)) is not None)
    return Rule(name, args, deny_errno, where=where, text=line)


def _errno(name: str, line: str) -> int:
    value = getattr(errno, name, None)
    if not name.startswith("E") or not isinstance(value, int):
        raise _LineError(f"cannot parse errno {go_quote(name)} (line {go_quote(line)})")
    return value


def _parse_arg(index: int, token: str, syscall: str, line: str) -> ArgCond | None:
    """One argument token, in ``parseLine``'s order of prefix tests."""
    if token == "-":
        return None
    value: int | IdRef
    mask = 0
    try:
        for prefix, op in (
            (">=", Op.GE), ("<=", Op.LE), ("!", Op.NE), ("<", Op.LT), (">", Op.GT),
            ("|", Op.MASKED_EQ),
        ):
            if token.startswith(prefix):
                value = _number(token[len(prefix):], syscall)
                mask = value if op is Op.MASKED_EQ else 0
                break
        else:
            if "|" in token:
                op = Op.MASKED_EQ
                mask_text, value_text = _masked(token)
                mask, value = _number(mask_text, syscall), _number(value_text, syscall)
            elif token.startswith(("u:", "g:")):
                op, value = Op.EQ, _id_ref(token, line)
            else:
                op, value = Op.EQ, _number(token, syscall)
    except (GoNumError, ValueError):
        raise _LineError(f"cannot parse token {go_quote(token)} (line {go_quote(line)})"
                         ) from None
    if syscall in NEGATIVE_ARG_SYSCALLS:
        # For now only EQ with these (snap-seccomp): compared as 32-bit values.
        if op is not Op.EQ:
            raise _LineError(f"cannot parse token {go_quote(token)} (line {go_quote(line)}): "
                             "unsupported comparison")
        op, mask = Op.MASKED_EQ, _LOW32
    return ArgCond(index, op, value, mask, token)


def _number(text: str, syscall: str) -> int:
    """``readNumber``: a constant, a 32-bit decimal, or (where allowed) a negative int32."""
    if text in CONSTANTS:
        return CONSTANTS[text]
    try:
        return go_parse_uint(text, 10, 32)
    except GoNumError:
        if syscall not in NEGATIVE_ARG_SYSCALLS:
            raise
    return go_parse_int(text, 10, 32) & _LOW32


def _masked(token: str) -> tuple[str, str]:
    parts = token.split("|")
    if len(parts) != 2:
        raise ValueError(f"cannot parse masked equal: unexpected number of tokens {len(parts)}")
    return parts[0], parts[1]


def _id_ref(token: str, line: str) -> IdRef:
    kind: Literal["u", "g"] = "u" if token.startswith("u:") else "g"
    name = token[2:]
    if not _USERNAME.fullmatch(name):
        what = "username" if kind == "u" else "group name"
        raise _LineError(f"cannot parse token {go_quote(token)} (line {go_quote(line)}): "
                         f"{go_quote(name)} must be a valid {what}")
    return IdRef(kind, name)

