"""What parse_snap_yaml puts in the model (the corpus covers accept/reject)."""

from __future__ import annotations

import textwrap

import pytest

from usersnap.errors import SnapYamlError
from usersnap.meta import SnapInfo, add_implicit_hooks, parse_snap_yaml


def parse(text: str) -> SnapInfo:
    return parse_snap_yaml(textwrap.dedent(text))


def parse_error(text: str) -> str:
    with pytest.raises(SnapYamlError) as err:
        parse(text)
    return str(err.value)


def test_defaults() -> None:
    info = parse("name: probe\nversion: 1\n")
    assert (info.name, info.version, info.type, info.confinement) == ("probe", "1", "app", "strict")
    assert (info.epoch, info.architectures, info.grade, info.base) == ("0", ("all",), "stable", "")
    assert not info.apps and not info.hooks and not info.plugs and not info.layout


@pytest.mark.parametrize(("scalar", "text"), [
    ("1.10", "1.10"), ("1.0", "1.0"), ("0x1F", "0x1F"), ("yes", "yes"), ("'1.0'", "1.0"),
    ("2001-12-14", "2001-12-14"), ("~", ""), ("Null", ""), ('"~"', "~"), ("!!binary MS4w", "1.0"),
])
def test_scalars_are_their_raw_text(scalar: str, text: str) -> None:
    assert parse(f"name: probe\nversion: {scalar}\n").version == text


def test_only_the_first_document_counts() -> None:
    assert parse("name: probe\nversion: 1\n---\nname: other\n").name == "probe"


def test_type_and_name_rules() -> None:
    assert parse("name: probe\nversion: 1\ntype: application\n").type == "app"
    assert parse("name: snapd\nversion: 1\ntype: app\n").type == "snapd"
    assert parse_error("name: probe\nversion: 1\ntype: bogus\n") == (
        'cannot parse snap.yaml: invalid snap type: "bogus"'
    )


def test_type_errors_are_collected() -> None:
    assert parse_error("""\
        name: probe
        version: [1]
        apps:
          a:
            command: {x: y}
        """) == (
        "cannot parse snap.yaml: yaml: unmarshal errors:\n"
        "  line 2: cannot unmarshal !!seq into string\n"
        "  line 5: cannot unmarshal !!map into string"
    )


def test_syntax_error() -> None:
    assert parse_error("name: probe\nversion: 1\nfoo: : bar\n") == (
        "cannot parse snap.yaml: yaml: line 3: mapping values are not allowed in this context"
    )


def test_layouts_typo() -> None:
    assert parse_error("name: probe\nversion: 1\nlayouts:\n  /usr/foo:\n    bind: $SNAP/x\n") == (
        'cannot parse snap.yaml: typo detected: use singular "layout" instead of plural "layouts"'
    )


def test_plug_binding() -> None:
    info = parse("""\
        name: probe
        version: 1
        plugs:
          shared: network
          only-b: {interface: home}
        apps:
          a:
            command: bin/a
            plugs: [x11]
          b:
            command: bin/b
            plugs: [only-b]
        hooks:
          install:
        """)
    assert info.apps["a"].plugs == ("x11", "shared")
    assert info.apps["b"].plugs == ("only-b", "shared")
    assert info.hooks["install"].plugs == ("shared",)
    assert info.plugs["x11"].interface == "x11"
    assert info.plugs["x11"].scoped and info.plugs["only-b"].scoped
    assert not info.plugs["shared"].scoped


def test_activates_on_scopes_the_slot() -> None:
    info = parse("""\
        name: probe
        version: 1
        slots:
          svc: {interface: dbus, bus: system, name: org.example.Probe}
          other: {interface: mpris}
        apps:
          d:
            command: bin/d
            daemon: simple
            activates-on: [svc]
          e:
            command: bin/e
        """)
    assert info.apps["d"].activates_on == ("svc",)
    assert info.apps["d"].slots == ("svc", "other")
    assert info.apps["e"].slots == ("other",)
    assert info.apps["d"].daemon_scope == "system"


def test_bad_plugs_and_slots_are_dropped() -> None:
    info = parse("""\
        name: probe
        version: 1
        plugs:
          Bad: network
          themes: {interface: content, target: $SNAP/themes}
          lost: {interface: content}
        apps:
          a:
            command: bin/a
            plugs: [bogus, themes]
        """)
    assert set(info.plugs) == {"themes"}
    assert info.plugs["themes"].attrs == {"target": "$SNAP/themes", "content": "themes"}
    assert info.apps["a"].plugs == ("themes",)
    assert info.bad_interfaces == {
        "Bad": 'invalid plug name: "Bad"',
        "bogus": 'unknown interface "bogus"',
        "lost": "content plug must contain target path",
    }


def test_plug_attributes_are_normalized() -> None:
    info = parse("""\
        name: probe
        version: 1
        plugs:
          p: {interface: network, num: 1, flt: 1.5, bool: yes, list: [a, 2], map: {k: v}}
        """)
    assert info.plugs["p"].attrs == {
        "num": 1, "flt": 1.5, "bool": True, "list": ["a", 2], "map": {"k": "v"}
    }
    assert parse_error("name: probe\nversion: 1\nplugs:\n  p: {a: ~}\n") == (
        'attribute "a" of plug "p": invalid scalar: <nil>'
    )
    # yaml.v2 reads the key n as the boolean false, as snapd does
    assert parse_error("name: probe\nversion: 1\nplugs:\n  p: {n: 1}\n") == (
        'plug "p" has attribute key that is not a string (found bool)'
    )


def test_environment_keeps_order_and_refuses_duplicates() -> None:
    info = parse("""\
        name: probe
        version: 1
        environment:
          B: 1
          A: $B-x
        apps:
          a:
            command: bin/a
            environment: {Z: true}
        """)
    assert info.environment == (("B", "1"), ("A", "$B-x"))
    assert info.apps["a"].environment == (("Z", "true"),)
    assert parse_error("name: probe\nversion: 1\nenvironment: {A: 1, A: 2}\n") == (
        'cannot parse snap.yaml: found duplicate key "A"'
    )


def test_service_fields() -> None:
    app = parse("""\
        name: probe
        version: 1
        apps:
          d:
            command: bin/d
            daemon: simple
            restart-condition: never
            stop-timeout: 1m30s
            timer: mon,10:00
            sockets:
              sock:
                listen-stream: $SNAP_DATA/sock
                socket-mode: 0660
        """).apps["d"]
    assert (app.restart_condition, app.stop_timeout, app.timer) == ("no", "1m30s", "mon,10:00")
    assert app.sockets["sock"] == {"listen-stream": "$SNAP_DATA/sock", "socket-mode": 0o660}
    assert app.is_service
    assert parse_error("name: p\nversion: 1\napps:\n  a:\n    stop-timeout: 10\n") == (
        'cannot parse snap.yaml: time: missing unit in duration "10"'
    )


def test_layout_entries() -> None:
    info = parse("""\
        name: probe
        version: 1
        layout:
          /usr/share/foo:
            bind: $SNAP/foo
          /var/tmp/x:
            type: tmpfs
            mode: 1777
            user: root
        """)
    foo, tmp = info.layout["/usr/share/foo"], info.layout["/var/tmp/x"]
    assert (foo.bind, foo.user, foo.group, foo.mode) == ("$SNAP/foo", "root", "root", 0o755)
    assert (tmp.type, tmp.mode) == ("tmpfs", 0o1777)
    assert parse_error("name: p\nversion: 1\nlayout:\n  /x:\n    mode: 0799\n") == (
        'strconv.ParseUint: parsing "0799": invalid syntax'
    )


@pytest.mark.parametrize(("epoch", "text"), [
    ("1", "1"), ("2*", "2*"), ("'0'", "0"), ("{read: [1, 2], write: [2]}", "2*"),
    ("{read: [1, 2, 3], write: [1, 3]}", '{"read":[1,2,3],"write":[1,3]}'),
])
def test_epoch(epoch: str, text: str) -> None:
    assert parse(f"name: probe\nversion: 1\nepoch: {epoch}\n").epoch == text


def test_misc_fields() -> None:
    info = parse("""\
        name: probe
        version: 1
        assumes: [snapd2.55, command-chain]
        architectures: [amd64]
        system-usernames: {snap_daemon: shared}
        links: {website: [https://example.com]}
        provenance: my-prov
        apps:
          a:
            command: bin/a
            aliases: [pa]
        """)
    assert info.assumes == ("command-chain", "snapd2.55")
    assert info.architectures == ("amd64",)
    assert info.system_usernames == {"snap_daemon": "shared"}
    assert info.links == {"website": ("https://example.com",)}
    assert info.provenance == "my-prov"
    assert info.apps["a"].aliases == ("pa",)


def test_unsupported_hooks_are_ignored() -> None:
    info = parse("name: probe\nversion: 1\nhooks:\n  bogus:\n  configure:\n")
    assert list(info.hooks) == ["configure"]
    assert info.hooks["configure"].explicit


def test_implicit_hooks() -> None:
    text = """\
        name: probe
        version: 1
        plugs:
          net: network
        apps:
          a:
            command: bin/a
            plugs: [home]
        hooks:
          configure:
            plugs: [home]
        """
    info = parse(text)
    names = ["install", "configure", "not-a-hook", "connect-plug-net"]
    with_hooks = add_implicit_hooks(info, names)
    assert sorted(with_hooks.hooks) == ["configure", "connect-plug-net", "install"]
    install = with_hooks.hooks["install"]
    assert not install.explicit
    assert install.plugs == ("net",)
    assert with_hooks.hooks["configure"] == info.hooks["configure"]
    assert parse_snap_yaml(textwrap.dedent(text), hook_names=names) == with_hooks
    assert add_implicit_hooks(info, ["configure"]) is info
