"""Every interface usersnap knows, each defined once.

``auto_connect`` follows snapd's base declaration (``interfaces/builtin/*.go``:
``baseDeclarationSlots``) for a classic system: what it does not deny auto-connection for,
connects at install.  The sandbox side of each interface lives in :mod:`.effects` keyed by
the same name; the seccomp side is ``usersnap/seccomp/templates/interfaces/<name>.src``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The snap that holds the implicit slots (snapd's system snap on a classic system).
SYSTEM_SNAP = "snapd"


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    #: snapd's summary (``interfaces/builtin/<name>.go``: ``<name>Summary``)
    summary: str
    #: auto-connected at install on a classic system (the base declaration)
    auto_connect: bool
    #: the system snap has a slot of it (content slots come from snaps only)
    implicit_slot: bool = True
    #: what usersnap cannot do of it rootless ("" = all of it); shown at run and in
    #: ``connections``
    limitation: str = ""


_ALL = (
    Interface("audio-playback", "allows audio playback via supporting services", True),
    Interface("camera", "allows access to all cameras", False),
    Interface("content", "allows sharing code and data with other snaps", True,
              implicit_slot=False),
    Interface("desktop", "allows access to basic graphical desktop resources", True),
    Interface("hardware-observe", "allows reading information about system hardware", False),
    Interface("home", "allows access to non-hidden files in the home directory", True),
    Interface("mount-observe", "allows reading mount table and quota information", False,
              limitation="only the sandbox's own mounts are visible"),
    Interface("network", "allows access to the network", True),
    Interface("network-bind", "allows operating as a network service", True),
    Interface("opengl", "allows access to OpenGL stack", True),
    Interface("personal-files", "allows access to personal files or directories", False),
    Interface("process-control", "allows controlling other processes", False,
              limitation="only processes of the same sandbox are visible"),
    Interface("pulseaudio", "allows operating as or interacting with the pulseaudio service",
              True),
    Interface("removable-media", "allows access to mounted removable storage", False),
    Interface("system-files", "allows access to system files or directories", False),
    Interface("system-observe", "allows observing all processes and drivers", False,
              limitation="only processes of the same sandbox are visible"),
    Interface("wayland", "allows access to compositors supporting wayland protocol", True),
    Interface("x11", "allows interacting with or running as an X11 server", True),
)
INTERFACES: dict[str, Interface] = {i.name: i for i in _ALL}


def lookup(name: str) -> Interface | None:
    return INTERFACES.get(name)
