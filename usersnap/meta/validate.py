"""snapd 2.57.6's ``snap.Validate`` (``snap/validate.go``), rule by rule and in order.

Where snapd iterates Go maps (apps, hooks, plugs, sockets, links) the first error it
reports among several is random; we iterate in YAML order.  Layouts are checked last,
by :mod:`usersnap.layouts.validate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from usersnap.errors import SnapYamlError
from usersnap.layouts import validate as layouts_validate
from usersnap.meta.gostd import GoNumError, go_clean, go_parse_duration, go_parse_uint, go_quote
from usersnap.meta.model import App, Attrs, Hook, SnapInfo
from usersnap.meta.naming import (
    NamingError,
    split_instance_name,
    validate_alias,
    validate_app_name,
    validate_hook_name,
    validate_instance_name,
    validate_interface_name,
    validate_plug_name,
    validate_provenance,
    validate_slot_name,
    validate_snap_name,
    validate_socket_name,
    validate_version,
)
from usersnap.meta.schedule import ScheduleError, parse_schedule
from usersnap.meta.spdx import LicenseError, validate_license

APP_CONTENT = r"[A-Za-z0-9/. _#:$-]*"
COMMAND_CHAIN_CONTENT = r"[A-Za-z0-9/._#:$-]*"
_APP_CONTENT_TEXT = "^[A-Za-z0-9/. _#:$-]*$"
_CHAIN_CONTENT_TEXT = "^[A-Za-z0-9/._#:$-]*$"
DAEMONS = ("", "simple", "forking", "oneshot", "dbus", "notify")
STOP_MODES = ("", "sigterm", "sigterm-all", "sighup", "sighup-all", "sigusr1", "sigusr1-all",
              "sigusr2", "sigusr2-all", "sigint", "sigint-all")
REFRESH_MODES = ("", "endure", "restart", "ignore-running")
INSTALL_MODES = ("", "enable", "disable")
_USERNAME = r"[a-z0-9][-a-z0-9+._]*"
_LINK_SCHEMES = ("http", "https")


class SnapValidationError(SnapYamlError):
    """snap.yaml read fine but breaks a rule of ``snap.Validate``.

    ``reason`` is snapd's inner message; ``str()`` is what ``snap pack`` prints after
    ``error: ``: ``cannot validate snap "NAME": <reason>``.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"cannot validate snap {go_quote(name)}: {reason}")
        self.reason = reason


class _Invalid(Exception):
    pass


def validate_snap(info: SnapInfo) -> None:
    """Raise SnapValidationError for the first rule ``snap.Validate`` finds broken."""
    try:
        _validate(info)
        layouts_validate.validate_layouts(info)
    except (_Invalid, NamingError, LicenseError) as err:
        raise SnapValidationError(info.name, str(err)) from None
    except layouts_validate.LayoutError as err:
        raise SnapValidationError(info.name, err.message) from None


def _validate(info: SnapInfo) -> None:
    if not info.name:
        raise _Invalid("snap name cannot be empty")
    validate_provenance(info.provenance)
    validate_snap_name(info.name)
    validate_instance_name(info.name)
    if len(info.title) > 40:
        raise _Invalid(f"title can have up to 40 codepoints, got {len(info.title)}")
    if len(info.description) > 4096:
        raise _Invalid(f"description can have up to 4096 codepoints, got {len(info.description)}")
    validate_version(info.version)
    if info.license:
        try:
            validate_license(info.license)
        except LicenseError as err:
            raise _Invalid(f"cannot validate license {go_quote(info.license)}: {err}") from None
    for app in info.apps.values():
        try:
            _validate_app(info, app)
        except (_Invalid, NamingError) as err:
            raise _Invalid(
                f"invalid definition of application {go_quote(app.name)}: {err}"
            ) from None
    _check_order_cycles(info.services)
    for app in info.apps.values():
        for alias in app.aliases:
            try:
                validate_alias(alias)
            except NamingError:
                raise _Invalid(
                    f"cannot have {go_quote(alias)} as alias name for app {go_quote(app.name)} - "
                    "use only letters, digits, dash, underscore and dot characters"
                ) from None
    for hook in info.hooks.values():
        _validate_hook(hook)
    for plug in info.plugs.values():
        validate_plug_name(plug.name)
        _check_interface(plug.interface, "plug", plug.name)
    for slot in info.slots.values():
        validate_slot_name(slot.name)
        _check_interface(slot.interface, "slot", slot.name)
    for name in info.plugs:
        if name in info.slots:
            raise _Invalid(f"cannot have plug and slot with the same name: {go_quote(name)}")
    _validate_base(info)
    for username in info.system_usernames:
        if not re.fullmatch(_USERNAME, username):
            raise _Invalid(f"invalid system username {go_quote(username)}")
    _validate_links(info.links.items())
    _validate_common_ids(info.apps.values())


def _check_interface(interface: str, kind: str, name: str) -> None:
    try:
        validate_interface_name(interface)
    except NamingError:
        raise _Invalid(
            f"invalid interface name {go_quote(interface)} for {kind} {go_quote(name)}"
        ) from None


def _validate_hook(hook: Hook) -> None:
    validate_hook_name(hook.name)
    for value in hook.command_chain:
        if not re.fullmatch(COMMAND_CHAIN_CONTENT, value):
            raise _Invalid(
                f"hook command-chain contains illegal {go_quote(value)} "
                f"(legal: '{_CHAIN_CONTENT_TEXT}')"
            )


def _validate_base(info: SnapInfo) -> None:
    if info.type in ("os", "base") and info.base not in ("", "none"):
        raise _Invalid(
            f'cannot have "base" field on {go_quote(info.type)} snap {go_quote(info.name)}'
        )
    if info.base == "none" and (info.hooks or info.apps):
        raise _Invalid('cannot have apps or hooks with base "none"')
    if info.base:
        base_name, key = split_instance_name(info.base)
        if key:
            raise _Invalid(f"base cannot specify a snap instance name: {go_quote(info.base)}")
        try:
            validate_snap_name(base_name)
        except NamingError as err:
            raise _Invalid(f"invalid base name: {err}") from None


def _validate_common_ids(apps: Iterable[App]) -> None:
    seen: dict[str, str] = {}
    for app in apps:
        if app.common_id:
            if app.common_id in seen:
                raise _Invalid(
                    f"application {go_quote(app.name)} common-id {go_quote(app.common_id)} "
                    f"must be unique, already used by application {go_quote(seen[app.common_id])}"
                )
            seen[app.common_id] = app.name


# --- apps ---------------------------------------------------------------------------------


def _validate_app(info: SnapInfo, app: App) -> None:
    """``ValidateApp``; the caller wraps the message with the app name."""
    if app.daemon not in DAEMONS:
        raise _Invalid(f'"daemon" field contains invalid value {go_quote(app.daemon)}')
    if not app.daemon_scope:
        if app.daemon:
            raise _Invalid('"daemon-scope" must be set for daemons')
    elif app.daemon_scope in ("system", "user"):
        if not app.daemon:
            raise _Invalid('"daemon-scope" can only be set for daemons')
    else:
        raise _Invalid(f'invalid "daemon-scope": {go_quote(app.daemon_scope)}')
    try:
        validate_app_name(app.name)
    except NamingError:
        raise _Invalid(
            f"cannot have {go_quote(app.name)} as app name - "
            "use letters, digits, and dash as separator"
        ) from None
    for field, value in (("command", app.command), ("stop-command", app.stop_command),
                         ("reload-command", app.reload_command),
                         ("post-stop-command", app.post_stop_command), ("bus-name", app.busname)):
        if not re.fullmatch(APP_CONTENT, value):
            raise _Invalid(_illegal(field, value, _APP_CONTENT_TEXT))
    for value in app.command_chain:
        if not re.fullmatch(COMMAND_CHAIN_CONTENT, value):
            raise _Invalid(_illegal("command-chain", value, _CHAIN_CONTENT_TEXT))
    if app.sockets and "network-bind" not in app.plugs:
        raise _Invalid('"network-bind" interface plug is required when sockets are used')
    for socket_name, socket in app.sockets.items():
        try:
            _validate_socket(info, app, socket_name, socket)
        except (_Invalid, NamingError) as err:
            raise _Invalid(f"invalid definition of socket {go_quote(socket_name)}: {err}") from None
    _validate_activates_on(info, app)
    _validate_restart(app)
    _validate_order_names(info, app, app.before)
    _validate_order_names(info, app, app.after)
    for field, text in (("start-timeout", app.start_timeout), ("stop-timeout", app.stop_timeout),
                        ("watchdog-timeout", app.watchdog_timeout)):
        duration = _duration(text)
        if duration == 0:
            continue
        if not app.is_service:
            raise _Invalid(f"{field} is only applicable to services")
        if duration < 0:
            raise _Invalid(f"{field} cannot be negative")
    if app.stop_mode not in STOP_MODES:
        raise _Invalid(f'"stop-mode" field contains invalid value {go_quote(app.stop_mode)}')
    if app.refresh_mode not in REFRESH_MODES:
        raise _Invalid(f'"refresh-mode" field contains invalid value {go_quote(app.refresh_mode)}')
    if app.install_mode not in INSTALL_MODES:
        raise _Invalid(f'"install-mode" field contains invalid value {go_quote(app.install_mode)}')
    if app.stop_mode and not app.daemon:
        raise _Invalid(f'"stop-mode" cannot be used for {go_quote(app.name)}, only for services')
    if app.refresh_mode:
        if app.daemon and app.refresh_mode == "ignore-running":
            raise _Invalid('"refresh-mode" cannot be set to "ignore-running" for services')
        if not app.daemon and app.refresh_mode != "ignore-running":
            raise _Invalid(
                f'"refresh-mode" for app {go_quote(app.name)} can only have value "ignore-running"'
            )
    if app.install_mode and not app.daemon:
        raise _Invalid(f'"install-mode" cannot be used for {go_quote(app.name)}, only for services')
    if app.timer:
        if not app.is_service:
            raise _Invalid("timer is only applicable to services")
        try:
            parse_schedule(app.timer)
        except ScheduleError as err:
            raise _Invalid(f"timer has invalid format: {err}") from None


def _illegal(field: str, value: str, legal: str) -> str:
    return f"app description field '{field}' contains illegal {go_quote(value)} (legal: '{legal}')"


def _duration(text: str) -> int:
    """A timeout the parser already checked; empty means unset (zero)."""
    return go_parse_duration(text) if text else 0


def _validate_socket(info: SnapInfo, app: App, name: str, socket: Attrs) -> None:
    validate_socket_name(name)
    mode = socket.get("socket-mode", 0)
    if isinstance(mode, int) and mode > 0o777:
        raise _Invalid(f"cannot use mode: {mode:04o}")
    address = str(socket.get("listen-stream", ""))
    field = "listen-stream"
    if not address:
        raise _Invalid(f'"{field}" is not defined')
    if address[0] in "/$":
        clean = go_clean(address)
        if clean != address:
            raise _Invalid(
                f'invalid "{field}": {go_quote(address)} should be written as {go_quote(clean)}'
            )
        prefixes = {
            "system": ("$SNAP_DATA/", "$SNAP_COMMON/", "$XDG_RUNTIME_DIR/"),
            "user": ("$SNAP_USER_DATA/", "$SNAP_USER_COMMON/", "$XDG_RUNTIME_DIR/"),
        }.get(app.daemon_scope)
        if prefixes is None:
            raise _Invalid(
                f'invalid "{field}": cannot validate sockets for daemon-scope '
                f"{go_quote(app.daemon_scope)}"
            )
        if not address.startswith(prefixes):
            raise _Invalid(
                f'invalid "{field}": system daemon sockets must have a prefix of $SNAP_DATA, '
                "$SNAP_COMMON or $XDG_RUNTIME_DIR"
                if app.daemon_scope == "system" else
                f'invalid "{field}": user daemon sockets must have a prefix of $SNAP_USER_DATA, '
                "$SNAP_USER_COMMON, or $XDG_RUNTIME_DIR"
            )
    elif address[0] == "@":
        prefix = f"@snap.{info.name}."
        if not address.startswith(prefix):
            raise _Invalid(f'path for "{field}" must be prefixed with {go_quote(prefix)}')
    else:
        host, colon, port = address.rpartition(":")
        if colon and host not in ("127.0.0.1", "[::1]", "[::]"):
            raise _Invalid(
                f'invalid "{field}" address {go_quote(host)}, must be one of: '
                "127.0.0.1, [::1], [::]"
            )
        try:
            number = go_parse_uint(port, 10, 16)
        except GoNumError:
            number = 0
        if number < 1:
            raise _Invalid(f'invalid "{field}" port number {go_quote(port)}')


def _validate_activates_on(info: SnapInfo, app: App) -> None:
    if not app.activates_on:
        return
    if not app.is_service:
        raise _Invalid("activates-on is only applicable to services")
    for slot_name in app.activates_on:
        slot = info.slots[slot_name]
        quoted = go_quote(slot_name)
        if slot.interface != "dbus":
            raise _Invalid(f"invalid activates-on value {quoted}: slot does not use dbus interface")
        bus = slot.attrs.get("bus")
        if (app.daemon_scope == "system" and bus != "system") or (
            app.daemon_scope == "user" and bus != "session"
        ):
            bus_text = go_quote(bus) if isinstance(bus, str) else "%!q(<nil>)"
            raise _Invalid(
                f"invalid activates-on value {quoted}: bus {bus_text} does not match "
                f"daemon-scope {go_quote(app.daemon_scope)}"
            )
        for other in info.apps.values():
            if other is not app and slot_name in other.activates_on:
                raise _Invalid(
                    f"invalid activates-on value {quoted}: slot is also activatable on app "
                    f"{go_quote(other.name)}"
                )


def _validate_restart(app: App) -> None:
    delay = _duration(app.restart_delay)
    if delay:
        if not app.is_service:
            raise _Invalid("restart-delay is only applicable to services")
        if delay < 0:
            raise _Invalid("restart-delay cannot be negative")
    if app.restart_condition and not app.is_service:
        raise _Invalid("restart-condition is only applicable to services")


def _validate_order_names(info: SnapInfo, app: App, dependencies: Sequence[str]) -> None:
    if dependencies and not app.is_service:
        raise _Invalid("must be a service to define before/after ordering")
    for dependency in dependencies:
        other = info.apps.get(dependency)
        if other is None:
            raise _Invalid(f"before/after references a missing application {go_quote(dependency)}")
        if not other.is_service:
            raise _Invalid(
                f"before/after references a non-service application {go_quote(dependency)}"
            )
        if app.daemon_scope != other.daemon_scope:
            raise _Invalid(
                "before/after references service with different daemon-scope "
                f"{go_quote(dependency)}"
            )


def _check_order_cycles(services: Sequence[App]) -> None:
    """``SortServices`` (Kahn's algorithm) must order every service."""
    names = {app.name for app in services}
    predecessors: dict[str, int] = {}
    successors: dict[str, list[str]] = {}
    for app in services:
        for other in app.after:
            if other in names:
                predecessors[app.name] = predecessors.get(app.name, 0) + 1
                successors.setdefault(other, []).append(app.name)
        for other in app.before:
            if other in names:
                predecessors[other] = predecessors.get(other, 0) + 1
                successors.setdefault(app.name, []).append(other)
    queue = [app.name for app in services if not predecessors.get(app.name)]
    while queue:
        name = queue.pop(0)
        for successor in successors.get(name, ()):
            predecessors[successor] -= 1
            if predecessors[successor] == 0:
                del predecessors[successor]
                queue.append(successor)
    if predecessors:
        raise _Invalid(
            "applications are part of a before/after cycle: " + ", ".join(sorted(predecessors))
        )


# --- links --------------------------------------------------------------------------------


def _validate_links(links: Iterable[tuple[str, Sequence[str]]]) -> None:
    for key, values in links:
        quoted = go_quote(key)
        if not values:
            raise _Invalid(f"{quoted} links cannot be specified and empty")
        for link in values:
            if not link:
                raise _Invalid(f"empty {quoted} link")
            try:
                scheme = url_scheme(link)
            except ValueError:
                raise _Invalid(f"invalid {quoted} link {go_quote(link)}") from None
            if scheme in ("", "mailto"):
                if "@" not in link:
                    raise _Invalid(f"invalid {quoted} email address {go_quote(link)}")
            elif scheme not in _LINK_SCHEMES:
                raise _Invalid(
                    f"{quoted} link must have one of http|https schemes or it must be an "
                    f"email address: {go_quote(link)}"
                )


_SCHEME_CHARS = r"[A-Za-z][A-Za-z0-9+.-]*"
_HOST_OK = r"[A-Za-z0-9!$&'()*+,;=:\[\]<>\"._~-]"
_USERINFO = r"[A-Za-z0-9._:~!$&'()*+,;=%@-]*"
_ESCAPE = r"%(?![0-9A-Fa-f]{2})"


def url_scheme(link: str) -> str:
    """The lower-cased scheme Go's ``url.Parse`` finds; ValueError where it fails."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in link):
        raise ValueError("invalid control character in URL")
    main, _, fragment = link.partition("#")
    if re.search(_ESCAPE, fragment):
        raise ValueError("invalid URL escape")
    if main == "*":
        return ""
    scheme, rest = "", main
    colon = main.find(":")
    if colon == 0:
        raise ValueError("missing protocol scheme")
    if colon > 0 and re.fullmatch(_SCHEME_CHARS, main[:colon]):
        scheme, rest = main[:colon].lower(), main[colon + 1 :]
    # a lone trailing "?" is ForceQuery; otherwise the query is cut off (never checked)
    rest = rest[:-1] if rest.endswith("?") and rest.count("?") == 1 else rest.partition("?")[0]
    if not rest.startswith("/"):
        if scheme:
            return scheme
        if ":" in rest.partition("/")[0]:
            raise ValueError("first path segment in URL cannot contain colon")
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        authority, slash, path = rest[2:].partition("/")
        _check_authority(authority)
        rest = slash + path
    if re.search(_ESCAPE, rest):
        raise ValueError("invalid URL escape")
    return scheme


def _check_authority(authority: str) -> None:
    userinfo, at, host = authority.rpartition("@")
    if at and not re.fullmatch(_USERINFO, userinfo):
        raise ValueError("invalid userinfo")
    if at and re.search(_ESCAPE, userinfo):
        raise ValueError("invalid URL escape")
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0:
            raise ValueError("missing ']' in host")
        _check_port(host[close + 1 :])
    elif ":" in host:
        _check_port(host[host.rfind(":") :])
    index = 0
    while index < len(host):
        char = host[index]
        if char == "%":
            escape = host[index : index + 3]
            if re.match(_ESCAPE, escape) or (int(escape[1], 16) < 8 and escape != "%25"):
                raise ValueError("invalid URL escape")
            index += 3
            continue
        if ord(char) < 0x80 and not re.fullmatch(_HOST_OK, char):
            raise ValueError("invalid character in host name")
        index += 1


def _check_port(colon_port: str) -> None:
    """``validOptionalPort``: nothing, or a colon and ASCII digits."""
    if colon_port and (colon_port[0] != ":" or not all("0" <= c <= "9" for c in colon_port[1:])):
        raise ValueError("invalid port after host")
