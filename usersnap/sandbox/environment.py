"""The environment a snap app or hook starts with, assembled the way snapd assembles it.

snapd builds it in three hops (snap-semantics §4.1): ``snap run`` overlays the SNAP_*
variables on the caller's environment (``snap/snapenv/snapenv.go``), the setuid
snap-confine loses glibc's "unsafe" variables and resets PATH, SHELL and the TMPDIRs
(``cmd/snap-confine/snap-confine.c``), and snap-exec applies the top-level then the
app's or hook's ``environment:`` (``osutil/env.go``: ``ExtendWithExpanded``).  We do
the three hops in one pure function.
"""

from __future__ import annotations

import os
import posixpath
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # this module is on the cached launch path: no runtime imports
    from collections.abc import Callable, Mapping
    from typing import TypeAlias

    from usersnap.meta.model import App, Hook, SnapInfo

    #: what the environment is made of apart from the caller's: fixed values, then the
    #: snap.yaml ``environment:`` entries to expand in order (see :func:`apply_recipe`)
    EnvRecipe: TypeAlias = tuple[dict[str, str], tuple[tuple[str, str], ...]]

SNAP_MOUNT_DIR = "/snap"
#: snap-confine's PATH (``enter_non_classic_execution_environment``).
SNAPD_PATH = (
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games"
)
#: snapd 2.57.6's value (``snap/snapenv/snapenv.go``: basicEnv).
SNAP_LIBRARY_PATH = "/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32:/var/lib/snapd/void"
DEFAULT_SHELL = "/bin/bash"

#: What glibc's secure mode strips when snap-confine (setuid) starts: ``unsecvars.h``,
#: copied by snapd as ``osutil/env.go``: unsafeEnv.
UNSAFE_ENV = frozenset({
    "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LD_AUDIT", "LD_DEBUG",
    "LD_DEBUG_OUTPUT", "LD_DYNAMIC_WEAK", "LD_HWCAP_MASK", "LD_LIBRARY_PATH", "LD_ORIGIN_PATH",
    "LD_PRELOAD", "LD_PROFILE", "LD_SHOW_AUXV", "LD_USE_LOAD_BIAS", "LOCALDOMAIN", "LOCPATH",
    "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
})

#: ``uname -m`` to Debian architecture (snapd's ``arch.DpkgArchitecture``).
_DPKG_ARCH = {
    "x86_64": "amd64", "amd64": "amd64", "i386": "i386", "i486": "i386", "i586": "i386",
    "i686": "i386", "aarch64": "arm64", "arm64": "arm64", "armv7l": "armhf", "armv8l": "armhf",
    "armv6l": "armhf", "ppc64le": "ppc64el", "ppc64": "ppc64", "ppc": "powerpc",
    "s390x": "s390x", "riscv64": "riscv64",
}
#: A 32-bit userland on a 64-bit kernel runs that userland's snaps.
_COMPAT_ARCH = {"amd64": "i386", "arm64": "armhf", "ppc64el": "powerpc"}


def dpkg_arch(machine: str | None = None, *, bits64: bool | None = None) -> str:
    """SNAP_ARCH: snapd reports the architecture it was built for, i.e. of the userland."""
    machine = os.uname().machine if machine is None else machine
    bits64 = sys.maxsize > 2**32 if bits64 is None else bits64
    arch = _DPKG_ARCH.get(machine, machine)
    return arch if bits64 else _COMPAT_ARCH.get(arch, arch)


def go_join(*parts: str) -> str:
    """Go's ``filepath.Join``: join the non-empty parts and clean the result."""
    joined = "/".join(p for p in parts if p)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    # POSIX lets "//" lead a path; Go's Clean (and the kernel) treat it as "/".
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def snap_mount_dir(name: str, revision: str) -> str:
    """$SNAP; inside the sandbox snaps are always under /snap, whatever the host uses."""
    return go_join(SNAP_MOUNT_DIR, name, revision)


def user_snap_dir(home: str, instance: str) -> str:
    """``~/snap/<instance>``: where the user data tree is mounted inside the sandbox."""
    return go_join(home, "snap", instance)


# --- expansion ----------------------------------------------------------------------------

_SPECIAL = frozenset("*#$@!?-0123456789")
_CONDITIONAL = r"[a-zA-Z0-9_]+:[+-]"


def _is_alnum(char: str) -> bool:
    return char == "_" or ("0" <= char <= "9") or ("a" <= char <= "z") or ("A" <= char <= "Z")


def _shell_name(text: str) -> tuple[str, int]:
    """Go's ``os.getShellName``: the name after ``$`` and how many characters it spans."""
    if text[0] == "{":
        if len(text) > 2 and text[1] in _SPECIAL and text[2] == "}":
            return text[1], 3
        end = text.find("}", 1)
        if end == 1:
            return "", 2  # "${}": bad syntax, eaten
        if end < 0:
            return "", 1  # unterminated "${": eaten
        return text[1:end], end + 1
    if text[0] in _SPECIAL:
        return text[0], 1
    width = 0
    while width < len(text) and _is_alnum(text[width]):
        width += 1
    return text[:width], width


def go_expand(text: str, mapping: Callable[[str], str]) -> str:
    """Go's ``os.Expand``, quirks included, since snapd expands with it.

    ``${...}`` takes everything up to the first ``}`` as the name, bad syntax is
    silently eaten, and a ``$`` followed by no name stays a literal ``$``.
    """
    out: list[str] = []
    start = 0
    j = 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[start:j])
            name, width = _shell_name(text[j + 1:])
            if name:
                out.append(mapping(name))
            elif width == 0:
                out.append("$")
            j += width
            start = j + 1
        j += 1
    if not out:
        return text
    return "".join(out) + text[start:]


def expand_env_value(value: str, env: Mapping[str, str]) -> str:
    """Expand one ``environment:`` value: ``$V``, ``${V}``, ``${V:-x}``, ``${V:+x}``.

    The conditional forms are snapd's ``(*Environment).expand`` (2.77, not in 2.57.6):
    the name is searched, not anchored, for ``WORD:-`` / ``WORD:+``; "unset" means
    empty; the alternative is itself expanded.  Undefined variables become "".
    """

    def lookup(name: str) -> str:
        if ":" not in name:
            return env.get(name, "")
        import re  # rare; re caches the compiled pattern

        match = re.search(_CONDITIONAL, name)
        if match is None:
            return env.get(name, "")
        current = env.get(name[match.start():match.end() - 2], "")
        operation = name[match.end() - 1]
        alternative = name[match.end():]
        if operation == "-":
            return current or expand_env_value(alternative, env)
        return expand_env_value(alternative, env) if current else ""

    return go_expand(value, lookup)


# --- the environment ----------------------------------------------------------------------


def build_environment(
    info: SnapInfo,
    revision: str,
    *,
    app: App | None = None,
    hook: Hook | None = None,
    host_env: Mapping[str, str],
    uid: int,
    home: str,
    arch: str,
    cookie: str = "",
) -> dict[str, str]:
    """The complete environment of ``app`` (or ``hook``) of ``info`` at ``revision``.

    ``uid`` is both SNAP_UID and SNAP_EUID (usersnap never runs setuid).  ``cookie``
    becomes SNAP_COOKIE and SNAP_CONTEXT, which snapctl sends back to identify the snap.
    Instance keys (parallel installs) are not supported, so the instance name is the
    snap name and SNAP_INSTANCE_KEY is empty.
    """
    recipe = environment_recipe(info, revision, app=app, hook=hook, uid=uid, home=home,
                                arch=arch)
    return apply_recipe(recipe, host_env, cookie)


def environment_recipe(
    info: SnapInfo, revision: str, *, app: App | None = None, hook: Hook | None = None,
    uid: int, home: str, arch: str,
) -> EnvRecipe:
    """:func:`build_environment` without the caller's environment and the cookie, which
    change from run to run (the run cache keeps this and applies it each time)."""
    owner = _only_one(app, hook)
    name = instance = info.name
    user_data = go_join(home, "snap", instance, revision)
    fixed = {
        # snap run: basicEnv
        "SNAP": snap_mount_dir(name, revision),
        "SNAP_COMMON": go_join("/var/snap", name, "common"),
        "SNAP_DATA": go_join("/var/snap", name, revision),
        "SNAP_NAME": name,
        "SNAP_INSTANCE_NAME": instance,
        "SNAP_INSTANCE_KEY": "",
        "SNAP_VERSION": info.version,
        "SNAP_REVISION": revision,
        "SNAP_ARCH": arch,
        "SNAP_LIBRARY_PATH": SNAP_LIBRARY_PATH,
        "SNAP_UID": str(uid),
        "SNAP_EUID": str(uid),
        # snap run: userEnv (strict confinement)
        "SNAP_USER_COMMON": go_join(home, "snap", instance, "common"),
        "SNAP_USER_DATA": user_data,
        "HOME": user_data,
        "XDG_RUNTIME_DIR": f"/run/user/{uid}/snap.{instance}",
        "SNAP_REAL_HOME": home,
        # snap-confine
        "PATH": SNAPD_PATH,
        "SHELL": DEFAULT_SHELL,
        "TMPDIR": "/tmp",
        "TEMPDIR": "/tmp",
    }
    # snap-exec: top level first, then the app's or hook's
    return fixed, (*info.environment, *owner.environment)


def apply_recipe(recipe: EnvRecipe, host_env: Mapping[str, str], cookie: str) -> dict[str, str]:
    """The caller's environment less glibc's unsafe variables, the recipe's fixed values,
    the cookie, then the ``environment:`` entries, each seeing the ones before."""
    fixed, expansions = recipe
    env = {key: value for key, value in host_env.items() if key not in UNSAFE_ENV}
    env["SNAP_REEXEC"] = host_env.get("SNAP_REEXEC", "")
    env.update(fixed)
    env["SNAP_COOKIE"] = env["SNAP_CONTEXT"] = cookie
    for key, value in expansions:
        env[key] = expand_env_value(value, env)
    return env


def _only_one(app: App | None, hook: Hook | None) -> App | Hook:
    if app is not None and hook is None:
        return app
    if hook is not None and app is None:
        return hook
    raise ValueError("exactly one of app and hook must be given")
