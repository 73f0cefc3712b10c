"""``meta/snap.yaml`` -> :class:`SnapInfo`, the way snapd 2.57.6 reads it
(``snap/info_snap_yaml.go``: ``InfoFromSnapYaml``; ``snap/implicit.go``).

Parsing accepts and rejects exactly what snapd's reader does, with its messages:
yaml.v2 decoding into snapd's structs (:mod:`usersnap.meta.goyaml`), then plug/slot
binding, layout modes, plug/slot sanitizing, system usernames and link keys.  What is
left to :func:`usersnap.meta.validate.validate_snap` is what snapd leaves to
``snap.Validate``.  Where snapd walks Go maps (random order) we walk YAML order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from usersnap.errors import SnapYamlError
from usersnap.meta.gostd import (
    GoNumError,
    go_format_value,
    go_parse_duration,
    go_parse_uint,
    go_quote,
    go_quote_rune,
)
from usersnap.meta.goyaml import (
    INTERFACE,
    STRING,
    STRINGS,
    CustomType,
    Decoder,
    GoMap,
    GoType,
    GoUint64,
    GoYamlError,
    InnerTypeErrors,
    MapType,
    Node,
    StructType,
    UintType,
    unmarshal,
)
from usersnap.meta.interfaces import (
    SanitizeError,
    SnapInterfaces,
    sanitize_plug,
    sanitize_slot,
)
from usersnap.meta.model import App, EnvItems, Hook, Layout, Plug, Slot, SnapInfo, frozen_map
from usersnap.meta.naming import (
    EPOCH_BAD_LIST,
    ZERO_EPOCH,
    NamingError,
    epoch_from_lists,
    epoch_string,
    is_supported_hook,
    parse_epoch,
    parse_epoch_number,
)

SNAP_TYPES = frozenset(("app", "gadget", "kernel", "base", "snapd", "os"))
CONFINEMENTS = frozenset(("devmode", "classic", "strict"))
DAEMON_SCOPES = frozenset(("system", "user"))
#: snap.yaml spelling -> ``RestartCondition.String()`` (what systemd's Restart= takes).
RESTART_CONDITIONS = {
    "no": "no", "never": "no", "on-success": "on-success", "on-failure": "on-failure",
    "on-abnormal": "on-abnormal", "on-abort": "on-abort", "on-watchdog": "on-watchdog",
    "always": "always",
}
_LINKS_KEY = r"[a-zA-Z](?:-?[a-zA-Z0-9])*"


# --- snapd's yaml types -------------------------------------------------------------------


def _inner_string(d: Decoder, node: Node) -> str:
    return str(d.inner(STRING, node))


def _enum(gotype: str, allowed: Iterable[str], what: str) -> CustomType:
    """A string type whose ``UnmarshalYAML`` rejects values outside ``allowed``."""
    valid = frozenset(allowed)

    def decode(d: Decoder, node: Node) -> object:
        text = _inner_string(d, node)
        value = "app" if what == "snap type" and text == "application" else text
        if value not in valid:
            raise GoYamlError(f"invalid {what}: {go_quote(text)}")
        return value

    return CustomType(gotype, str, decode, string_kind=True)


def _decode_restart(d: Decoder, node: Node) -> object:
    condition = RESTART_CONDITIONS.get(_inner_string(d, node))
    if condition is None:
        raise GoYamlError("invalid restart condition")
    return condition


def _decode_timeout(d: Decoder, node: Node) -> object:
    """``timeout.Timeout``: a Go duration; the text is kept, its syntax checked now."""
    text = _inner_string(d, node)
    try:
        go_parse_duration(text)
    except ValueError as err:
        raise GoYamlError(str(err)) from None
    return text


_STRING_MAP = MapType(STRING)


def _decode_ordered_map(d: Decoder, node: Node) -> object:
    """``strutil.OrderedMap``: a string map in YAML order; duplicate keys are an error."""
    values = d.inner(_STRING_MAP, node)
    values = values if isinstance(values, dict) else {}
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    target = node.alias if node.alias is not None else node
    for pair in d.mapping_pairs(target) if target.kind == "mapping" else ():
        if isinstance(pair, Node):
            continue  # yaml.MapSlice drops merged keys from the order
        _, key = d.unmarshal(INTERFACE, pair[0])
        if not isinstance(key, str) or key not in values:
            raise GoYamlError(f"cannot read {_go_q(key)}")
        if key in seen:
            raise GoYamlError(f"found duplicate key {go_quote(key)}")
        seen.add(key)
        items.append((key, str(values[key])))
    return tuple(items)


def _go_q(value: object) -> str:
    """Go's ``%q`` of an interface value."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return go_quote_rune(value)
    if value is None:
        return "%!q(<nil>)"
    return f"%!q({_go_type(value)}={go_format_value(value)})"


def _decode_epoch_list(d: Decoder, node: Node) -> object:
    try:
        texts = d.inner(STRINGS, node)
    except InnerTypeErrors:
        raise GoYamlError(EPOCH_BAD_LIST) from None
    try:
        return [parse_epoch_number(str(text)) for text in texts or ()]  # type: ignore[attr-defined]
    except NamingError as err:
        raise GoYamlError(str(err)) from None


_EPOCH_LIST = CustomType("snap.uint32slice", lambda: None, _decode_epoch_list)
_STRUCTURED_EPOCH = StructType("snap.structuredEpoch", {"read": _EPOCH_LIST, "write": _EPOCH_LIST})


def _decode_epoch(d: Decoder, node: Node) -> object:
    """``Epoch.UnmarshalYAML``: the short string form, else ``{read: [..], write: [..]}``."""
    try:
        short = _inner_string(d, node)
    except InnerTypeErrors:
        short = None
    try:
        if short is not None:
            return parse_epoch(short)
        structured = d.inner(_STRUCTURED_EPOCH, node)
        assert isinstance(structured, dict)
        return epoch_from_lists(structured.get("read"), structured.get("write"))
    except NamingError as err:
        raise GoYamlError(str(err)) from None


def _typo(d: Decoder, node: Node) -> object:
    raise GoYamlError('typo detected: use singular "layout" instead of plural "layouts"')


_ENVIRONMENT = CustomType("strutil.OrderedMap", tuple, _decode_ordered_map)
_TIMEOUT = CustomType("timeout.Timeout", str, _decode_timeout)

_APP_YAML = StructType("snap.appYaml", {
    "aliases": STRINGS,
    "command": STRING,
    "command-chain": STRINGS,
    "daemon": STRING,
    "daemon-scope": _enum("snap.DaemonScope", DAEMON_SCOPES, "daemon scope"),
    "stop-command": STRING,
    "reload-command": STRING,
    "post-stop-command": STRING,
    "stop-timeout": _TIMEOUT,
    "start-timeout": _TIMEOUT,
    "watchdog-timeout": _TIMEOUT,
    "completer": STRING,
    "refresh-mode": STRING,
    "stop-mode": STRING,
    "install-mode": STRING,
    "restart-condition": CustomType(
        "snap.RestartCondition", str, _decode_restart, string_kind=True
    ),
    "restart-delay": _TIMEOUT,
    "slots": STRINGS,
    "plugs": STRINGS,
    "bus-name": STRING,
    "activates-on": STRINGS,
    "common-id": STRING,
    "environment": _ENVIRONMENT,
    "sockets": MapType(StructType("snap.socketsYaml", {
        "listen-stream": STRING,
        "socket-mode": UintType("fs.FileMode", 32),
    })),
    "after": STRINGS,
    "before": STRINGS,
    "timer": STRING,
    "autostart": STRING,
})

_HOOK_YAML = StructType("snap.hookYaml", {
    "plugs": STRINGS,
    "slots": STRINGS,
    "environment": _ENVIRONMENT,
    "command-chain": STRINGS,
})

_LAYOUT_YAML = StructType("snap.layoutYaml", dict.fromkeys(
    ("bind", "bind-file", "type", "user", "group", "mode", "symlink"), STRING
))

_IFACE_MAP = MapType(INTERFACE)

SNAP_YAML: GoType = StructType("snap.snapYaml", {
    "name": STRING,
    "version": STRING,
    "type": _enum("snap.Type", SNAP_TYPES, "snap type"),
    "architectures": STRINGS,
    "assumes": STRINGS,
    "title": STRING,
    "description": STRING,
    "summary": STRING,
    "provenance": STRING,
    "license": STRING,
    "epoch": CustomType("snap.Epoch", lambda: ZERO_EPOCH, _decode_epoch),
    "base": STRING,
    "confinement": _enum("snap.ConfinementType", CONFINEMENTS, "confinement type"),
    "environment": _ENVIRONMENT,
    "plugs": _IFACE_MAP,
    "slots": _IFACE_MAP,
    "apps": MapType(_APP_YAML),
    "hooks": MapType(_HOOK_YAML),
    "layout": MapType(_LAYOUT_YAML),
    "system-usernames": _IFACE_MAP,
    "links": MapType(STRINGS),
    "layouts": CustomType("snap.typoDetector", lambda: None, _typo),
})


# --- building SnapInfo --------------------------------------------------------------------

YamlDict = Mapping[str, object]


class _Endpoint:
    """A plug or slot being bound (snapd's PlugInfo/SlotInfo while reading)."""

    def __init__(self, name: str, interface: str) -> None:
        self.name = name
        self.interface = interface
        self.attrs: dict[str, object] = {}
        self.scoped = False


class _Binding:
    """The plugs, slots and activating slots of one app or hook, in binding order."""

    def __init__(self) -> None:
        self.plugs: list[str] = []
        self.slots: list[str] = []
        self.activates_on: list[str] = []

    def add(self, names: list[str], name: str) -> None:
        if name not in names:
            names.append(name)


def parse_snap_yaml(data: bytes | str, *, hook_names: Iterable[str] = ()) -> SnapInfo:
    """Read snap.yaml as snapd does; SnapYamlError carries snapd's message.

    ``hook_names`` are the entries of meta/hooks/ (for an installed or packed snap):
    supported ones become implicit hooks, bound to the unscoped plugs and slots.
    """
    try:
        raw = unmarshal(data, SNAP_YAML)
    except GoYamlError as err:
        raise SnapYamlError(f"cannot parse snap.yaml: {err}") from None
    assert isinstance(raw, dict)
    try:
        info = _build(raw)
    except _ReadError as err:
        raise SnapYamlError(str(err)) from None
    return add_implicit_hooks(info, hook_names)


def add_implicit_hooks(info: SnapInfo, hook_names: Iterable[str]) -> SnapInfo:
    """snapd's ``addImplicitHooksFromContainer`` + ``bindImplicitHooks``: supported hook
    names not declared in ``hooks:`` become hooks with every unscoped plug and slot."""
    hooks = dict(info.hooks)
    unscoped_plugs = tuple(p.name for p in info.plugs.values() if not p.scoped)
    unscoped_slots = tuple(s.name for s in info.slots.values() if not s.scoped)
    for name in hook_names:
        if is_supported_hook(name) and name not in hooks:
            hooks[name] = Hook(name, plugs=unscoped_plugs, slots=unscoped_slots, explicit=False)
    if len(hooks) == len(info.hooks):
        return info
    return replace(info, hooks=frozen_map(hooks))


class _ReadError(Exception):
    """A failure of snapd's reader after yaml decoding (printed without a prefix)."""


def _text(raw: YamlDict, key: str) -> str:
    value = raw.get(key)
    return value if isinstance(value, str) else ""


def _strs(raw: YamlDict, key: str) -> list[str]:
    value = raw.get(key)
    return [str(item) for item in value] if isinstance(value, list) else []


def _dict(raw: YamlDict, key: str) -> dict[str, Any]:
    """A decoded ``map[string]T`` (nil and absent are empty); entries may be None."""
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _env(raw: YamlDict) -> EnvItems:
    value = raw.get("environment")
    return value if isinstance(value, tuple) else ()


def _build(raw: YamlDict) -> SnapInfo:
    apps_raw = {name: app or {} for name, app in _dict(raw, "apps").items()}
    hooks_raw = {name: hook or {} for name, hook in _dict(raw, "hooks").items()}
    plugs = {name: _endpoint("plug", name, data) for name, data in _dict(raw, "plugs").items()}
    slots = {name: _endpoint("slot", name, data) for name, data in _dict(raw, "slots").items()}

    bindings: dict[str, _Binding] = {}
    aliases: dict[str, str] = {}
    for app_name, app_raw in apps_raw.items():
        for alias in _strs(app_raw, "aliases"):
            if alias in aliases:
                raise _ReadError(
                    f"cannot set {go_quote(alias)} as alias for both "
                    f"{go_quote(aliases[alias])} and {go_quote(app_name)}"
                )
            aliases[alias] = app_name
        bindings[app_name] = binding = _Binding()
        for plug_name in _strs(app_raw, "plugs"):
            plugs.setdefault(plug_name, _Endpoint(plug_name, plug_name)).scoped = True
            binding.add(binding.plugs, plug_name)
        for slot_name in _strs(app_raw, "slots"):
            slots.setdefault(slot_name, _Endpoint(slot_name, slot_name)).scoped = True
            binding.add(binding.slots, slot_name)
        for slot_name in _strs(app_raw, "activates-on"):
            if slot_name not in slots:
                raise _ReadError(
                    f"invalid activates-on value {go_quote(slot_name)} on app "
                    f"{go_quote(app_name)}: slot not found"
                )
            binding.activates_on.append(slot_name)
            slots[slot_name].scoped = True
            binding.add(binding.slots, slot_name)

    hook_bindings: dict[str, _Binding] = {}
    for hook_name, hook_raw in hooks_raw.items():
        if not is_supported_hook(hook_name):
            continue
        hook_bindings[hook_name] = binding = _Binding()
        for plug_name in _strs(hook_raw, "plugs"):
            plugs.setdefault(plug_name, _Endpoint(plug_name, plug_name)).scoped = True
            binding.add(binding.plugs, plug_name)
        for slot_name in _strs(hook_raw, "slots"):
            slots.setdefault(slot_name, _Endpoint(slot_name, slot_name)).scoped = True
            binding.add(binding.slots, slot_name)

    for binding in (*bindings.values(), *hook_bindings.values()):
        binding.plugs += [n for n, p in plugs.items() if not p.scoped and n not in binding.plugs]
        binding.slots += [n for n, s in slots.items() if not s.scoped and n not in binding.slots]

    layout = {path: _layout(path, entry or {}) for path, entry in _dict(raw, "layout").items()}

    name = _text(raw, "name")
    snap_type = _text(raw, "type") or "app"
    if name == "snapd":
        snap_type = "snapd"
    if name == "core" and snap_type == "os":
        _rename_clashing_core_plugs(plugs, bindings, hook_bindings)
    bad = _sanitize(name, plugs, slots, bindings, hook_bindings)
    system_usernames = _system_usernames(_dict(raw, "system-usernames"))
    links = _links(_dict(raw, "links"))

    epoch = raw.get("epoch")
    return SnapInfo(
        name=name,
        version=_text(raw, "version"),
        summary=_text(raw, "summary"),
        description=_text(raw, "description"),
        title=_text(raw, "title"),
        license=_text(raw, "license"),
        type=snap_type,
        base=_text(raw, "base"),
        confinement=_text(raw, "confinement") or "strict",
        epoch=epoch_string(epoch if isinstance(epoch, tuple) else ZERO_EPOCH),
        architectures=tuple(_strs(raw, "architectures")) or ("all",),
        assumes=tuple(sorted(_strs(raw, "assumes"))),
        apps=frozen_map({
            app_name: _app(app_name, apps_raw[app_name], binding)
            for app_name, binding in bindings.items()
        }),
        hooks=frozen_map({
            hook_name: Hook(
                hook_name,
                command_chain=tuple(_strs(hooks_raw[hook_name], "command-chain")),
                environment=_env(hooks_raw[hook_name]),
                plugs=tuple(binding.plugs),
                slots=tuple(binding.slots),
            )
            for hook_name, binding in hook_bindings.items()
        }),
        plugs=frozen_map({n: Plug(n, p.interface, frozen_map(p.attrs), p.scoped)
                          for n, p in plugs.items()}),
        slots=frozen_map({n: Slot(n, s.interface, frozen_map(s.attrs), s.scoped)
                          for n, s in slots.items()}),
        layout=frozen_map(layout),
        environment=_env(raw),
        links=frozen_map(links),
        provenance=_text(raw, "provenance"),
        system_usernames=frozen_map(system_usernames),
        bad_interfaces=frozen_map(bad),
    )


def _app(name: str, raw: YamlDict, binding: _Binding) -> App:
    daemon = _text(raw, "daemon")
    return App(
        name=name,
        command=_text(raw, "command"),
        command_chain=tuple(_strs(raw, "command-chain")),
        environment=_env(raw),
        daemon=daemon,
        daemon_scope=_text(raw, "daemon-scope") or ("system" if daemon else ""),
        stop_command=_text(raw, "stop-command"),
        reload_command=_text(raw, "reload-command"),
        post_stop_command=_text(raw, "post-stop-command"),
        stop_mode=_text(raw, "stop-mode"),
        restart_condition=_text(raw, "restart-condition"),
        restart_delay=_text(raw, "restart-delay"),
        start_timeout=_text(raw, "start-timeout"),
        stop_timeout=_text(raw, "stop-timeout"),
        watchdog_timeout=_text(raw, "watchdog-timeout"),
        refresh_mode=_text(raw, "refresh-mode"),
        install_mode=_text(raw, "install-mode"),
        before=tuple(_strs(raw, "before")),
        after=tuple(_strs(raw, "after")),
        timer=_text(raw, "timer"),
        sockets=frozen_map({
            socket_name: frozen_map({
                "listen-stream": _text(socket or {}, "listen-stream"),
                "socket-mode": (socket or {}).get("socket-mode") or 0,
            })
            for socket_name, socket in _dict(raw, "sockets").items()
        }),
        activates_on=tuple(binding.activates_on),
        plugs=tuple(binding.plugs),
        slots=tuple(binding.slots),
        aliases=tuple(_strs(raw, "aliases")),
        common_id=_text(raw, "common-id"),
        completer=_text(raw, "completer"),
        autostart=_text(raw, "autostart"),
        busname=_text(raw, "bus-name"),
    )


def _layout(path: str, raw: YamlDict) -> Layout:
    mode_text = _text(raw, "mode")
    mode = 0o755
    if mode_text:
        try:
            mode = go_parse_uint(mode_text, 8, 32)
        except GoNumError as err:
            raise _ReadError(str(err)) from None
    return Layout(
        path=path,
        bind=_text(raw, "bind"),
        bind_file=_text(raw, "bind-file"),
        type=_text(raw, "type"),
        symlink=_text(raw, "symlink"),
        user=_text(raw, "user") or "root",
        group=_text(raw, "group") or "root",
        mode=mode,
    )


# --- plugs and slots ----------------------------------------------------------------------


def _go_type(value: object) -> str:
    """Go's ``%T`` of a value yaml.v2 decoded into ``interface{}``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoUint64):
        return "uint64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[interface {}]interface {}"


def normalize_value(value: object) -> object:
    """``metautil.NormalizeValue``: maps get string keys, null and uint64 are refused."""
    if isinstance(value, (str, bool, float)) or (
        isinstance(value, int) and not isinstance(value, GoUint64)
    ):
        return value
    if isinstance(value, list):
        return [normalize_value(item) for item in value]
    if isinstance(value, GoMap):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"non-string key: {go_format_value(key)}")
            out[key] = normalize_value(item)
        return out
    raise ValueError(f"invalid scalar: {go_format_value(value)}")


def _endpoint(kind: str, name: str, data: object) -> _Endpoint:
    """``convertToSlotOrPlugData``: ``name: iface``, ``name:`` or an attribute map."""
    if isinstance(data, str):
        return _Endpoint(name, data)
    if data is None:
        return _Endpoint(name, name)
    if not isinstance(data, GoMap):
        raise _ReadError(
            f"{kind} {go_quote(name)} has malformed definition (found {_go_type(data)})"
        )
    endpoint = _Endpoint(name, name)
    for key, value in data.items():
        if not isinstance(key, str):
            raise _ReadError(
                f"{kind} {go_quote(name)} has attribute key that is not a string "
                f"(found {_go_type(key)})"
            )
        if key.startswith("$"):
            raise _ReadError(f"{kind} {go_quote(name)} uses reserved attribute {go_quote(key)}")
        if key == "":
            raise _ReadError(f"{kind} {go_quote(name)} has an empty attribute key")
        if key in ("interface", "label"):
            if not isinstance(value, str):
                what = ("interface name on" if key == "interface" else "label of")
                raise _ReadError(
                    f"{what} {kind} {go_quote(name)} is not a string (found {_go_type(value)})"
                )
            if key == "interface":
                endpoint.interface = value
            continue
        try:
            endpoint.attrs[key] = normalize_value(value)
        except ValueError as err:
            raise _ReadError(
                f"attribute {go_quote(key)} of {kind} {go_quote(name)}: {err}"
            ) from None
    return endpoint


def _rename_clashing_core_plugs(
    plugs: dict[str, _Endpoint], *bindings: dict[str, _Binding]
) -> None:
    """Old core snaps declared plugs clashing with their implicit slots; snapd renames them."""
    for old in ("network-bind", "core-support"):
        if old not in plugs:
            continue
        endpoint = plugs.pop(old)
        endpoint.name = new = old + "-plug"
        plugs[new] = endpoint
        for group in bindings:
            for binding in group.values():
                binding.plugs = [new if n == old else n for n in binding.plugs]


def _sanitize(snap: str, plugs: dict[str, _Endpoint], slots: dict[str, _Endpoint],
              *bindings: dict[str, _Binding]) -> dict[str, str]:
    """Drop what snapd's builtin ``SanitizePlugsSlots`` drops; returns name -> reason."""
    bad: dict[str, str] = {}
    others = SnapInterfaces(
        snap, {n: p.interface for n, p in plugs.items()}, {n: s.interface for n, s in slots.items()}
    )
    kinds = (("plug", plugs, sanitize_plug), ("slot", slots, sanitize_slot))
    for kind, endpoints, sanitize in kinds:
        for name, endpoint in list(endpoints.items()):
            try:
                endpoint.attrs = sanitize(others, name, endpoint.interface, endpoint.attrs)
            except SanitizeError as err:
                bad[name] = str(err)
                del endpoints[name]
                for group in bindings:
                    for binding in group.values():
                        if kind == "plug":
                            binding.plugs = [n for n in binding.plugs if n != name]
                        else:
                            binding.slots = [n for n in binding.slots if n != name]
                            binding.activates_on = [n for n in binding.activates_on if n != name]
    return bad


# --- system usernames and links -----------------------------------------------------------


def _system_usernames(raw: Mapping[str, object]) -> dict[str, str]:
    """``convertToUsernamesData``: ``user: scope`` or ``user: {scope: .., attr: ..}``."""
    users = {}
    for user, data in raw.items():
        if user == "":
            raise _ReadError("system username cannot be empty")
        users[user] = _username_scope(user, data)
        if not users[user]:
            raise _ReadError(f"system username {go_quote(user)} does not specify a scope")
    return users


def _username_scope(user: str, data: object) -> str:
    if isinstance(data, str):
        return data
    if data is None:
        return ""
    quoted = go_quote(user)
    if not isinstance(data, GoMap):
        raise _ReadError(
            f"system username {quoted} has malformed definition (found {_go_type(data)})"
        )
    scope = ""
    for key, value in data.items():
        if not isinstance(key, str):
            raise _ReadError(
                f"system username {quoted} has attribute key that is not a string "
                f"(found {_go_type(key)})"
            )
        if key == "scope":
            if not isinstance(value, str):
                raise _ReadError(
                    f"scope on system username {quoted} is not a string (found {_go_type(value)})"
                )
            scope = value
        elif key == "":
            raise _ReadError(f"system username {quoted} has an empty attribute key")
        else:
            try:
                normalize_value(value)
            except ValueError as err:
                raise _ReadError(
                    f"attribute {go_quote(key)} of system username {quoted}: {err}"
                ) from None
    return scope


def valid_links_key(key: str) -> bool:
    return bool(re.fullmatch(_LINKS_KEY, key))


def _links(raw: Mapping[str, list[str] | None]) -> dict[str, tuple[str, ...]]:
    links = {}
    for key, values in raw.items():
        if key == "":
            raise _ReadError("links key cannot be empty")
        if not valid_links_key(key):
            raise _ReadError(f"links key is invalid: {key}")
        links[key] = tuple(str(value) for value in values or ())
    return links
