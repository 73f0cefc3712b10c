"""Every probe of spec §1.7 (snapd 2.57.6 ``snap pack``), replayed against the pure validator.

Rows about parsing (``mode: rwx``, ``layouts:``, duplicate keys) are the parser's
(usersnap.meta.parse) and are covered by the oracle corpus; here the model is built directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from usersnap.layouts.validate import (
    LayoutError,
    expand_snap_variables,
    go_expand,
    go_quote,
    path_variables_error,
    validate_layouts,
)
from usersnap.meta.model import Layout, SnapInfo, frozen_map

AA = 'contains a reserved apparmor char from ?*[]{}^"\x00'
BIND = {"bind": "$SNAP/foo"}


def info(layouts: dict[str, dict[str, Any]], name: str = "probe") -> SnapInfo:
    return SnapInfo(
        name=name,
        version="1",
        base="core22",
        layout=frozen_map({path: Layout(path=path, **entry) for path, entry in layouts.items()}),
    )


def verdict(layouts: dict[str, dict[str, Any]], revision: str = "unset") -> str | None:
    try:
        validate_layouts(info(layouts), revision=revision)
    except LayoutError as err:
        return err.message
    return None


ACCEPTED = [
    {"/usr/share/foo": BIND},
    {"/var/run/foo": BIND},  # master (>= 2.60) rejects these three
    {"/usr/lib/firmware/foo": BIND},
    {"/usr/lib/modules": BIND},
    {"/var/lib/snapdx": BIND},
    {"/usr/src": BIND},
    {"/var": BIND},
    {"/usr": BIND},
    {"/etc": BIND},
    {"/writable/foo": BIND},
    {"/snap/probex/foo": BIND},
    {"/snap/probe/foo": BIND},
    {"$SNAP/foo": BIND},
    {"$SNAP": BIND},
    {"/": BIND},
    *({"/usr/foo": {"bind": src}} for src in (
        "$SNAP_DATA/bar", "$SNAP_COMMON/bar", "$SNAP", "$SNAP_DATA", "/snap/probe/unset/bar",
        "/snap/probe/unsetx", "/var/snap/probe/common/x",
    )),
    {"/usr/foo": {"type": "tmpfs", "mode": 0o1777}},
    {"/usr/foo": {"type": "tmpfs", "mode": 0}},
    {"/usr/foo": {"bind": "$SNAP/a", "user": "root", "group": "root"}},
    {"$SNAP/a/b": BIND, "/snap/probe/unset/a": BIND},  # ordering hole
    {"/usr/foo": BIND, "/usr/foobar": BIND},
    {"/usr/a": {"bind": "$SNAP/a"}, "/usr/b": {"bind": "$SNAP/a"}},
    {"/usr/a": {"bind-file": "$SNAP/a"}, "/usr/b": {"bind-file": "$SNAP/a"}},
    {"/usr/a b": BIND, "/usr/~x": BIND, "/usr/a,b": BIND, "/usr/a@b": BIND},
]


@pytest.mark.parametrize("layouts", ACCEPTED, ids=lambda layouts: ",".join(layouts))
def test_accepted(layouts: dict[str, dict[str, Any]]) -> None:
    assert verdict({p: _kw(e) for p, e in layouts.items()}) is None


def _kw(entry: dict[str, Any]) -> dict[str, Any]:
    """YAML keys to model field names."""
    return {key.replace("-", "_"): value for key, value in entry.items()}


def _one(target: str, message: str, **entry: Any) -> tuple[dict[str, dict[str, Any]], str]:
    return {target: _kw(entry or BIND)}, message


TOP = 'defines a new top-level directory'
REJECTED = [
    _one("/dev/foo", f'layout "/dev/foo" {TOP} "/dev"'),
    _one("/tmp", f'layout "/tmp" {TOP} "/tmp"', type="tmpfs"),
    _one("/home/foo", f'layout "/home/foo" {TOP} "/home"'),
    _one("/proc/foo", f'layout "/proc/foo" {TOP} "/proc"'),
    _one("/foo", f'layout "/foo" {TOP} "/foo"'),
    _one("/foo/bar", f'layout "/foo/bar" {TOP} "/foo"'),
    _one("/lib32/foo", f'layout "/lib32/foo" {TOP} "/lib32"'),
    _one("$HOME/foo", f'layout "$HOME/foo" {TOP} "/foo"'),
    _one("usr/share/foo", 'layout "usr/share/foo" is a relative filename'),
    _one("foo", 'layout "foo" uses invalid mount point: must be absolute and clean'),
    _one("", "layout cannot use an empty path"),
    *(_one(p, f'layout "{p}" in an off-limits area') for p in (
        "/lib/firmware/foo", "/lib/modules/5.0", "/var/snap/foo", "/var/lib/snapd/foo",
        "/var/lib/snapd", "$SNAP_DATA/foo",
    )),
    _one("/snap/other/foo",
         'layout "/snap/other/foo" defines a layout in space belonging to another snap'),
    _one("/usr/foo*", f'invalid layout path: "/usr/foo*" {AA}'),
    *(_one(p, f'layout "{p}" uses invalid mount point: must be absolute and clean') for p in (
        "/usr/foo/../bar", "/usr/foo/", "/usr//foo", "/foo/../usr/x", "/usr/lib/$SNAP",
    )),
    _one("/usr/$SNAP_NAME", 'layout "/usr/$SNAP_NAME" uses invalid mount point: '
         'reference to unknown variable "$SNAP_NAME"'),
]

SRC = 'layout "/usr/foo" uses invalid bind mount source'
OLD = 'layout "/etc/foo.conf" uses invalid symlink old name'
STARTS = "must start with $SNAP, $SNAP_DATA or $SNAP_COMMON"
KIND = 'layout "/usr/foo" must define a bind mount, a filesystem mount or a symlink'
ENTRY_REJECTED = [
    ({"bind": "${SNAP}/bar"}, f'{SRC} "${{SNAP}}/bar": reference to unknown variable "$"'),
    ({"bind": "$SNAP/$"}, f'{SRC} "$SNAP/$": reference to unknown variable "$"'),
    *(({"bind": f"${var}/bar"}, f'{SRC} "${var}/bar": reference to unknown variable "${var}"')
      for var in ("SNAP_USER_DATA", "SNAP_USER_COMMON", "SNAP_NAME")),
    ({"bind": "/etc/bar"}, f'{SRC} "/etc/bar": {STARTS}'),
    ({"bind_file": "/etc/x"}, f'{SRC} "/etc/x": {STARTS}'),
    ({"bind": "bar"}, f'{SRC} "bar": must be absolute and clean'),
    ({"bind": "$SNAP/bar/../baz"},
     f'{SRC} "/snap/probe/unset/bar/../baz": must be absolute and clean'),
    ({"bind": "$SNAP/bar/"}, f'{SRC} "/snap/probe/unset/bar/": must be absolute and clean'),
    ({"bind": "$SNAP/a?b"},
     f'layout "/usr/foo" uses invalid mount source: "/snap/probe/unset/a?b" {AA}'),
    ({"symlink": "$SNAP/a[b]"},
     f'layout "/usr/foo" uses invalid symlink: "/snap/probe/unset/a[b]" {AA}'),
    ({"bind": "$SNAP/a", "symlink": "$SNAP/b"}, KIND),
    ({"type": "tmpfs", "bind": "$SNAP/a"}, KIND),
    ({"mode": 0o700}, KIND),
    ({"type": "ext4"}, 'layout "/usr/foo" uses invalid filesystem "ext4"'),
    ({"type": "tmpfs", "user": "daemon"}, 'layout "/usr/foo" uses invalid user "daemon"'),
    ({"type": "tmpfs", "user": "0"}, 'layout "/usr/foo" uses invalid user "0"'),
    ({"type": "tmpfs", "group": "adm"}, 'layout "/usr/foo" uses invalid group "adm"'),
    ({"type": "tmpfs", "mode": 0o4755}, 'layout "/usr/foo" uses invalid mode 04755'),
    ({"type": "tmpfs", "mode": 0o17777}, 'layout "/usr/foo" uses invalid mode 017777'),
]
SYMLINK_REJECTED = [
    ("/etc/bar.conf", f'{OLD} "/etc/bar.conf": {STARTS}'),
    ("../bar.conf", f'{OLD} "../bar.conf": must be absolute and clean'),
    ("$SNAP/a/./b", f'{OLD} "/snap/probe/unset/a/./b": must be absolute and clean'),
    ("$SNAP_USER_DATA/foo.conf",
     f'{OLD} "$SNAP_USER_DATA/foo.conf": reference to unknown variable "$SNAP_USER_DATA"'),
]
PAIRS_REJECTED = [
    *(({"/usr/foo": parent, "/usr/foo/bar": {"bind": "$SNAP/b"}},
       'layout "/usr/foo/bar" underneath prior layout item "/usr/foo"')
      for parent in ({"bind": "$SNAP/a"}, {"bind_file": "$SNAP/a"}, {"symlink": "$SNAP/a"},
                     {"type": "tmpfs"})),
    ({"$SNAP/foo": {"bind": "$SNAP_DATA/a"}, "/snap/probe/unset/foo": {"bind": "$SNAP_DATA/b"}},
     'layout "/snap/probe/unset/foo" underneath prior layout item "/snap/probe/unset/foo"'),
    ({"/usr/foo": {"bind": "$SNAP/a"}, "/usr/bar": {"bind_file": "$SNAP/a"}},
     'layout "/usr/foo" refers to directory "$SNAP/a" but another layout treats it as file'),
    ({"/etc/aaa": {"bind": "$SNAP/a"}, "/usr/bbb": {"bind_file": "$SNAP/a"}},
     'layout "/usr/bbb" refers to file "$SNAP/a" but another layout treats it as a directory'),
]


@pytest.mark.parametrize(("layouts", "message"), REJECTED, ids=lambda v: str(v)[:40])
def test_rejected_target(layouts: dict[str, dict[str, Any]], message: str) -> None:
    assert verdict(layouts) == message


@pytest.mark.parametrize(("entry", "message"), ENTRY_REJECTED, ids=lambda v: str(v)[:40])
def test_rejected_entry(entry: dict[str, Any], message: str) -> None:
    assert verdict({"/usr/foo": entry}) == message


@pytest.mark.parametrize(("old", "message"), SYMLINK_REJECTED)
def test_rejected_symlink(old: str, message: str) -> None:
    assert verdict({"/etc/foo.conf": {"symlink": old}}) == message


@pytest.mark.parametrize(("layouts", "message"), PAIRS_REJECTED, ids=lambda v: str(v)[:40])
def test_rejected_pairs(layouts: dict[str, dict[str, Any]], message: str) -> None:
    assert verdict(layouts) == message


def test_apparmor_message_ends_with_nul() -> None:
    message = verdict({"/usr/foo*": BIND})
    assert message is not None
    assert message.endswith('^"\x00')


def test_revision_parameter_changes_expansion() -> None:
    assert verdict({"$SNAP/foo": BIND, "/snap/probe/x1/foo": BIND}, revision="x1") == (
        'layout "/snap/probe/x1/foo" underneath prior layout item "/snap/probe/x1/foo"'
    )
    assert verdict({"$SNAP/foo": BIND, "/snap/probe/x1/foo": BIND}) is None


def test_go_expansion_quirks() -> None:
    # $1 is a shell special variable, so the target expands to a relative path in pass 1.
    assert verdict({"$1usr/x": BIND}) == 'layout "$1usr/x" is a relative filename'
    # os.Expand reads "SNAP1" (digits allowed), ValidatePathVariables reads "SNAP".
    assert verdict({"$SNAP1/x": BIND}) == f'layout "$SNAP1/x" {TOP} "/x"'
    assert verdict({"/usr/foo": {"bind": "$SNAP_DATA2"}}) == (
        f'{SRC} "": must be absolute and clean'
    )


def test_helpers() -> None:
    assert expand_snap_variables("$SNAP/a:${SNAP_DATA}:$SNAP_COMMON:$X:$", "n", "7") == (
        "/snap/n/7/a:/var/snap/n/7:/var/snap/n/common::$"
    )
    assert go_expand("a${}b${c", lambda name: name.upper()) == "abc"  # "${" is eaten
    assert go_expand("${1}$$x", lambda name: f"<{name}>") == "<1><$>x"
    assert path_variables_error("$SNAP_COMMON/$SNAP_DATA") is None
    assert path_variables_error("${SNAP}") == 'reference to unknown variable "$"'
    assert go_quote('a"b\\c\x00\n\xa0é') == '"a\\"b\\\\c\\x00\\n\\u00a0é"'
