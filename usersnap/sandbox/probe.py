"""Can bubblewrap build a sandbox here?  Probe by doing, then say why not in one line.

The two common refusals (confinement-peers §6.5, §6.6) both need root to fix, so the
message names the setting and the command instead of bwrap's terse errno text.
"""

from __future__ import annotations

from collections.abc import Mapping

from usersnap.errors import SEE_DOCTOR, SandboxError

SYSCTLS = {
    "kernel.apparmor_restrict_unprivileged_userns":
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "kernel.unprivileged_userns_clone": "/proc/sys/kernel/unprivileged_userns_clone",
    "user.max_user_namespaces": "/proc/sys/user/max_user_namespaces",
}
#: The smallest sandbox usersnap needs: a user and pid namespace with its own /proc.
PROBE_ARGS = (
    "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc",
    "--dev", "/dev", "true",
)


def read_sysctls() -> dict[str, str]:
    values = {}
    for name, path in SYSCTLS.items():
        try:
            with open(path, encoding="ascii") as f:
                values[name] = f.read().strip()
        except OSError:
            continue
    return values


def explain_userns_failure(stderr: str, sysctls: Mapping[str, str]) -> str:
    """One line saying why bwrap (which printed ``stderr``) cannot sandbox, and the fix."""
    if sysctls.get("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return (
            "cannot create a user namespace: AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1); allow bwrap with an AppArmor "
            'profile granting "userns," or run: '
            "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
        )
    if sysctls.get("kernel.unprivileged_userns_clone") == "0":
        return (
            "cannot create a user namespace: unprivileged user namespaces are disabled "
            "(kernel.unprivileged_userns_clone=0); run: "
            "sudo sysctl kernel.unprivileged_userns_clone=1"
        )
    if sysctls.get("user.max_user_namespaces") == "0":
        return (
            "cannot create a user namespace: user.max_user_namespaces=0; run: "
            "sudo sysctl user.max_user_namespaces=15000"
        )
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else "no error message"
    return (
        f"bubblewrap cannot create a sandbox here ({detail}); inside a container, its "
        "seccomp profile or a read-only /proc may forbid user namespaces"
    )


def check_userns(bwrap: str) -> None:
    """Raise :class:`SandboxError` explaining why ``bwrap`` cannot sandbox; None if it can."""
    import subprocess  # only on this (rare) path: keeps ``usersnap run`` start-up lean

    try:
        proc = subprocess.run(
            [bwrap, *PROBE_ARGS], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SandboxError(f"cannot run {bwrap}: {err}{SEE_DOCTOR}") from err
    if proc.returncode != 0:
        raise SandboxError(explain_userns_failure(proc.stderr, read_sysctls()) + SEE_DOCTOR)


def bwrap_supports(bwrap: str, option: str) -> bool:
    """Whether ``bwrap`` knows ``option`` (e.g. ``--disable-userns``, bwrap >= 0.8).

    Looks for the option's name in the executable instead of running ``bwrap --help``:
    reading ~100 KB costs well under a millisecond, a process several.  A wrapper script
    in place of the binary reads as "no", which only drops that hardening.
    """
    try:
        with open(bwrap, "rb") as f:
            return option.encode() + b"\0" in f.read()
    except OSError:
        return False
