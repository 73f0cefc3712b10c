"""A deterministic corpus of snap.yaml texts for comparing usersnap's validator with snapd's.

Each case is a valid base snap with one mutation (a few combine two on purpose), so snapd's
first error is mostly deterministic despite Go's random map order.  Layouts get the most
attention (targets, sources, kinds, ownership, nesting, source kinds); the other fields get
enough variety to exercise every rule of ``snap.Validate`` and the parser.

Values are written as JSON-quoted YAML scalars unless wrapped in :class:`Raw`, which is
emitted verbatim (``mode: 0755`` must reach the parser as the plain scalar it is).
"""

from __future__ import annotations

import copy
import json
import posixpath
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SEED = 2576
NAME = "probe"


class Raw(str):
    """A YAML scalar written exactly as given."""


@dataclass(frozen=True)
class Case:
    ident: str
    yaml: str
    #: Extra files (relative path -> mode) besides meta/snap.yaml and the command files.
    files: Mapping[str, int] = field(default_factory=dict)


# --- emitting ------------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9-]*|/[A-Za-z0-9_./+-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: object) -> str:
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN_KEY.fullmatch(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(value)


def to_yaml(node: object, indent: int = 0) -> str:
    """Block-style YAML for nested dicts; lists in flow style."""
    pad = " " * indent
    lines = []
    assert isinstance(node, dict)
    for key, value in node.items():
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_scalar(key)}:\n{to_yaml(value, indent + 2)}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{_scalar(key)}: {{}}\n")
        elif isinstance(value, list):
            items = ", ".join(_scalar(item) for item in value)
            lines.append(f"{pad}{_scalar(key)}: [{items}]\n")
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}\n")
    return "".join(lines)


def base_snap() -> dict[str, Any]:
    return {
        "name": NAME,
        "version": "1.0",
        "summary": "corpus probe",
        "description": "A snap for comparing validators.",
        "base": "core22",
        "apps": {NAME: {"command": "bin/probe"}},
    }


Mutation = Callable[[dict[str, Any]], None]


def _case(ident: str, mutate: Mutation, files: Mapping[str, int] | None = None) -> Case:
    snap = base_snap()
    mutate(snap)
    return Case(ident, to_yaml(snap), dict(files or {}))


def _set(path: str, value: object) -> Mutation:
    """Set ``a/b/c`` in the snap dict (creating maps); ``None`` deletes."""

    def mutate(snap: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = snap
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)

    return mutate


def _update(**fields: object) -> Mutation:
    """Set top-level fields; ``None`` deletes."""

    def mutate(snap: dict[str, Any]) -> None:
        for key, value in fields.items():
            _set(key, value)(snap)

    return mutate


def _entry(**entry: object) -> Mutation:
    """One layout entry at /usr/foo."""
    return _layout({"/usr/foo": entry})


def _layout(entries: Mapping[str, Mapping[str, object]]) -> Mutation:
    return _set("layout", {path: dict(entry) for path, entry in entries.items()})


# --- layouts -------------------------------------------------------------------------------

TOP_LEVEL_OK = ["bin", "etc", "lib", "lib64", "meta", "mnt", "opt", "root", "sbin", "snap",
                "srv", "usr", "var", "writable"]
TOP_LEVEL_NEW = ["dev", "proc", "sys", "media", "run", "tmp", "home", "boot", "lost+found",
                 "foo", "lib32", "libx32", "usr2", "nix", "Usr", "snapd", "data"]
OFF_LIMITS = ["/var/lib/snapd", "/var/lib/snapd/foo", "/lib/firmware", "/lib/firmware/x",
              "/lib/modules", "/lib/modules/5.0", "/var/snap", "/var/snap/foo",
              "/var/snap/probe/common/x", "$SNAP_DATA", "$SNAP_DATA/foo", "$SNAP_COMMON/foo",
              "/var/run/foo", "/usr/lib/firmware/foo", "/usr/lib/modules", "/var/lib/snapdx",
              "/var/snapx", "/lib/firmwarex"]
TARGETS_MISC = [
    "/", "", "foo", "usr/share/foo", "./usr", "usr", "/usr/foo/", "/usr//foo", "/usr/./foo",
    "/usr/foo/../bar", "/foo/../usr/x", "//usr/foo", "/usr/foo/..", "$SNAP", "$SNAP/foo",
    "$SNAP/foo/../bar", "${SNAP}/foo", "$SNAP_USER_DATA/x", "$SNAP_USER_COMMON", "$HOME/foo",
    "$HOME", "$1usr/x", "$SNAP1/x", "$", "/usr/$", "/usr/$SNAP", "/usr/lib/$SNAP_DATA",
    "/usr/$SNAP_NAME", "$SNAPx/y", "/snap/other/foo", "/snap/probex/foo", "/snap/probe/foo",
    "/snap/probe/unset/foo", "/snap/probe", "/snap/pro", "/snap", "/snap/", "/usr/a b",
    "/usr/~x", "/usr/a,b", "/usr/a@b", "/usr/ünï", "/usr/a\tb", "/opt/x:y", "/etc/foo.conf",
    "/usr/share/fonts", "/var/cache/x", "/mnt/x", "/writable/x",
]
APPARMOR = ['?', '*', '[', ']', '{', '}', '^', '"']
SOURCES = [
    "$SNAP", "$SNAP/foo", "${SNAP}/foo", "$SNAP_DATA", "$SNAP_DATA/x", "$SNAP_COMMON",
    "$SNAP_COMMON/x", "$SNAP_USER_DATA/x", "$SNAP_USER_COMMON/x", "$SNAP_NAME", "$HOME/x",
    "$SNAP/$", "$SNAP/x/", "$SNAP/../x", "$SNAP//x", "$SNAP/./x", "/etc/x", "x", "../x", "",
    "/snap/probe/unset/x", "/snap/probe/unsetx", "/snap/probe/x1/x", "/snap/probe",
    "/var/snap/probe/common/x", "/var/snap/probe/commonfoo", "/var/snap/probe/unset",
    "/var/snap/other/common", "$SNAP_DATA2", "$SNAPx", "$SNAP_COMMON$SNAP", "$SNAP/a?b",
    "$SNAP/a*", "$SNAP/a[b]", "$SNAP/{x}", "$SNAP/a^", '$SNAP/a"b', "$SNAP/a b", "$SNAP/ü",
    "/snap/other/x", "$SNAP_DATA/../../other", "$$", "$1", "${}",
]
MODES = ["0755", "755", "1777", "01777", "0700", "0", "00", "4755", "2755", "6755", "17777",
         "777", "0644", '""', "rwx", "0799", '"0o755"', '"0700"', "777777777777",
         "37777777777", "-1", "0x1ff", "1e3", "true", "[0755]"]
OWNERS = ["root", '""', "daemon", '"0"', "nobody", "Root", "snap_daemon", "0", "[root]"]
KINDS = {
    "bind": "$SNAP/a", "bind-file": "$SNAP/f", "type": "tmpfs", "symlink": "$SNAP/l",
}


def layout_cases(rng: random.Random) -> Iterator[Case]:
    bind = {"bind": "$SNAP/foo"}
    for top in TOP_LEVEL_OK + TOP_LEVEL_NEW:
        yield _case(f"layout-top-{top}", _layout({f"/{top}/foo": bind}))
        yield _case(f"layout-topdir-{top}", _layout({f"/{top}": {"type": "tmpfs"}}))
    for target in OFF_LIMITS + TARGETS_MISC:
        yield _case(f"layout-target-{target!r}", _layout({target: bind}))
    for char in APPARMOR:
        yield _case(f"layout-aa-target-{char}", _layout({f"/usr/foo{char}x": bind}))
        yield _case(f"layout-aa-symlink-{char}", _entry(symlink=f"$SNAP/{char}"))
    for source in SOURCES:
        for kind in ("bind", "bind-file", "symlink"):
            yield _case(f"layout-{kind}-{source!r}", _layout({"/usr/foo": {kind: source}}))
    names = list(KINDS)
    for mask in range(16):
        entry: dict[str, object] = {k: KINDS[k] for i, k in enumerate(names) if mask >> i & 1}
        yield _case(f"layout-kinds-{mask}", _layout({"/usr/foo": entry}))
    for fs in ("ext4", "bind", "tmpfs", '""', "TMPFS", "none", "overlay"):
        yield _case(f"layout-type-{fs}", _layout({"/usr/foo": {"type": Raw(fs)}}))
    for mode in MODES:
        yield _case(f"layout-mode-{mode}", _entry(type="tmpfs", mode=Raw(mode)))
    for owner in OWNERS:
        yield _case(f"layout-user-{owner}", _entry(type="tmpfs", user=Raw(owner)))
        yield _case(f"layout-group-{owner}", _entry(type="tmpfs", group=Raw(owner)))
    yield from _nesting_cases(rng)
    yield from _source_kind_cases()
    yield from _raw_layout_cases()


NEST_TARGETS = ["/usr/foo", "/usr/foo/bar", "/usr/foobar", "/usr", "$SNAP/a", "$SNAP/a/b",
                "/snap/probe/unset/a", "/snap/probe/unset/a/b", "/", "/etc/x", "/etc/x/y/z",
                "$SNAP", "/snap/probe/unset", "/var/lib/x", "/var", "/usr/foo/bar/baz"]


def _nesting_cases(rng: random.Random) -> Iterator[Case]:
    kinds = list(KINDS.items())
    pairs = [(a, b) for a in NEST_TARGETS for b in NEST_TARGETS if a != b]
    for first, second in sorted(rng.sample(pairs, 60)):
        (kind1, src1), (kind2, src2) = rng.choice(kinds), rng.choice(kinds)
        entries = {first: {kind1: src1 + "1"}, second: {kind2: src2 + "2"}}
        if kind1 == "type":
            entries[first] = {"type": "tmpfs"}
        if kind2 == "type":
            entries[second] = {"type": "tmpfs"}
        yield _case(f"layout-nest-{first}+{second}", _layout(entries))
    for first, second in (("$SNAP/foo", "/snap/probe/unset/foo"),  # same place, two spellings
                          ("$SNAP/a/b", "/snap/probe/unset/a"),  # snapd's ordering hole
                          ("$SNAP/a", "/snap/probe/unset/a/b")):
        yield _case(f"layout-spelling-{first}+{second}", _layout({
            first: {"bind": "$SNAP_DATA/a"}, second: {"bind": "$SNAP_DATA/b"},
        }))


def _source_kind_cases() -> Iterator[Case]:
    variants = [("$SNAP/a", "$SNAP/a"), ("$SNAP/a", "/snap/probe/unset/a"),
                ("$SNAP_DATA/a", "/var/snap/probe/unset/a"), ("$SNAP/a", "$SNAP/b")]
    for first_path, second_path in (("/usr/foo", "/usr/bar"), ("/etc/aaa", "/usr/bbb")):
        for src1, src2 in variants:
            for kind1, kind2 in (("bind", "bind-file"), ("bind-file", "bind"), ("bind", "bind"),
                                 ("bind-file", "bind-file")):
                yield _case(
                    f"layout-srckind-{first_path}:{kind1}:{src1}+{second_path}:{kind2}:{src2}",
                    _layout({first_path: {kind1: src1}, second_path: {kind2: src2}}),
                )
    yield _case("layout-srckind-self", _entry(bind="$SNAP/a", **{"bind-file": "$SNAP/a"}))


def _raw_layout_cases() -> Iterator[Case]:
    head = to_yaml(base_snap())
    texts = {
        "layouts-plural": "layouts:\n  /usr/foo:\n    bind: $SNAP/foo\n",
        "layout-dup-key": (
            "layout:\n  /usr/foo:\n    bind: $SNAP/a\n  /usr/foo:\n    bind: $SNAP/b\n"
        ),
        "layout-unknown-key": "layout:\n  /usr/foo:\n    bind: $SNAP/a\n    source: x\n",
        "layout-entry-str": "layout:\n  /usr/foo: $SNAP/a\n",
        "layout-entry-list": "layout:\n  /usr/foo: [$SNAP/a]\n",
        "layout-not-map": "layout: [/usr/foo]\n",
        "layout-empty": "layout: {}\n",
        "layout-null": "layout:\n",
        "layout-null-entry": "layout:\n  /usr/foo:\n",
        "layout-bind-int": "layout:\n  /usr/foo:\n    bind: 12\n",
        "layout-bind-list": "layout:\n  /usr/foo:\n    bind: [a]\n",
        "layout-key-int": "layout:\n  12:\n    bind: $SNAP/a\n",
        "layout-mode-octal-yaml": "layout:\n  /usr/foo:\n    type: tmpfs\n    mode: 0o755\n",
        "layout-mode-float": "layout:\n  /usr/foo:\n    type: tmpfs\n    mode: 7.5\n",
        "layout-two-bad-modes": (
            "layout:\n  /usr/a:\n    type: tmpfs\n    mode: 4755\n"
            "  /usr/b:\n    type: tmpfs\n    mode: 0799\n"
        ),
    }
    for ident, text in texts.items():
        yield Case(ident, head + text)


# --- other fields --------------------------------------------------------------------------


def _label(value: object) -> str:
    return f"raw({value})" if isinstance(value, Raw) else repr(value)


def field_cases() -> Iterator[Case]:
    for name in ("probe", "", "Probe", "a", "1x", "123", "a--b", "-a", "a-", "probe_x", "probé",
                 "a" * 40, "a" * 41, "pro be", "x1-y2"):
        yield _case(f"name-{name!r}", _set("name", name))
    yield _case("name-missing", _set("name", None))
    for version in ("1.0", "", " 1", "1.0~", "v1.0-", "a" * 32, "a" * 33, "1_0", "é", "1.0+",
                    "a:b", "1..0", ".1", "1 0", "-", "~", "a", Raw("1.0"), Raw("2"), Raw("true"),
                    "1.0\n", "!1.0!", "x" * 33 + "!"):
        yield _case(f"version-{_label(version)}", _set("version", version))
    yield _case("version-missing", _set("version", None))
    for key, limit in (("title", 40), ("summary", 128), ("description", 4096)):
        for length in (limit, limit + 1):
            yield _case(f"{key}-{length}", _set(key, "é" * length))
    for license_ in ("MIT", "GPL-3.0", "GPL-3.0+", "GPL-3.0-or-later", "MIT OR Apache-2.0",
                     "Foo", "MIT AND", "(MIT", "Proprietary", "Other Open Source", ""):
        yield _case(f"license-{license_!r}", _set("license", license_))
    for kind in ("app", "gadget", "kernel", "base", "os", "snapd", "core", "bogus", ""):
        yield _case(f"type-{kind!r}", _set("type", kind))
        yield _case(f"type-nobase-{kind!r}", _update(type=kind, base=None))
    for base in ("core22", "core", "core18", "bare", "none", "core22_x", "Core22", "", "-x",
                 "a" * 41):
        yield _case(f"base-{base!r}", _set("base", base))
    yield _case("base-none-noapps", _update(base="none", apps=None))
    for value in ("strict", "classic", "devmode", "bogus", "", Raw("1")):
        yield _case(f"confinement-{_label(value)}", _set("confinement", value))
    for value in ("stable", "devel", "bogus", "", "Stable"):
        yield _case(f"grade-{value!r}", _set("grade", value))
    for epoch in ("0", "1", "1*", "0*", "01", "-1", "x", "", "1**", Raw("1"), Raw("[0, 1]"),
                  Raw("[1, 0]"), Raw("[0, 0]"), Raw("[]"), Raw("{read: [0], write: [1]}"),
                  Raw("{read: [1], write: [0]}"), Raw("{read: [0]}"), Raw("{write: [2]}"),
                  Raw("{read: [], write: []}"), Raw("{foo: [0]}"), Raw("[x]"), Raw("1.5"),
                  "4294967296", Raw("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]")):
        yield _case(f"epoch-{_label(epoch)}", _set("epoch", epoch))
    for archs in (["amd64"], ["all"], ["amd64", "arm64"], [], ["bogus"], ["all", "amd64"],
                  Raw('"amd64"'), ["x86_64"], ["amd64", "amd64"]):
        yield _case(f"arch-{_label(archs)}", _set("architectures", archs))
    yield from _app_cases()
    yield from _service_cases()
    yield from _interface_cases()
    yield from _hook_cases()
    yield from _misc_cases()


def _app(**fields: object) -> Mutation:
    return _set(f"apps/{NAME}", {"command": "bin/probe", **fields})


def _app_cases() -> Iterator[Case]:
    for name in ("probe", "a_b", "-a", "A", "a.b", "a--b", "a-", "1", "a" * 40, "ü"):
        yield _case(f"appname-{name!r}", _set("apps", {name: {"command": "bin/probe"}}))
    yield _case("appname-empty", _update(apps={"": {"command": "bin/probe"}}))
    for command in ("bin/probe --opt=1", "bin/probe 'x'", 'bin/probe "x"', "bin/probe `x`",
                    "bin/probe,x", "bin/probe {x}", "bin/probe $SNAP_DATA", "bin/probe  x",
                    "bin/probe #x", "bin/probe a:b", "bin/probe\tx", "bin/probe ü", "/bin/probe",
                    "bin/./probe", "bin/probe;x", "bin/probe|x", "bin/probe>x", "bin/probe~",
                    "bin/probe+x", "bin/probe@x", "bin/probe%x", "bin/probe!x"):
        yield _case(f"command-{command!r}", _app(command=command))
    yield _case("command-missing", _set(f"apps/{NAME}", {}))
    for chain in (["bin/wrap"], ["bin/wrap x"], ["bin/wrap,x"], ["$SNAP/bin/wrap"], [""]):
        yield _case(f"chain-{chain!r}", _app(**{"command-chain": chain}))
    for completer in ("completer.sh", "bin/comp", "/comp"):
        yield _case(f"completer-{completer}", _app(completer=completer))
    for alias in ("pb", "p.b", "p b", "-pb", "p_b"):
        yield _case(f"alias-{alias!r}", _app(aliases=[alias]))
    for common_id in ("org.example.Probe", "x"):
        yield _case(f"common-id-{common_id}", _app(**{"common-id": common_id}))
    yield _case("common-id-dup", _set("apps", {
        "a": {"command": "bin/a", "common-id": "org.x"},
        "b": {"command": "bin/b", "common-id": "org.x"},
    }))
    for key in ("stop-mode", "refresh-mode", "install-mode", "restart-condition", "restart-delay",
                "start-timeout", "stop-timeout", "watchdog-timeout", "timer", "before",
                "activates-on", "daemon-scope"):
        value: object = ["probe"] if key in ("before", "activates-on") else {
            "stop-mode": "sigterm", "refresh-mode": "endure", "install-mode": "enable",
            "restart-condition": "always", "timer": "00:00-24:00/2", "daemon-scope": "system",
        }.get(key, "10s")
        yield _case(f"nonservice-{key}", _app(**{key: value}))
    yield _case("refresh-mode-ignore-running", _app(**{"refresh-mode": "ignore-running"}))
    for env in (Raw("{FOO: bar}"), Raw("{FOO: [a]}"), Raw("{FOO: 1, BAR: true}"), Raw("[a]")):
        yield _case(f"app-env-{env}", _app(environment=env))
        yield _case(f"env-{env}", _set("environment", env))


def _daemon(**fields: object) -> Mutation:
    return _set(f"apps/{NAME}", {"command": "bin/probe", "daemon": "simple", **fields})


def _service_cases() -> Iterator[Case]:
    for daemon in ("simple", "forking", "oneshot", "dbus", "notify", "bogus", "", "Simple"):
        yield _case(f"daemon-{daemon!r}", _daemon(daemon=daemon))
    for scope in ("system", "user", "bogus", ""):
        yield _case(f"daemon-scope-{scope!r}", _daemon(**{"daemon-scope": scope}))
    fields: dict[str, list[object]] = {
        "stop-mode": ["sigterm", "sigterm-all", "sighup", "sigusr1-all", "sigint", "bogus"],
        "refresh-mode": ["endure", "restart", "ignore-running", "bogus"],
        "install-mode": ["enable", "disable", "bogus"],
        "restart-condition": ["always", "on-failure", "never", "on-watchdog", "bogus"],
        "restart-delay": ["10s", "-1s", "x", "1h2m", "0"],
        "start-timeout": ["10s", "-5s", "1", "forever"],
        "stop-timeout": ["30s", "1.5s"],
        "watchdog-timeout": ["5m", "-1m"],
        "timer": ["00:00-24:00/2", "mon,10:00", "bogus", "23:00~24:00/3", "mon1"],
        "stop-command": ["bin/stop", "bin/stop --x=1", "/bin/stop"],
        "post-stop-command": ["bin/post", "bin/post 'x'"],
        "reload-command": ["bin/reload"],
        "bus-name": ["org.example.probe", "org.example.pro'be"],
    }
    for key, values in fields.items():
        for value in values:
            yield _case(f"svc-{key}-{value!r}", _daemon(**{key: value}))
    yield _case("svc-stop-command-both-bad", _daemon(**{
        "command": "bin/probe --a=1", "stop-command": "bin/stop --b=1"}))
    two: dict[str, dict[str, object]] = {
        name: {"command": f"bin/{name}", "daemon": "simple"} for name in ("a", "b")
    }
    orders: dict[str, dict[str, dict[str, object]]] = {
        "after-ok": {"a": {"after": ["b"]}},
        "after-missing": {"a": {"after": ["zzz"]}},
        "before-cycle": {"a": {"before": ["b"]}, "b": {"before": ["a"]}},
        "after-self": {"a": {"after": ["a"]}},
        "after-nonservice": {"b": {"daemon": None}, "a": {"after": ["b"]}},
        "after-scope": {"b": {"daemon-scope": "user"}, "a": {"after": ["b"]}},
    }
    for ident, extra in orders.items():
        apps = copy.deepcopy(two)
        for app, changes in extra.items():
            for key, value in changes.items():
                if value is None:
                    apps[app].pop(key)
                else:
                    apps[app][key] = value
        yield _case(f"svc-order-{ident}", _set("apps", apps))
    socket_plugs = {"plugs": ["network-bind"]}
    for listen in ("$SNAP_DATA/sock", "$SNAP_COMMON/x.sock", "/tmp/x", "$SNAP_DATA/../x",
                   "@snap.probe.x", "@other", "8080", "127.0.0.1:8080", "0.0.0.0:80", "[::1]:1",
                   "70000", "0", "$XDG_RUNTIME_DIR/s", ""):
        yield _case(f"socket-{listen!r}", _daemon(sockets={"s": {"listen-stream": listen}},
                                                  **socket_plugs))
    yield _case("socket-no-plug", _daemon(sockets={"s": {"listen-stream": "$SNAP_DATA/s"}}))
    yield _case("socket-bad-name", _daemon(sockets={"S_1": {"listen-stream": "$SNAP_DATA/s"}},
                                           **socket_plugs))
    for mode in ("0666", "0777", "01777", "bogus"):
        yield _case(f"socket-mode-{mode}", _daemon(
            sockets={"s": {"listen-stream": "$SNAP_DATA/s", "socket-mode": Raw(mode)}},
            **socket_plugs))


def _interface_cases() -> Iterator[Case]:
    for plug, value in (("network", None), ("home", Raw("home")), ("x", Raw("network")),
                        ("Bad", Raw("network")), ("a--b", None), ("a_b", Raw("network")),
                        ("x", {"interface": "Bad_Iface"}), ("x", {"interface": "content",
                                                                  "target": "$SNAP/x"}),
                        ("x", {"interface": "bogus-interface"}), ("x", Raw("[a]")),
                        ("x", Raw("12")), ("x", {"interface": 12}), ("x", {"foo": "bar"}),
                        ("content", {"content": "x", "target": "$SNAP/x"}),
                        ("content", {"content": "x"}), ("x", {"interface": "content",
                                                              "target": "/etc/x"})):
        yield _case(f"plug-{plug}-{value!r}", _set("plugs", {plug: value}))
        yield _case(f"slot-{plug}-{value!r}", _set("slots", {plug: value}))
    yield _case("plug-slot-same", _update(plugs={"x": "network"}, slots={"x": "network"}))
    yield _case("app-plug-undeclared", _app(plugs=["network", "home"]))
    yield _case("app-plug-bad-name", _app(plugs=["Bad"]))
    yield _case("app-slot-bad-name", _app(slots=["a_b"]))
    yield _case("activates-on-dbus", _update(
        slots={"dbus-svc": {"interface": "dbus", "bus": "system", "name": "org.example.P"}},
        apps={NAME: {"command": "bin/probe", "daemon": "simple",
                     "activates-on": ["dbus-svc"]}}))
    yield _case("activates-on-session", _update(
        slots={"dbus-svc": {"interface": "dbus", "bus": "session", "name": "org.example.P"}},
        apps={NAME: {"command": "bin/probe", "daemon": "simple",
                     "activates-on": ["dbus-svc"]}}))
    yield _case("activates-on-not-dbus", _update(
        slots={"x": "network"},
        apps={NAME: {"command": "bin/probe", "daemon": "simple", "activates-on": ["x"]}}))


def _hook_cases() -> Iterator[Case]:
    for hook in ("install", "configure", "remove", "pre-refresh", "post-refresh",
                 "connect-plug-x", "prepare-slot-y", "check-health", "bogus", "Install",
                 "connect-plug-", "gate-auto-refresh", "fde-setup", "default-configure"):
        yield _case(f"hook-{hook}", _set("hooks", {hook: {}}))
        yield _case(f"hookfile-{hook}", _update(), {f"meta/hooks/{hook}": 0o755})
    yield _case("hookfile-not-exec", _update(), {"meta/hooks/install": 0o644})
    for chain in (["bin/wrap"], ["bin/wrap x"]):
        yield _case(f"hook-chain-{chain!r}", _set("hooks", {"install": {"command-chain": chain}}))
    yield _case("hook-plugs", _set("hooks", {"install": {"plugs": ["network"]}}))
    yield _case("hook-env-list", _set("hooks", {"install": {"environment": Raw("{A: [1]}")}}))


def _misc_cases() -> Iterator[Case]:
    for users in (Raw("{snap_daemon: shared}"), Raw("{snap_daemon: {scope: shared}}"),
                  Raw("{snap_daemon: private}"), Raw("{bogus: shared}"), Raw("{snap_daemon: 1}"),
                  Raw("{snap_microk8s: shared}"), Raw("{snap_daemon: {scope: x}}")):
        yield _case(f"system-usernames-{users}", _set("system-usernames", users))
    for links in (Raw("{donations: [https://example.com]}"), Raw("{website: [not-a-url]}"),
                  Raw("{bogus key: [https://x.org]}"), Raw("{contact: [mailto:a@b.c]}"),
                  Raw("{contact: [a@b.c]}"), Raw("{issues: ['']}")):
        yield _case(f"links-{links}", _set("links", links))
    for assumes in (["snapd2.50"], ["command-chain"], ["bogus-feature"], ["common-data-dir"]):
        yield _case(f"assumes-{assumes!r}", _set("assumes", assumes))
    yield _case("provenance-x", _set("provenance", "global-upload"))
    yield _case("provenance-y", _set("provenance", "my-prov"))
    yield _case("legacy-apps-list", _set("apps", Raw("[a]")))
    head = to_yaml(base_snap())
    for ident, text in {
        "dup-top-key": head + "version: '2'\n",
        "env-dup-key": head + "environment:\n  A: x\n  A: y\n",
        "tabs": head.replace("  command", "\tcommand"),
        "not-a-map": "- a\n- b\n",
        "empty": "",
        "garbage": "name: [\n",
        "unknown-top": head + "bogus-key: 1\n",
    }.items():
        yield Case(ident, text)


def corpus(seed: int = SEED) -> list[Case]:
    """All cases, in a fixed order; the same seed always gives the same corpus."""
    rng = random.Random(seed)
    cases = [*layout_cases(rng), *field_cases()]
    idents = [case.ident for case in cases]
    assert len(idents) == len(set(idents)), "duplicate case ids"
    return cases


# --- writing a case to disk ----------------------------------------------------------------


def _norm_command(command: object) -> str:
    """snapd's ``normPath`` (snap/container.go): the file a command needs."""
    if not isinstance(command, str) or not command:
        return ""
    path = posixpath.normpath(command).lstrip("/")
    if path.startswith("../") or path in ("..", "."):
        return ""
    return path.split(" ", 1)[0]


def command_files(text: str) -> dict[str, int]:
    """The files the snap's apps need (executables, readable completers), so container
    validation passes and the corpus tests metadata rules only."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    apps = data.get("apps") if isinstance(data, dict) else None
    files: dict[str, int] = {}
    if not isinstance(apps, dict):
        return files
    for app in apps.values():
        if not isinstance(app, dict):
            continue
        for key in ("command", "stop-command", "reload-command", "post-stop-command"):
            path = _norm_command(app.get(key))
            if path and not path.startswith("meta"):
                files[path] = 0o755
        completer = _norm_command(app.get("completer"))
        if completer:
            files[completer] = 0o644
    return files


def materialize(case: Case, root: Path) -> Path:
    """Write ``case`` as a snap directory under ``root``; returns ``root``."""
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "snap.yaml").write_text(case.yaml)
    for rel, mode in {**command_files(case.yaml), **case.files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexec true\n")
        path.chmod(mode)
    return root
