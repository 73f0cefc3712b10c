"""Which top-level names of $HOME a snap plugging ``home`` may see and make.

snapd's AppArmor template for ``home`` grants ``owner @{HOME}/[^s.]**`` and friends: every
path below $HOME except top-level hidden ones and ``~/snap`` (where only the snap's own
``~/snap/NAME`` is granted, by the default template).  The same rule decides what the
home view (:mod:`usersnap.fusefs.home`) serves and what the sandbox planner binds
directly; it applies to the top level only: below a visible entry, anything goes.
Pure, so that the planner (on the ``usersnap run`` path) can import it.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["visible", "hidden", "reserved"]

#: ``~/snap``: the snap's own ``~/snap/NAME`` is bound there; the rest is not the snap's.
RESERVED = "snap"
#: The view's root answers this extended attribute with ``identity()`` of the directory
#: it serves (never cached by the kernel, unlike its attributes): the planner checks it.
IDENTITY_XATTR = "user.usersnap.home"


def identity(st_dev: int, st_ino: int) -> bytes:
    return f"{st_dev}:{st_ino}".encode()


def classify(name: str) -> Kind:
    """``hidden`` (a dot name: never listed, never made), ``reserved`` (``snap``) or
    ``visible`` (passed through)."""
    if name.startswith("."):
        return "hidden"
    return "reserved" if name == RESERVED else "visible"


def may_change(name: str) -> bool:
    """Whether a top-level ``name`` may be created, removed, renamed from or to, or
    linked to: only visible names (AppArmor denies the write to any other)."""
    return classify(name) == "visible"


def bound_directly(name: str, kind: str) -> bool:
    """Whether the planner may bind an existing top-level entry of this ``kind`` (``dir``,
    ``file``, ``symlink``) straight from $HOME: visible directories and files only.  A
    symlink is never bound (bwrap would follow it on the host, outside the rule): the
    view shows it as a symlink and the kernel resolves it inside the sandbox."""
    return kind in ("dir", "file") and classify(name) == "visible"


def component_ok(name: bytes) -> bool:
    """A single path component the view will look up or make (the kernel never sends
    others; refusing them keeps every ``*at()`` call inside its directory)."""
    return name not in (b"", b".", b"..") and b"/" not in name and b"\0" not in name
