"""The profile sources usersnap ships: its default template and one snippet per interface.

They are data files under ``templates/`` (snapd's texts, with where each came from), not
Python strings, so they read like snapd's and a change shows up in a diff as rules.
Reading them costs a few small files; ``cache`` hashes the text, so editing one
recompiles every filter that uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def connected_snippets(interfaces: Iterable[str]) -> dict[str, str]:
    """The snippets of ``interfaces`` that have one; an interface without a shipped
    snippet adds no syscalls (as snapd's interfaces without a seccomp side)."""
    snippets = {}
    for name in interfaces:
        try:
            snippets[name] = snippet_for(name)
        except UnknownSnippetError:
            continue
    return snippets


def render_profile(interfaces: Iterable[str], *, confinement: str) -> str:
    """The profile a snap with ``interfaces`` connected runs under, as snapd assembles it
    (``@complain`` for devmode, template, snippets), each source under a ``# source:``
    line; what ``usersnap debug seccomp`` prints."""
    if confinement == "classic":
        return "# classic confinement: no seccomp filter is loaded (@unrestricted)\n"
    parts = []
    if confinement == "devmode":
        parts.append("# source: devmode (denials are logged, not enforced)\n@complain\n")
    parts.append(f"# source: default template ({TEMPLATES / 'default.src'})\n"
                 + default_template())
    snippets = connected_snippets(interfaces)
    for name in sorted(set(interfaces)):
        if name in snippets:
            path = TEMPLATES / "interfaces" / f"{name}.src"
            parts.append(f"# source: interface {go_quote(name)} ({path})\n" + snippets[name])
        else:
            parts.append(f"# source: interface {go_quote(name)} (no seccomp snippet)\n")
    return "".join(part if part.endswith("\n") else part + "\n" for part in parts)
