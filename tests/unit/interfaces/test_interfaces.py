"""The pure side of interfaces: auto-connect policy, connect/disconnect resolution with
snapd's messages, and the sandbox effects of connected plugs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from usersnap.errors import InterfacesUnchanged
from usersnap.interfaces.connect import (
    InterfacesError,
    auto_connect,
    bound_plugs,
    disconnected,
    parse_conns,
    resolve_connect,
    resolve_disconnect,
    store_conns,
    without_snap,
)
from usersnap.interfaces.effects import MOUNTS, Host, plan_effects
from usersnap.interfaces.registry import INTERFACES
from usersnap.meta.parse import parse_snap_yaml
from usersnap.sandbox.ops import Bind, DevBind, RemountRo, RoBind, Tmpfs
from usersnap.seccomp.profiles import known_interfaces

CONSUMER = parse_snap_yaml(b"""\
name: app
version: '1'
plugs:
  home:
  network:
  camera:
  bt:
    interface: bluez
  dotconf:
    interface: personal-files
    read: [$HOME/.config/app]
    write: [$HOME/.app-state]
  data:
    interface: content
    content: shared
    target: $SNAP/ext
    default-provider: prov2
apps:
  a:
    command: bin/a
  b:
    command: bin/b
    plugs: [x11]
""")


def provider(name: str, read: str = "$SNAP/shared") -> bytes:
    return (f"name: {name}\nversion: '1'\nslots:\n  s:\n    interface: content\n"
            f"    content: shared\n    read: [{read}]\n").encode()


HOST = Host(snap="app", revision="x1", home="/home/u", uid=1000, mount="/run/us/snap",
            data="/home/u/.local/share/usersnap/data",
            host_env={"XDG_RUNTIME_DIR": "/run/user/1000", "WAYLAND_DISPLAY": "wayland-0"},
            home_view=True, home_hidden_dirs=(".ssh", ".config"),
            video_devices=("/dev/video0",))


def test_every_interface_is_defined_once_with_a_seccomp_snippet() -> None:
    assert set(INTERFACES) == set(MOUNTS)
    assert set(INTERFACES) <= set(known_interfaces())


def test_auto_connect_follows_the_base_declaration() -> None:
    conns = auto_connect("app", {"app": CONSUMER}, [])
    assert sorted(c.key for c in conns) == [
        "app:home snapd:home", "app:network snapd:network", "app:x11 snapd:x11"]
    assert all(c.auto for c in conns)
    # an undesired (user-disconnected) auto connection is not made again
    gone = disconnected(conns, [conns[0]], forget=False)
    assert gone[0].undesired
    assert auto_connect("app", {"app": CONSUMER}, gone) == []
    assert disconnected(conns, [conns[0]], forget=True) == conns[1:]


def test_content_prefers_the_default_provider_and_connects_later_providers() -> None:
    infos = {"app": CONSUMER, "prov1": parse_snap_yaml(provider("prov1")),
             "prov2": parse_snap_yaml(provider("prov2"))}
    keys = {c.key for c in auto_connect("app", infos, [])}
    assert "app:data prov2:s" in keys and "app:data prov1:s" not in keys
    # a provider installed after the consumer connects to its unconnected plug
    only = {"app": CONSUMER, "prov1": parse_snap_yaml(provider("prov1"))}
    assert [c.key for c in auto_connect("prov1", only, [])] == ["app:data prov1:s"]


def test_resolve_connect_errors_are_snapds() -> None:
    infos = {"app": CONSUMER}
    assert resolve_connect(infos, "app", "camera", "", "").key == "app:camera snapd:camera"
    cases = [
        (("app", "nope", "", ""), 'snap "app" has no plug named "nope"'),
        (("app", "camera", "other", ""), 'snap "other" is not installed'),
        (("app", "bt", "", ""), 'snap "snapd" has no "bluez" interface slots'),
        (("app", "home", "system", "zzz"), 'snap "snapd" has no slot named "zzz"'),
        (("app", "home", "core", "network"),
         'cannot connect app:home ("home" interface) to snapd:network ("network" interface)'),
    ]
    for refs, message in cases:
        with pytest.raises(InterfacesError) as err:
            resolve_connect(infos, *refs)
        assert str(err.value) == message


def test_resolve_disconnect() -> None:
    infos = {"app": CONSUMER}
    conns = auto_connect("app", infos, [])
    assert [c.key for c in resolve_disconnect(infos, conns, "app", "home", "", "")] == [
        "app:home snapd:home"]
    with pytest.raises(InterfacesUnchanged):
        resolve_disconnect(infos, conns, "app", "camera", "", "")
    with pytest.raises(InterfacesError, match="it is not connected"):
        resolve_disconnect(infos, conns, "app", "camera", "snapd", "camera")
    assert without_snap(conns, "app") == []


def test_conns_round_trip_through_state_json() -> None:
    conns = auto_connect("app", {"app": CONSUMER}, [])
    assert parse_conns(store_conns(conns)) == sorted(conns, key=lambda c: c.key)


def test_effects_of_connected_plugs() -> None:
    conns = [*auto_connect("app", {"app": CONSUMER}, []),
             resolve_connect({"app": CONSUMER}, "app", "dotconf", "", ""),
             resolve_connect({"app": CONSUMER}, "app", "camera", "", "")]
    plugs = CONSUMER.plugs
    app_a = plan_effects(conns, bound_plugs(CONSUMER, CONSUMER.apps["a"]), plugs, HOST)
    assert app_a.interfaces == {"home", "network", "personal-files", "camera"}
    assert app_a.share_net
    # in the home view, hidden directories are placeholders: a tmpfs for what goes below
    assert app_a.ops == (
        DevBind("/dev/video0", "/dev/video0", optional=True),
        Tmpfs("/home/u/.config", 0o755),
        RoBind("/home/u/.config/app", "/home/u/.config/app", optional=True),
        Bind("/home/u/.app-state", "/home/u/.app-state", optional=True),
        RemountRo("/home/u/.config"),
    )
    # a tmpfs $HOME (no view) needs none; nor does a $HOME the snap does not get
    tmpfs_home = plan_effects(conns, bound_plugs(CONSUMER, CONSUMER.apps["a"]), plugs,
                              replace(HOST, home_view=False))
    assert Tmpfs("/home/u/.config", 0o755) not in tmpfs_home.ops
    no_home = plan_effects([c for c in conns if c.interface != "home"],
                           bound_plugs(CONSUMER, CONSUMER.apps["a"]), plugs, HOST)
    assert Tmpfs("/home/u/.config", 0o755) not in no_home.ops
    assert app_a.notices == (
        'plug "bt" ("bluez" interface) is not supported by usersnap and stays disconnected',)
    # x11 is plugged by app b only
    app_b = plan_effects(conns, bound_plugs(CONSUMER, CONSUMER.apps["b"]), plugs, HOST)
    assert "x11" in app_b.interfaces
    nothing = plan_effects([], bound_plugs(CONSUMER, CONSUMER.apps["a"]), plugs, HOST)
    assert not nothing.share_net and nothing.ops == ()


def test_content_mounts_the_providers_current_revision() -> None:
    infos = {"app": CONSUMER, "prov2": parse_snap_yaml(provider("prov2"))}
    conns = auto_connect("app", infos, [])
    ops = plan_effects(conns, ["data"], CONSUMER.plugs, HOST).ops
    assert ops == (RoBind("/run/us/snap/prov2/current/shared", "/snap/app/x1/ext"),)
