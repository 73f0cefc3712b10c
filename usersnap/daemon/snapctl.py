"""snapctl's commands, run in the daemon as snapd runs them (overlord/hookstate/ctlcmd).

The ``snapctl`` client is a pass-through: it posts its argv and the cookie, and the
daemon parses, runs and formats (rest-api.md §5).  Parsing follows go-flags as snapd
configures it (``PassDoubleDash | HelpFlag``: options anywhere, ``--`` ends them,
``-h``/``--help`` answer with help on stdout).  Outcomes:

* output: ``(stdout, stderr)``;
* :class:`Unsuccessful`: a silent non-zero exit (``is-connected`` when not connected);
* :class:`SnapctlError`: ``error running snapctl: …`` (HTTP 400).

What has no meaning here yet is refused with a message that says so: connections
(``get :plug``), service control (issue #6).  Pure apart from the :class:`Host` it is
given; no trio.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from usersnap.cli.render import table
from usersnap.daemon.envelope import rfc3339
from usersnap.daemon.hooks import Context
from usersnap.daemon.services import app_json, services, status_row
from usersnap.errors import UsersnapError
from usersnap.meta.model import SnapInfo
from usersnap.state.config import NoOptionError, Transaction, format_json

_HEALTH = ("unknown", "okay", "waiting", "blocked", "error")
_VALID_CODE = re.compile(r"^[a-z](?:-?[a-z0-9])+$")


class SnapctlError(UsersnapError):
    """Answered 400 ``error running snapctl: <message>``."""


class Unsuccessful(Exception):
    """snapd's ``UnsuccessfulError``: exit with ``exit_code``, printing only what is given."""

    def __init__(self, exit_code: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(f"unsuccessful with exit code: {exit_code}")
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr


class Host(Protocol):
    """What the commands need from the daemon."""

    def snap_info(self, snap: str, revision: str) -> SnapInfo: ...
    def connected(self, snap: str, name: str) -> bool: ...
    def config_transaction(self, context: Context) -> Transaction: ...
    def service_status(self, snap: str, app: str) -> tuple[bool, bool]: ...
    def control_services(self, action: str, names: list[str], flags: dict[str, bool]
                         ) -> None: ...


@dataclass(frozen=True)
class _Option:
    long: str = ""
    short: str = ""
    value: str = ""  # the value's name when the option takes one
    help: str = ""


@dataclass(frozen=True)
class _Command:
    usage: str
    short: str
    long: str
    options: tuple[_Option, ...] = ()
    #: names of the required positionals, in order
    required: tuple[str, ...] = ()
    run: Callable[[_Call], None] = field(default=lambda call: None)


@dataclass
class _Call:
    name: str
    context: Context | None
    host: Host
    flags: dict[str, str | bool]
    args: list[str]
    out: list[str] = field(default_factory=list)

    def print(self, text: str) -> None:
        self.out.append(text)

    def ensure_context(self) -> Context:
        if self.context is None:
            raise SnapctlError(f'cannot invoke snapctl operation commands (here "{self.name}") '
                               "from outside of a snap")
        return self.context


# --- get / set / unset ----------------------------------------------------------------


def _get(call: _Call) -> None:
    if not call.args:
        raise SnapctlError("get which option?")
    context = call.ensure_context()
    typed, document = bool(call.flags.get("t")), bool(call.flags.get("d"))
    if typed and document:
        raise SnapctlError("cannot use -d and -t together")
    spec, keys = call.args[0], call.args[1:]
    if ":" in spec:
        snap, _, name = spec.partition(":")
        if not name:
            raise SnapctlError("plug or slot name not provided")
        if snap:
            raise SnapctlError(f'"snapctl get {spec}" not supported, use "snapctl get :{name}" '
                               "instead")
        if not keys:
            raise SnapctlError("get which attribute?")
        # no interface hook runs before connections exist (issue #4)
        raise SnapctlError(
            "interface attributes can only be read during the execution of interface hooks")
    if call.flags.get("plug") or call.flags.get("slot"):
        raise SnapctlError("cannot use --plug or --slot without <snap>:<plug|slot> argument")
    transaction = call.host.config_transaction(context)
    found: dict[str, Any] = {}
    for key in call.args:
        try:
            found[key] = transaction.get(key)
        except NoOptionError:
            continue
        except UsersnapError as err:
            raise SnapctlError(err.message) from None
    value: Any = found if document or len(call.args) > 1 else found.get(call.args[0])
    if typed and value is None:
        call.print("null\n")
    elif isinstance(value, str) and not typed:
        call.print(value + "\n")
    else:
        call.print(("" if value is None else format_json(value)) + "\n")


def _parse_value(text: str, *, as_string: bool, typed: bool) -> Any:
    """snapd's set: JSON when it parses as one value, else the text (``-s``: always the
    text; ``-t``: JSON or an error)."""
    if as_string:
        return text
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError as err:
        if typed:
            raise SnapctlError(f"failed to parse JSON: {err}") from None
        return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _set(call: _Call) -> None:
    if not call.args:
        raise SnapctlError("set which option?")
    context = call.ensure_context()
    typed, as_string = bool(call.flags.get("t")), bool(call.flags.get("s"))
    if typed and as_string:
        raise SnapctlError("cannot use -t and -s together")
    spec = call.args[0]
    if "=" not in spec and ":" in spec:
        snap, _, name = spec.partition(":")
        if not name:
            raise SnapctlError("plug or slot name not provided")
        if snap:
            raise SnapctlError(f'"snapctl set {spec}" not supported, use "snapctl set :{name}" '
                               "instead")
        raise SnapctlError(
            "interface attributes can only be set during the execution of prepare hooks")
    transaction = call.host.config_transaction(context)
    try:
        for item in call.args:
            key, sep, text = item.partition("=")
            if not sep and item.endswith("!"):
                transaction.set(item[:-1], None)
                continue
            if not sep:
                raise SnapctlError(f'invalid parameter: "{item}" (want key=value)')
            transaction.set(key, _parse_value(text, as_string=as_string, typed=typed))
    except SnapctlError:
        raise
    except UsersnapError as err:
        raise SnapctlError(err.message) from None


def _unset(call: _Call) -> None:
    if not call.args:
        raise SnapctlError("unset which option?")
    context = call.ensure_context()
    transaction = call.host.config_transaction(context)
    try:
        for key in call.args:
            transaction.set(key, None)
    except UsersnapError as err:
        raise SnapctlError(err.message) from None


# --- services, is-connected, set-health -----------------------------------------------


def _services(call: _Call) -> None:
    context = call.ensure_context()
    info = call.host.snap_info(context.snap, context.revision)
    chosen = services(info)
    if call.args:
        picked = []
        for name in call.args:
            if name == context.snap:
                picked = services(info)
                break
            app = info.apps.get(name.removeprefix(f"{context.snap}."))
            if not name.startswith(f"{context.snap}.") or app is None or not app.daemon:
                raise SnapctlError(f'unknown service: "{name}"')
            picked.append(app)
        chosen = sorted(picked, key=lambda a: a.name)
    if not chosen:
        return
    rows = [["Service", "Startup", "Current", "Notes"]]
    for app in chosen:
        enabled, active = call.host.service_status(context.snap, app.name)
        rows.append(status_row(app_json(context.snap, app, info, enabled=enabled,
                                        active=active)))
    call.print(table(rows) + "\n")


def _service_control(call: _Call) -> None:
    call.ensure_context()
    if not call.args:
        raise SnapctlError("the required argument `<service> (at least 1 argument)` "
                           "was not provided")
    context = call.ensure_context()
    for name in call.args:
        if name != context.snap and not name.startswith(f"{context.snap}."):
            raise SnapctlError(f'unknown service: "{name}"')
    flags = {k: bool(call.flags.get(k)) for k in ("enable", "disable", "reload")}
    try:
        call.host.control_services(call.name, list(call.args), flags)
    except UsersnapError as err:
        raise SnapctlError(str(err)) from None


def _is_connected(call: _Call) -> None:
    context = call.ensure_context()
    name = call.args[0]
    info = call.host.snap_info(context.snap, context.revision)
    if name not in info.plugs and name not in info.slots:
        raise SnapctlError(f'snap "{context.snap}" has no plug or slot named "{name}"')
    for flag, what in (("pid", "--pid"), ("apparmor-label", "--apparmor-label")):
        if call.flags.get(flag):
            slot = info.slots.get(name)
            if slot is None or slot.interface not in ("pulseaudio", "audio-record",
                                                      "cups-control"):
                raise SnapctlError(f"cannot use {what} check with {context.snap}:{name}")
            raise Unsuccessful(11)  # no process is known as a snap's: "not a snap"
    if not call.host.connected(context.snap, name):
        raise Unsuccessful(1)


def _set_health(call: _Call) -> None:
    status = call.args[0]
    message = call.args[1] if len(call.args) > 1 else ""
    code = str(call.flags.get("code", ""))
    if status == "okay" and (message or code):
        raise SnapctlError('when status is "okay", message and code must be empty')
    if status not in _HEALTH:
        quoted = ", ".join(f'"{s}"' for s in _HEALTH)
        raise SnapctlError(f'invalid status "{status}", must be one of {quoted}')
    if status == "unknown":
        raise SnapctlError('status cannot be manually set to "unknown"')
    if code:
        if not 3 <= len(code) <= 30:
            raise SnapctlError(f"code must have between 3 and 30 characters, got {len(code)}")
        if not _VALID_CODE.match(code):
            raise SnapctlError(
                f'invalid code "{code}" (code must start with lowercase ASCII letters, and '
                "contain only ASCII letters and numbers, optionally separated by single "
                "dashes)")
    if status != "okay":
        if not message:
            raise SnapctlError('when status is not "okay", message is required')
        if len(message) < 7:
            raise SnapctlError(f"message must be at least 7 characters long (got "
                               f"{len(message)})")
        if len(message) > 70:
            message = message[:69] + "…"
    context = call.ensure_context()
    health: dict[str, Any] = {
        "revision": context.revision, "status": status,
        "timestamp": rfc3339(time.time()),
    }
    if message:
        health["message"] = message
    if code:
        health["code"] = code
    context.health = health


# --- the parser -------------------------------------------------------------------------

_COMMANDS: dict[str, _Command] = {
    "get": _Command(
        "[get-OPTIONS] [:<plug|slot>] [<keys>...]",
        "The get command prints configuration and interface connection settings.",
        "The get command prints configuration options for the current snap.\n\n"
        "    $ snapctl get username\n    frank\n\n"
        "If multiple option names are provided, a document is returned.  Nested values\n"
        "may be retrieved via a dotted path:\n\n    $ snapctl get author.name\n    frank",
        (_Option("slot", help="return attribute values from the slot side of the connection"),
         _Option("plug", help="return attribute values from the plug side of the connection"),
         _Option(short="d", help="always return document, even with single key"),
         _Option(short="t", help="strict typing with nulls and quoted strings")),
        run=_get),
    "set": _Command(
        "[set-OPTIONS] [:<plug|slot>] [key=value...]",
        "Changes configuration options",
        "The set command changes the provided configuration options as requested.\n\n"
        "    $ snapctl set username=frank password=$PASSWORD\n\n"
        "All configuration changes are persisted at once, and only after the hook\n"
        "returns successfully.\n\nNested values may be modified via a dotted path:\n\n"
        "    $ snapctl set author.name=frank\n\n"
        "Configuration option may be unset with exclamation mark:\n\n"
        "    $ snapctl set author!",
        (_Option(short="s", help="parse the value as a string"),
         _Option(short="t", help="parse the value strictly as JSON document")),
        run=_set),
    "unset": _Command(
        "[<conf keys>...]", "Remove configuration options",
        "The unset command removes the provided configuration options as requested.\n\n"
        "    $ snapctl unset name address\n\nAll configuration changes are persisted at "
        "once, and only after the\nsnap's configuration hook returns successfully.",
        run=_unset),
    "services": _Command(
        "[<service>...]", "Query the status of services",
        "The services command lists information about the services specified.",
        run=_services),
    "is-connected": _Command(
        "[is-connected-OPTIONS] <plug|slot>",
        "Return success if the given plug or slot is connected, and failure otherwise",
        "The is-connected command returns success if the given plug or slot of the\n"
        "calling snap is connected, and failure otherwise.",
        (_Option("pid", value="<pid>", help="Process ID for a plausibly connected process"),
         _Option("apparmor-label", value="<label>",
                 help="AppArmor label for a plausibly connected process")),
        required=("<plug|slot>",), run=_is_connected),
    "set-health": _Command(
        "[set-health-OPTIONS] <status> [<message>]", "Report the health status of a snap",
        "The set-health command is called from within a snap to inform the system of the\n"
        "snap's overall health.  status can be one of okay, waiting, blocked or error.",
        (_Option("code", value="<code>",
                 help="optional tool-friendly value representing the problem that makes "
                      "the snap unhealthy"),),
        required=("<status>",), run=_set_health),
    **{verb: _Command(
        f"[{verb}-OPTIONS] <service>...", f"{verb.capitalize()} services",
        f"The {verb} command {verb}s the given services of the snap.",
        (_Option("enable"), _Option("disable"), _Option("reload")) if verb != "stop"
        else (_Option("disable"),),
        run=_service_control) for verb in ("start", "stop", "restart")},
}


def _help(name: str | None) -> str:
    if name is None:
        lines = ["Usage:", "  snapctl [OPTIONS] <command>", "",
                 "The snapctl tool is used by snaps to communicate with the snap system.", "",
                 "Help Options:", "  -h, --help  Show this help message", "",
                 "Available commands:"]
        width = max(map(len, _COMMANDS))
        lines += [f"  {n.ljust(width)}  {c.short}" for n, c in sorted(_COMMANDS.items())]
        return "\n".join(lines) + "\n"
    cmd = _COMMANDS[name]
    lines = ["Usage:", f"  snapctl [OPTIONS] {name} {cmd.usage}", "", cmd.short, "",
             cmd.long, "", "Help Options:", "  -h, --help  Show this help message"]
    if cmd.options:
        lines += ["", f"[{name} command options]"]
        for opt in cmd.options:
            flag = f"-{opt.short}" if opt.short else f"    --{opt.long}"
            if opt.value:
                flag += "="
            lines.append(f"      {flag:<18} {opt.help}".rstrip())
    return "\n".join(lines) + "\n"


def _parse(cmd: _Command, name: str, argv: Sequence[str]) -> tuple[dict[str, str | bool],
                                                                   list[str], bool]:
    """go-flags: options anywhere, ``--`` ends them; returns flags, positionals, help."""
    longs = {o.long: o for o in cmd.options if o.long}
    shorts = {o.short: o for o in cmd.options if o.short}
    flags: dict[str, str | bool] = {}
    args: list[str] = []
    rest = list(argv)
    while rest:
        item = rest.pop(0)
        if item == "--":
            args += rest
            break
        if item in ("-h", "--help"):
            return flags, args, True
        if item.startswith("--") and len(item) > 2:
            key, sep, value = item[2:].partition("=")
            opt = longs.get(key)
            if opt is None:
                raise SnapctlError(f"unknown flag `{key}'")
            if opt.value:
                if not sep:
                    if not rest:
                        raise SnapctlError(f"expected argument for flag `--{key}'")
                    value = rest.pop(0)
                flags[key] = value
            elif sep:
                raise SnapctlError(f"bool flag `--{key}' cannot have an argument")
            else:
                flags[key] = True
        elif item.startswith("-") and len(item) > 1:
            for letter in item[1:]:
                if letter == "h":
                    return flags, args, True
                if letter not in shorts:
                    raise SnapctlError(f"unknown flag `{letter}'")
                flags[letter] = True
        else:
            args.append(item)
    for i, required in enumerate(cmd.required):
        if len(args) <= i:
            raise SnapctlError(f"the required argument `{required}` was not provided")
    return flags, args, False


def run_snapctl(context: Context | None, argv: Sequence[str], host: Host) -> tuple[str, str]:
    """Run one snapctl invocation; (stdout, stderr), or an exception as documented above."""
    if not argv:
        raise SnapctlError("snapctl cannot run without args")
    first = argv[0]
    if first in ("-h", "--help"):
        return _help(None), ""
    if first.startswith("-"):
        raise SnapctlError(f"unknown flag `{first.lstrip('-')}'")
    cmd = _COMMANDS.get(first)
    if cmd is None:
        raise SnapctlError(f"Unknown command `{first}'. Please specify one command of: "
                           + ", ".join(sorted(_COMMANDS)))
    flags, args, wants_help = _parse(cmd, first, argv[1:])
    if wants_help:
        return _help(first), ""
    call = _Call(first, context, host, flags, args)
    cmd.run(call)
    return "".join(call.out), ""


def unsuccessful_value(err: Unsuccessful) -> Mapping[str, object]:
    return {"stdout": err.stdout, "stderr": err.stderr, "exit-code": err.exit_code}
