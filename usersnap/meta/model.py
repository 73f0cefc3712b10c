"""The typed model of ``meta/snap.yaml``: frozen values, built once by ``parse``.

Field names follow snap.yaml with ``-`` turned into ``_``.  Mappings keep the YAML
order (snapd applies ``environment:`` in order).  Durations, timers and other service
details stay as snap.yaml text here; the subsystem that uses them parses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

Attrs = Mapping[str, object]
EnvItems = tuple[tuple[str, str], ...]

_EMPTY: Mapping[str, object] = MappingProxyType({})
K = TypeVar("K")
V = TypeVar("V")


def frozen_map(items: Mapping[K, V] | None = None) -> Mapping[K, V]:
    """A read-only, order-preserving mapping for model fields."""
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True, slots=True)
class Layout:
    """One ``layout:`` entry; exactly one of bind/bind_file/type/symlink is set once valid."""

    path: str
    bind: str = ""
    bind_file: str = ""
    type: str = ""
    symlink: str = ""
    user: str = "root"
    group: str = "root"
    mode: int = 0o755


@dataclass(frozen=True, slots=True)
class Plug:
    name: str
    interface: str
    attrs: Attrs = field(default_factory=lambda: _EMPTY)
    #: Listed by some app or hook (snapd's scopedTracker); unscoped plugs are bound to
    #: every app and hook, implicit hooks included.
    scoped: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    interface: str
    attrs: Attrs = field(default_factory=lambda: _EMPTY)
    #: As for Plug.scoped (``activates-on`` scopes a slot too).
    scoped: bool = False


@dataclass(frozen=True, slots=True)
class App:
    name: str
    command: str = ""
    command_chain: tuple[str, ...] = ()
    environment: EnvItems = ()
    daemon: str = ""
    daemon_scope: str = ""
    stop_command: str = ""
    reload_command: str = ""
    post_stop_command: str = ""
    stop_mode: str = ""
    restart_condition: str = ""
    restart_delay: str = ""
    start_timeout: str = ""
    stop_timeout: str = ""
    watchdog_timeout: str = ""
    refresh_mode: str = ""
    install_mode: str = ""
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    timer: str = ""
    sockets: Mapping[str, Attrs] = field(default_factory=lambda: frozen_map())
    activates_on: tuple[str, ...] = ()
    plugs: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    common_id: str = ""
    desktop: str = ""
    completer: str = ""
    autostart: str = ""
    busname: str = ""

    @property
    def is_service(self) -> bool:
        return bool(self.daemon)


@dataclass(frozen=True, slots=True)
class Hook:
    name: str
    command_chain: tuple[str, ...] = ()
    environment: EnvItems = ()
    plugs: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()
    #: False for hooks found only as executables in meta/hooks/ (snapd's implicit hooks).
    explicit: bool = True


@dataclass(frozen=True, slots=True)
class SnapInfo:
    name: str
    version: str
    summary: str = ""
    description: str = ""
    title: str = ""
    license: str = ""
    type: str = "app"
    base: str = ""
    confinement: str = "strict"
    grade: str = "stable"
    epoch: str = "0"
    architectures: tuple[str, ...] = ("all",)
    assumes: tuple[str, ...] = ()
    apps: Mapping[str, App] = field(default_factory=lambda: frozen_map())
    hooks: Mapping[str, Hook] = field(default_factory=lambda: frozen_map())
    plugs: Mapping[str, Plug] = field(default_factory=lambda: frozen_map())
    slots: Mapping[str, Slot] = field(default_factory=lambda: frozen_map())
    layout: Mapping[str, Layout] = field(default_factory=lambda: frozen_map())
    environment: EnvItems = ()
    links: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: frozen_map())
    provenance: str = ""
    #: ``system-usernames:`` name -> scope.
    system_usernames: Mapping[str, str] = field(default_factory=lambda: frozen_map())
    #: Plugs and slots snapd drops at read time (unknown interface, bad name or
    #: attributes), name -> reason; they are absent from ``plugs``/``slots``.
    bad_interfaces: Mapping[str, str] = field(default_factory=lambda: frozen_map())

    def app_named(self, name: str) -> App | None:
        return self.apps.get(name)

    @property
    def services(self) -> tuple[App, ...]:
        return tuple(app for app in self.apps.values() if app.is_service)
