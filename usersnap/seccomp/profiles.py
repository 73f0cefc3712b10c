"""The profile sources usersnap ships: its default template and one snippet per interface.

They are data files under ``templates/`` (snapd's texts, with where each came from), not
Python strings, so they read like snapd's and a change shows up in a diff as rules.
Reading them costs a few small files; ``cache`` hashes the text, so editing one
recompiles every filter that uses it.
"""

from __future__ import annotations

import re
from pathlib import Path

from usersnap.errors import UsersnapError
from usersnap.meta.gostd import go_quote

TEMPLATES = Path(__file__).with_name("templates")
_INTERFACE_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class UnknownSnippetError(UsersnapError):
    """No seccomp snippet is shipped for an interface."""


def default_template() -> str:
    return (TEMPLATES / "default.src").read_text(encoding="utf-8")


def snippet_for(interface: str) -> str:
    """The seccomp snippet a connected plug of ``interface`` adds (may be only comments)."""
    path = TEMPLATES / "interfaces" / f"{interface}.src"
    try:
        if not _INTERFACE_NAME.fullmatch(interface):
            raise FileNotFoundError(path)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnknownSnippetError(
            f"usersnap has no seccomp snippet for interface {go_quote(interface)}"
        ) from None


def known_interfaces() -> tuple[str, ...]:
    """The interfaces with a shipped snippet, sorted."""
    return tuple(sorted(path.stem for path in (TEMPLATES / "interfaces").glob("*.src")))
