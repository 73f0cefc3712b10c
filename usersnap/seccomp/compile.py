"""Compile a :class:`~usersnap.seccomp.policy.Policy` to BPF with libseccomp.

The only module that touches libseccomp, through a ctypes binding of the dozen
functions it needs (docs/dependencies.md says why not pyseccomp or Debian's module).

What comes out is what snap-seccomp >= 2.63 writes, as two programs for bwrap's
``--add-seccomp-fd``, deny first, allow last:

* **allow**: default ``ERRNO(EPERM)`` (``LOG`` under ``@complain``), one ALLOW rule per
  allow line;
* **deny**: default ALLOW, one ``ERRNO(EACCES)`` rule (or the ``:ERRNO`` given) per ``~``
  line; left out when the policy has no ``~`` line.

Two programs, not one, because libseccomp cannot hold both in one filter: an
unconditional ``ioctl`` ALLOW silently swallows a conditional ``ioctl TIOCSTI`` ERRNO added
before or after it (checked with libseccomp 2.5.4).  The kernel runs every filter and
keeps the strongest action; between two errnos, the one from the filter installed last,
which bwrap makes the last ``--add-seccomp-fd``.  So an explicitly denied call that the
allow list permits gets EACCES, and a call outside the allow list gets EPERM, as under
snap-confine, which loads deny then allow.

Architectures: the native one plus its compat ones -- x86 and x32 on x86_64, arm on
aarch64, ppc on ppc64 -- in both programs, so 32-bit code in a snap gets the same rules
instead of being killed for its architecture (snap-seccomp adds x86 only; x32 is added
so that a kernel booted with x32 enabled runs x32 code under the same rules too).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import grp
import os
import pwd
from collections.abc import Iterator
from dataclasses import dataclass

from usersnap.errors import UsersnapError
from usersnap.meta.gostd import go_quote
from usersnap.seccomp.policy import (
    IMPLICIT_DENIAL_ERRNO,
    ArgCond,
    IdRef,
    Op,
    Policy,
    Rule,
    format_rules,
)

SONAME = "libseccomp.so.2"
#: Argument comparisons with <, <=, >, >= are broken before 2.4 (libseccomp issue #69).
MIN_VERSION = (2, 4, 0)
#: BPF_MAXINSNS: the kernel refuses a longer program (snap-confine checks it too).
MAX_INSTRUCTIONS = 4096

ACT_ALLOW = 0x7FFF0000
ACT_LOG = 0x7FFC0000
_ACT_ERRNO = 0x00050000
_NR_SCMP_ERROR = -1
#: SCMP_FLTATR_CTL_OPTIMIZE = 2 (libseccomp >= 2.5): a binary tree of syscall numbers
#: instead of a linear list.  The kernel runs the filter for every syscall number when
#: it loads it (its action cache), so this more than halves the load time bwrap pays
#: at every launch (1.75 -> 0.76 ms for the default template, measured with 6.18).
_ATTR_OPTIMIZE, _OPTIMIZE_BINARY_TREE = 8, 2
_OPS = {Op.NE: 1, Op.LT: 2, Op.LE: 3, Op.EQ: 4, Op.GE: 5, Op.GT: 6, Op.MASKED_EQ: 7}

# Audit architecture tokens (linux/audit.h), which libseccomp uses as its arch ids.
_LE, _64 = 0x40000000, 0x80000000
ARCH_X86_64 = 62 | _64 | _LE
ARCH_X86 = 3 | _LE
ARCH_X32 = 62 | _LE
ARCH_AARCH64 = 183 | _64 | _LE
ARCH_ARM = 40 | _LE
ARCH_PPC64 = 21 | _64
ARCH_PPC = 20
ARCH_NAMES = {
    ARCH_X86_64: "x86_64", ARCH_X86: "x86", ARCH_X32: "x32", ARCH_AARCH64: "aarch64",
    ARCH_ARM: "arm", ARCH_PPC64: "ppc64", ARCH_PPC: "ppc", 21 | _64 | _LE: "ppc64le",
    22 | _64: "s390x", 243 | _64 | _LE: "riscv64",
}
#: snap-seccomp's addSecondaryArches, plus x32.
COMPAT_ARCHES = {
    ARCH_X86_64: (ARCH_X86, ARCH_X32),
    ARCH_AARCH64: (ARCH_ARM,),
    ARCH_PPC64: (ARCH_PPC,),
}


class SeccompCompileError(UsersnapError):
    """libseccomp is missing or refused a rule; the message names the profile line."""


def action_errno(code: int) -> int:
    return _ACT_ERRNO | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


@functools.cache
def _lib() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(SONAME)
    except OSError as err:
        raise SeccompCompileError(
            f"cannot load {SONAME} ({err}); install libseccomp, e.g. "
            "sudo apt-get install libseccomp2"
        ) from None
    ctx, u32, c_int = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
    arg_array = ctypes.POINTER(_ArgCmp)
    for name, restype, argtypes in (
        ("seccomp_version", ctypes.POINTER(_Version), ()),
        ("seccomp_init", ctx, (u32,)),
        ("seccomp_release", None, (ctx,)),
        ("seccomp_arch_native", u32, ()),
        ("seccomp_arch_add", c_int, (ctx, u32)),
        ("seccomp_attr_set", c_int, (ctx, c_int, u32)),
        ("seccomp_syscall_resolve_name", c_int, (ctypes.c_char_p,)),
        ("seccomp_rule_add_array", c_int, (ctx, u32, c_int, ctypes.c_uint, arg_array)),
        ("seccomp_rule_add_exact_array", c_int, (ctx, u32, c_int, ctypes.c_uint, arg_array)),
        ("seccomp_export_bpf", c_int, (ctx, c_int)),
        ("seccomp_export_pfc", c_int, (ctx, c_int)),
    ):
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    version = lib.seccomp_version().contents
    found = (version.major, version.minor, version.micro)
    if found < MIN_VERSION:
        raise SeccompCompileError(
            f"libseccomp {'.'.join(map(str, found))} is too old: usersnap needs "
            f"{'.'.join(map(str, MIN_VERSION))} or later"
        )
    return lib


def library_version() -> str:
    """libseccomp's version, e.g. ``2.5.4`` (part of the cache key)."""
    version = _lib().seccomp_version().contents
    return f"{version.major}.{version.minor}.{version.micro}"


def native_arch() -> int:
    return int(_lib().seccomp_arch_native())


def arch_name(token: int) -> str:
    return ARCH_NAMES.get(token, f"arch {token:#x}")


def filter_arches() -> tuple[int, ...]:
    """The architectures every filter covers, native first."""
    native = native_arch()
    return (native, *COMPAT_ARCHES.get(native, ()))


@dataclass(frozen=True)
class CompiledFilter:
    """Raw BPF programs (``struct sock_filter`` arrays); empty means "no such program"."""

    deny: bytes
    allow: bytes
    skipped: tuple[str, ...] = ()

    @property
    def programs(self) -> tuple[bytes, ...]:
        """What to hand to bwrap, one ``--add-seccomp-fd`` each, in this order."""
        return tuple(program for program in (self.deny, self.allow) if program)


def compile_policy(policy: Policy) -> CompiledFilter:
    """BPF for ``policy``; nothing at all under ``@unrestricted``, as snapd."""
    with _filters(policy) as (allow, deny, skipped):
        return CompiledFilter(deny=_export(deny), allow=_export(allow), skipped=skipped)


def export_pfc(policy: Policy) -> str:
    """libseccomp's pseudo-code of both programs, for ``usersnap debug seccomp``."""
    with _filters(policy) as (allow, deny, _):
        return _pfc(allow, deny)


def render_rules(policy: Policy) -> str:
    """The effective rules, then the pseudo-code libseccomp compiles them to."""
    with _filters(policy) as (allow, deny, skipped):
        pfc = _pfc(allow, deny)
    arches = ", ".join(arch_name(arch) for arch in filter_arches())
    header = f"# libseccomp {library_version()}; architectures: {arches}\n"
    text = format_rules(policy, unknown=skipped, arch=arch_name(native_arch()))
    return header + text + (f"\n{pfc}" if pfc else "")


def _pfc(allow: int | None, deny: int | None) -> str:
    parts = []
    for title, ctx in (("deny, loaded first", deny), ("allow, loaded last", allow)):
        if ctx is not None:
            parts.append(f"# ---- {title} ----\n{_export(ctx, pfc=True).decode()}")
    return "".join(parts)


@contextlib.contextmanager
def _filters(policy: Policy) -> Iterator[tuple[int | None, int | None, tuple[str, ...]]]:
    """Both libseccomp contexts with every rule added (None where there is no program)."""
    lib = _lib()
    if policy.unrestricted:
        yield None, None, ()
        return
    default = ACT_LOG if policy.complain else action_errno(IMPLICIT_DENIAL_ERRNO)
    allow = lib.seccomp_init(default)
    if allow is None and policy.complain:
        # The kernel or libseccomp cannot log: snap-seccomp then filters nothing.
        yield None, None, ()
        return
    deny = lib.seccomp_init(ACT_ALLOW)
    try:
        if allow is None or deny is None:
            raise SeccompCompileError("cannot create a seccomp filter with libseccomp")
        for ctx in (allow, deny):
            # Refused (EINVAL) by libseccomp 2.4, which then emits the linear list.
            lib.seccomp_attr_set(ctx, _ATTR_OPTIMIZE, _OPTIMIZE_BINARY_TREE)
            for arch in filter_arches()[1:]:
                rc = lib.seccomp_arch_add(ctx, arch)
                if rc < 0 and rc != -errno.EEXIST:
                    raise SeccompCompileError(
                        f"cannot add architecture {arch_name(arch)} to a seccomp filter: "
                        f"{os.strerror(-rc)}"
                    )
        skipped: dict[str, None] = {}
        for rule in policy.rules:
            number = lib.seccomp_syscall_resolve_name(rule.syscall.encode())
            if number == _NR_SCMP_ERROR:
                skipped[rule.syscall] = None
                continue
            _add_rule(lib, deny if rule.deny else allow, number, rule)
        yield allow, (deny if policy.deny_rules else None), tuple(skipped)
    finally:
        for ctx in (allow, deny):
            if ctx is not None:
                lib.seccomp_release(ctx)


def _add_rule(lib: ctypes.CDLL, ctx: int, number: int, rule: Rule) -> None:
    action = ACT_ALLOW if rule.deny_errno is None else action_errno(rule.deny_errno)
    conds = (_ArgCmp * len(rule.args))(*(_arg_cmp(cond, rule) for cond in rule.args))
    # Exact first (snap-seccomp's AddRuleConditionalExact), else let libseccomp
    # rewrite the rule for an architecture where it cannot be exact (socketcall).
    rc = lib.seccomp_rule_add_exact_array(ctx, action, number, len(rule.args), conds)
    if rc < 0:
        rc = lib.seccomp_rule_add_array(ctx, action, number, len(rule.args), conds)
    if rc < 0:
        raise SeccompCompileError(
            f"{rule.where}: cannot add rule for line {go_quote(rule.text)}: {os.strerror(-rc)}"
        )


def _arg_cmp(cond: ArgCond, rule: Rule) -> _ArgCmp:
    value = cond.value if isinstance(cond.value, int) else _resolve_id(cond.value, cond, rule)
    if cond.op is Op.MASKED_EQ:
        return _ArgCmp(cond.index, _OPS[cond.op], cond.mask, value)
    return _ArgCmp(cond.index, _OPS[cond.op], value, 0)


def _resolve_id(ref: IdRef, cond: ArgCond, rule: Rule) -> int:
    """``u:NAME`` / ``g:NAME`` on this host, as snap-seccomp's findUid/findGid."""
    try:
        return pwd.getpwnam(ref.name).pw_uid if ref.kind == "u" else grp.getgrnam(ref.name).gr_gid
    except KeyError:
        what = "user" if ref.kind == "u" else "group"
        raise SeccompCompileError(
            f"{rule.where}: cannot parse token {go_quote(cond.token)} "
            f"(line {go_quote(rule.text)}): unknown {what} {ref.name}"
        ) from None


def _export(ctx: int | None, *, pfc: bool = False) -> bytes:
    """Export through a memfd (libseccomp 2.5 only writes to a file descriptor)."""
    if ctx is None:
        return b""
    fd = os.memfd_create("usersnap-seccomp", os.MFD_CLOEXEC)
    try:
        lib = _lib()
        rc = (lib.seccomp_export_pfc if pfc else lib.seccomp_export_bpf)(ctx, fd)
        if rc < 0:
            raise SeccompCompileError(f"cannot export a seccomp filter: {os.strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_CUR)
        data = os.pread(fd, size, 0)
    finally:
        os.close(fd)
    if not pfc and len(data) // 8 > MAX_INSTRUCTIONS:
        raise SeccompCompileError(
            f"the seccomp filter has {len(data) // 8} instructions, more than the kernel's "
            f"limit of {MAX_INSTRUCTIONS}"
        )
    return data
