"""snapd 2.57.6's plug/slot sanitizing (``interfaces/builtin``: ``SanitizePlugsSlots``).

snapd drops, at read time, every plug or slot whose interface it does not know, whose
name is invalid or whose attributes its interface rejects; they never reach validation
and only show up in the "has bad plugs or slots" notice.  The per-interface attribute
rules are reproduced for ``content`` and ``dbus``, the two interfaces whose attributes
matter to usersnap (content sharing, D-Bus activation), and for the other interfaces
with attribute rules as far as they decide whether a plug or slot survives (required
attributes, their types, device path patterns); the finer custom-device, shared-memory
and posix-mq path rules are not reproduced.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from usersnap.meta.gostd import go_clean, go_format_value, go_quote
from usersnap.meta.naming import NamingError, validate_plug_name, validate_slot_name

#: The interfaces 2.57.6's ``snap pack`` knows (interfaces/builtin, 177 of them).
_KNOWN = """
account-control accounts-service acrn-support adb-support allegro-vcu alsa appstream-metadata
audio-playback audio-record autopilot-introspection avahi-control avahi-observe block-devices
bluetooth-control bluez bool-file broadcom-asic-control browser-support calendar-service camera
can-bus cifs-mount classic-support contacts-service content core-support cpu-control cups
cups-control custom-device daemon-notify dbus dcdbas-control desktop desktop-launch
desktop-legacy device-buttons display-control dm-crypt docker docker-support dsp dvb empty
firewall-control fpga framebuffer fuse-support fwupd gconf gpg-keys gpg-public-keys gpio
gpio-control gpio-memory-control greengrass-support gsettings hardware-observe
hardware-random-control hardware-random-observe hidraw home hostname-control hugepages-control
i2c iio intel-mei io-ports-control ion-memory-control jack1 joystick juju-client-observe
kernel-crypto-api kernel-module-control kernel-module-load kernel-module-observe
kubernetes-support kvm libvirt locale-control location-control location-observe log-observe
login-session-control login-session-observe lxd lxd-support maliit media-control media-hub
microceph microstack-support mir modem-manager mount-control mount-observe mpris
multipass-support netlink-audit netlink-connector netlink-driver network network-bind
network-control network-manager network-manager-observe network-observe network-setup-control
network-setup-observe network-status ofono online-accounts-service opengl openvswitch
openvswitch-support optical-drive packagekit-control password-manager-service personal-files
physical-memory-control physical-memory-observe pkcs11 polkit posix-mq power-control ppp
process-control ptp pulseaudio pwm qualcomm-ipc-router raw-input raw-usb raw-volume
removable-media screen-inhibit-control screencast-legacy scsi-generic sd-control serial-port
shared-memory shutdown snap-refresh-control snap-themes-control snapd-control spi ssh-keys
ssh-public-keys steam-support storage-framework-service system-backup system-files
system-observe system-packages-doc system-source-code system-trace tee thumbnailer-service
time-control timeserver-control timezone-control tpm u2f-devices ubuntu-download-manager
udisks2 uhid uinput uio unity7 unity8 unity8-calendar unity8-contacts upower-observe vcio
wayland x11 xilinx-dma
"""
KNOWN_INTERFACES = frozenset(_KNOWN.split())

_APPARMOR_CHARS = '?*[]{}^"\x00'
_BUS_NAME = r"[a-zA-Z_-][a-zA-Z0-9_-]*(\.[a-zA-Z_-][a-zA-Z0-9_-]*)+"
_SNAPPY_BUS_SUFFIX = r"-[0-9]+\Z"
_FAMILY_NAME = r"[a-z]+[a-z0-9-]*[^\-]"
_BOOL_FILE = r"/sys/class/leds/[^/]+/brightness|/sys/class/gpio/gpio[0-9]+/value"


class SanitizeError(ValueError):
    """Why snapd drops a plug or slot (the text of its "bad plugs or slots" notice)."""


class SnapInterfaces:
    """The snap's plugs and slots (name -> interface), as a sanitizer may look across them."""

    def __init__(self, snap: str, plugs: Mapping[str, str], slots: Mapping[str, str]) -> None:
        self.snap = snap
        self.plugs = plugs
        self.slots = slots


def sanitize_plug(
    snap: SnapInterfaces, name: str, interface: str, attrs: Mapping[str, object]
) -> dict[str, object]:
    """The plug's attributes after its interface's ``BeforePreparePlug``, or SanitizeError."""
    _check_known(name, interface, validate_plug_name)
    out = dict(attrs)
    rule = _PLUG_RULES.get(interface)
    if rule is not None:
        rule(_Endpoint(snap, name, out))
    return out


def sanitize_slot(
    snap: SnapInterfaces, name: str, interface: str, attrs: Mapping[str, object]
) -> dict[str, object]:
    """The slot's attributes after its interface's ``BeforePrepareSlot``, or SanitizeError."""
    _check_known(name, interface, validate_slot_name)
    out = dict(attrs)
    rule = _SLOT_RULES.get(interface)
    if rule is not None:
        rule(_Endpoint(snap, name, out))
    return out


class _Endpoint:
    """What an interface's sanitizer sees: the snap, the name and mutable attributes."""

    def __init__(self, snap: SnapInterfaces, name: str, attrs: dict[str, object]) -> None:
        self.snap = snap.snap
        self.others = snap
        self.name = name
        self.attrs = attrs

    @property
    def ref(self) -> str:
        return go_quote(f"{self.snap}:{self.name}")

    def int_attr(self, key: str) -> int | None:
        value = self.attrs.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def str_attr(self, key: str) -> str | None:
        value = self.attrs.get(key)
        return value if isinstance(value, str) else None


def _content_plug(plug: _Endpoint) -> None:
    _default_attr(plug, "content")
    target = plug.str_attr("target")
    if not target:
        raise SanitizeError("content plug must contain target path")
    _check_content_path(target)


def _content_slot(slot: _Endpoint) -> None:
    _default_attr(slot, "content")
    if "source" in slot.attrs:
        for key in ("read", "write"):
            if key in slot.attrs:
                raise SanitizeError(f'move the "{key}" attribute into the "source" section')
    paths = _content_paths(slot.attrs, "read") + _content_paths(slot.attrs, "write")
    if not paths:
        raise SanitizeError("read or write path must be set")
    for path in paths:
        _check_content_path(path)


def _default_attr(endpoint: _Endpoint, key: str) -> None:
    """content / shared-memory / posix-mq / custom-device default to the endpoint name."""
    if not endpoint.str_attr(key):
        endpoint.attrs[key] = endpoint.name


def _dbus(endpoint: _Endpoint) -> None:
    bus = endpoint.str_attr("bus")
    if bus is None:
        raise SanitizeError("cannot find attribute 'bus'")
    if bus not in ("session", "system"):
        raise SanitizeError(f"bus '{bus}' must be one of 'session' or 'system'")
    name = endpoint.str_attr("name")
    if name is None:
        raise SanitizeError("cannot find attribute 'name'")
    _check_bus_name(name)
    if re.search(_SNAPPY_BUS_SUFFIX, name):
        raise SanitizeError("DBus bus name must not end with -NUMBER")


def _check_bus_name(name: str) -> None:
    """``interfaces.ValidateDBusBusName``."""
    if not name:
        raise SanitizeError("DBus bus name must be set")
    if len(name.encode()) > 255:
        raise SanitizeError("DBus bus name is too long (must be <= 255)")
    if not re.fullmatch(_BUS_NAME, name):
        raise SanitizeError(f"invalid DBus bus name: {go_quote(name)}")


def _bool_attr(key: str, what: str) -> Callable[[_Endpoint], None]:
    def rule(plug: _Endpoint) -> None:
        if key in plug.attrs and not isinstance(plug.attrs[key], bool):
            raise SanitizeError(what)

    return rule


def _common_files(interface: str) -> Callable[[_Endpoint], None]:
    """personal-files / system-files: ``read``/``write`` lists of clean paths."""

    def check_path(path: str) -> None:
        if path.endswith("/"):
            raise SanitizeError(f'{go_quote(path)} cannot end with "/"')
        if go_clean(path) != path:
            raise SanitizeError(f"cannot use {go_quote(path)}: try {go_quote(go_clean(path))}")
        if "~" in path:
            raise SanitizeError(f'{go_quote(path)} cannot contain "~"')
        _check_no_apparmor(path)
        if interface == "personal-files":
            if not path.startswith("$HOME/"):
                raise SanitizeError(f'{go_quote(path)} must start with "$HOME/"')
            if path.count("$HOME") > 1:
                raise SanitizeError(
                    f"$HOME must only be used at the start of the path of {go_quote(path)}"
                )
        else:
            if not path.startswith("/"):
                raise SanitizeError(f'{go_quote(path)} must start with "/"')
            if "$HOME" in path:
                raise SanitizeError(f"$HOME cannot be used in {go_quote(path)}")

    def rule(plug: _Endpoint) -> None:
        found = False
        for key in ("read", "write"):
            if key not in plug.attrs:
                continue
            paths = plug.attrs[key]
            if not isinstance(paths, list):
                raise SanitizeError(
                    f"cannot add {interface} plug: {go_quote(key)} must be a list of strings"
                )
            for path in paths:
                if not isinstance(path, str):
                    raise SanitizeError(
                        f"cannot add {interface} plug: {go_quote(key)} must be a list of strings"
                    )
                try:
                    check_path(path)
                except SanitizeError as err:
                    raise SanitizeError(f"cannot add {interface} plug: {err}") from None
            found = True
        if not found:
            raise SanitizeError(
                f'cannot add {interface} plug: needs valid "read" or "write" attribute'
            )

    return rule


def _home(plug: _Endpoint) -> None:
    if "read" in plug.attrs and plug.attrs["read"] != "all":
        raise SanitizeError("home plug requires \"read\" be 'all'")


def _kubernetes(plug: _Endpoint) -> None:
    flavors = ("kubelet", "kubeproxy", "autobind-unix")
    if "flavor" in plug.attrs and plug.attrs["flavor"] not in flavors:
        raise SanitizeError(
            'kubernetes-support plug requires "flavor" to be either "kubelet", "kubeproxy" '
            'or "autobind-unix"'
        )


def _polkit(plug: _Endpoint) -> None:
    if "action-prefix" not in plug.attrs:
        raise SanitizeError(
            f'snap {go_quote(plug.snap)} does not have attribute "action-prefix" '
            'for interface "polkit"'
        )
    prefix = plug.str_attr("action-prefix")
    if prefix is None:
        raise SanitizeError(
            f'snap {go_quote(plug.snap)} has interface "polkit" with invalid value type '
            f'{_go_attr_type(plug.attrs["action-prefix"])} for "action-prefix" attribute: *string'
        )
    try:
        _check_bus_name(prefix)
    except SanitizeError:
        raise SanitizeError(f"plug has invalid action-prefix: {go_quote(prefix)}") from None


def _family_name(endpoint: _Endpoint, side: str) -> None:
    if "family-name" not in endpoint.attrs:
        raise SanitizeError(f"netlink-driver {side} must have a family-name attribute")
    name = endpoint.str_attr("family-name")
    if name is None:
        raise SanitizeError(f"netlink-driver {side} family-name attribute must be a string")
    if not re.fullmatch(_FAMILY_NAME, name):
        raise SanitizeError(f"netlink-driver {side} family-name {go_quote(name)} is invalid")


def _netlink_slot(slot: _Endpoint) -> None:
    if "family" not in slot.attrs:
        raise SanitizeError("netlink-driver slot must have a family number attribute")
    if slot.int_attr("family") is None:
        raise SanitizeError("netlink-driver slot family number attribute must be an int")
    _family_name(slot, "slot")


def _snapd_control(plug: _Endpoint) -> None:
    schedule = plug.str_attr("refresh-schedule")
    if schedule is not None and schedule != "managed":
        raise SanitizeError(f"unsupported refresh-schedule value: {go_quote(schedule)}")


def _named_string(interface: str, key: str) -> Callable[[_Endpoint], None]:
    """shared-memory / posix-mq plugs: an optional string attribute defaulting to the name."""

    def rule(endpoint: _Endpoint) -> None:
        if key in endpoint.attrs and endpoint.str_attr(key) is None:
            raise SanitizeError(
                f"{interface} {go_quote(key)} attribute must be a string, "
                f"not {go_format_value(endpoint.attrs[key])}"
            )
        _default_attr(endpoint, key)

    return rule


def _device_path(
    interface: str, pattern: str, symlink: str = "", usb_keys: tuple[str, ...] = ()
) -> Callable[[_Endpoint], None]:
    """serial-port / hidraw / iio style slots: a ``path`` to a device node, or with USB
    ids a udev symlink location."""

    def rule(slot: _Endpoint) -> None:
        path = slot.str_attr("path")
        if not path:
            what = "slots" if interface == "hidraw" else "slot"
            raise SanitizeError(f"{interface} {what} must have a path attribute")
        path = go_clean(path)
        if usb_keys and any(slot.int_attr(key) is not None for key in usb_keys):
            if not re.fullmatch(symlink, path):
                raise SanitizeError(
                    f"{interface} path attribute specifies invalid symlink location"
                )
            vendor, product = slot.int_attr("usb-vendor"), slot.int_attr("usb-product")
            if vendor is None:
                raise SanitizeError(f"{interface} slot failed to find usb-vendor attribute")
            if not 0x1 <= vendor <= 0xFFFF:
                raise SanitizeError(f"{interface} usb-vendor attribute not valid: {vendor}")
            if product is None:
                raise SanitizeError(f"{interface} slot failed to find usb-product attribute")
            if not 0 <= product <= 0xFFFF:
                raise SanitizeError(f"{interface} usb-product attribute not valid: {product}")
            number = slot.int_attr("usb-interface-number")
            if "usb-interface-number" in usb_keys and number is not None and not 0 <= number < 32:
                raise SanitizeError(
                    f"{interface} usb-interface-number attribute cannot be negative or larger "
                    "than 31"
                )
        elif not re.fullmatch(pattern, path):
            raise SanitizeError(f"{interface} path attribute must be a valid device node")

    return rule


def _verified_path(pattern: str, invalid: str) -> Callable[[_Endpoint], None]:
    """raw-volume / uio / spi: ``verifySlotPathAttribute``."""

    def rule(slot: _Endpoint) -> None:
        path = slot.str_attr("path")
        if not path:
            raise SanitizeError(f"slot {slot.ref} must have a path attribute")
        clean = go_clean(path)
        if invalid == "spi":
            if not re.fullmatch(pattern, clean):
                raise SanitizeError(f"{go_quote(clean)} is not a valid SPI device")
            return
        if clean != path:
            raise SanitizeError(
                f'cannot use slot {slot.ref} path {go_quote(path)}: try {go_quote(clean)}"'
            )
        if not re.fullmatch(pattern, clean):
            raise SanitizeError(f"slot {slot.ref} path attribute must be a valid {invalid}")

    return rule


def _bool_file(slot: _Endpoint) -> None:
    path = slot.str_attr("path")
    if not path:
        raise SanitizeError("bool-file must contain the path attribute")
    if not re.fullmatch(_BOOL_FILE, go_clean(path)):
        raise SanitizeError("bool-file can only point at LED brightness or GPIO value")


def _int_attrs(interface: str, *keys: str) -> Callable[[_Endpoint], None]:
    """gpio / pwm: required integer attributes."""

    def rule(slot: _Endpoint) -> None:
        for key in keys:
            if key not in slot.attrs:
                raise SanitizeError(f"{interface} slot must have a {key} attribute")
            if slot.int_attr(key) is None:
                raise SanitizeError(f"{interface} slot {key} attribute must be an int")

    return rule


def _i2c(slot: _Endpoint) -> None:
    sysfs_name = slot.str_attr("sysfs-name")
    if sysfs_name is not None:
        if not re.fullmatch(r"[a-zA-Z0-9_-]+", sysfs_name):
            raise SanitizeError("i2c sysfs-name attribute must be a valid sysfs-name")
        if slot.str_attr("path") is not None:
            raise SanitizeError("i2c slot can only use path or sysfs-name")
        return
    path = slot.str_attr("path")
    if not path:
        raise SanitizeError("i2c slot must have a path or sysfs-name attribute")
    if not re.fullmatch(r"/dev/i2c-[0-9]+", go_clean(path)):
        raise SanitizeError("i2c path attribute must be a valid device node")


def _pkcs11(slot: _Endpoint) -> None:
    if "pkcs11-socket" not in slot.attrs:
        raise SanitizeError('cannot use pkcs11 slot without "pkcs11-socket" attribute')
    path = slot.str_attr("pkcs11-socket")
    if path is None:
        raise SanitizeError(
            'pkcs11 slot "pkcs11-socket" attribute must be a string, '
            f"not {go_format_value(slot.attrs['pkcs11-socket'])}"
        )
    if not _clean_sub_path(path):
        raise SanitizeError(f"pkcs11 unix socket path is not clean: {go_quote(path)}")
    if go_clean(path[: path.rfind("/") + 1] or ".") != "/run/p11-kit":
        raise SanitizeError(
            f"pkcs11 unix socket has to be in the /run/p11-kit directory: {go_quote(path)}"
        )
    try:
        _check_no_apparmor(path)
    except SanitizeError as err:
        raise SanitizeError(f"pkcs11 unix socket path is invalid: {err}") from None


def _go_attr_type(value: object) -> str:
    """Go's ``%T`` of a normalized attribute value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _shared_memory_plug(plug: _Endpoint) -> None:
    if "private" in plug.attrs and not isinstance(plug.attrs["private"], bool):
        raise SanitizeError(
            'shared-memory "private" attribute must be a bool, '
            f"not {go_format_value(plug.attrs['private'])}"
        )
    private = plug.attrs.get("private") is True
    plug.attrs["private"] = private
    is_set = "shared-memory" in plug.attrs
    if is_set and plug.str_attr("shared-memory") is None:
        raise SanitizeError(
            'shared-memory "shared-memory" attribute must be a string, '
            f"not {go_format_value(plug.attrs['shared-memory'])}"
        )
    if not private:
        _default_attr(plug, "shared-memory")
        return
    if is_set:
        raise SanitizeError(
            'shared-memory "shared-memory" attribute must not be set together with "private: true"'
        )
    if any(n != plug.name and i == "shared-memory" for n, i in plug.others.plugs.items()):
        raise SanitizeError(
            'shared-memory plug with "private: true" set cannot be used with other '
            "shared-memory plugs"
        )
    if "shared-memory" in plug.others.slots.values():
        raise SanitizeError(
            'shared-memory plug with "private: true" set cannot be used with shared-memory slots'
        )


def _mpris(slot: _Endpoint) -> None:
    for key, value in slot.attrs.items():
        if key != "name":
            raise SanitizeError(f"unknown attribute '{key}'")
        if not isinstance(value, str):
            raise SanitizeError(f"name element {go_format_value(value)} is not a string")
        if not re.fullmatch(r"[a-zA-Z0-9_-]*", value):
            raise SanitizeError(f"invalid name element: {go_quote(value)}")


def _required_any(message: str, *keys: str) -> Callable[[_Endpoint], None]:
    """Slots that need at least one of some attributes (checked no further here:
    custom-device, shared-memory, posix-mq)."""

    def rule(slot: _Endpoint) -> None:
        if not any(slot.attrs.get(key) for key in keys):
            raise SanitizeError(message)

    return rule


def _all_of(*rules: Callable[[_Endpoint], None]) -> Callable[[_Endpoint], None]:
    def rule(endpoint: _Endpoint) -> None:
        for each in rules:
            each(endpoint)

    return rule


def _check_no_apparmor(path: str) -> None:
    if any(char in _APPARMOR_CHARS for char in path):
        raise SanitizeError(
            f"{go_quote(path)} contains a reserved apparmor char from {_APPARMOR_CHARS}"
        )


def _clean_sub_path(path: str) -> bool:
    return go_clean(path) == path and path != ".." and not path.startswith("../")


def _check_known(name: str, interface: str, validate_name: Callable[[str], None]) -> None:
    if interface not in KNOWN_INTERFACES:
        raise SanitizeError(f"unknown interface {go_quote(interface)}")
    try:
        validate_name(name)
    except NamingError as err:
        raise SanitizeError(str(err)) from None


def _content_paths(attrs: Mapping[str, object], key: str) -> list[str]:
    """content's ``path``: ``source.<key>`` if ``source`` is a map, else legacy ``<key>``;
    any non-list or non-string entry means no paths at all."""
    source = attrs.get("source")
    paths = source.get(key) if isinstance(source, dict) else attrs.get(key)
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        return []
    return list(paths)


def _check_content_path(path: str) -> None:
    try:
        _check_no_apparmor(path)
    except SanitizeError as err:
        raise SanitizeError(f"content interface path is invalid: {err}") from None
    if not _clean_sub_path(path):
        raise SanitizeError(f"content interface path is not clean: {go_quote(path)}")


_RAW_VOLUME = (
    r"/dev/(hd[a-t]([1-9]|[1-5][0-9]|6[0-3])|sd([a-z]|[a-h][a-z]|i[a-v])([1-9]|1[0-5])"
    r"|i2o/hd([a-z]|[a-c][a-z]|d[a-x])([1-9]|1[0-5])"
    r"|mmcblk([0-9]|[1-9][0-9]{1,2})p([1-9]|[1-5][0-9]|6[0-3])"
    r"|nvme([0-9]|[1-9][0-9])(n([1-9]|[1-5][0-9]|6[0-3])){0,1}p([1-9]|[1-5][0-9]|6[0-3])"
    r"|vd[a-z]([1-9]|[1-5][0-9]|6[0-3]))"
)

_PLUG_RULES: dict[str, Callable[[_Endpoint], None]] = {
    "content": _content_plug,
    "dbus": _dbus,
    "browser-support": _bool_attr(
        "allow-sandbox",
        "browser-support plug requires bool with 'allow-sandbox'",
    ),
    "desktop": _bool_attr(
        "mount-host-font-cache",
        "desktop plug requires bool with 'mount-host-font-cache'",
    ),
    "docker-support": _bool_attr(
        "privileged-containers",
        "docker-support plug requires bool with 'privileged-containers'",
    ),
    "optical-drive": _bool_attr("write", 'optical-drive "write" attribute must be a boolean'),
    "personal-files": _common_files("personal-files"),
    "system-files": _common_files("system-files"),
    "home": _home,
    "kubernetes-support": _kubernetes,
    "polkit": _polkit,
    "netlink-driver": lambda plug: _family_name(plug, "plug"),
    "snapd-control": _snapd_control,
    "posix-mq": _named_string("posix-mq", "posix-mq"),
    "shared-memory": _shared_memory_plug,
}

_SLOT_RULES: dict[str, Callable[[_Endpoint], None]] = {
    "content": _content_slot,
    "dbus": _dbus,
    "bool-file": _bool_file,
    "gpio": _int_attrs("gpio", "number"),
    "pwm": _int_attrs("pwm", "channel", "chip-number"),
    "hidraw": _device_path(
        "hidraw", r"/dev/hidraw[0-9]{1,3}", r"/dev/hidraw-[a-z0-9]+",
        ("usb-vendor", "usb-product"),
    ),
    "serial-port": _device_path(
        "serial-port", r"/dev/tty(mxc|USB|ACM|AMA|XRUSB|S|O|SC|MSM|HS|GS)[0-9]+",
        r"/dev/serial-port-[a-z0-9]+", ("usb-vendor", "usb-product", "usb-interface-number"),
    ),
    "iio": _device_path("iio", r"/dev/iio:device[0-9]+"),
    "i2c": _i2c,
    "raw-volume": _verified_path(_RAW_VOLUME, "device node"),
    "uio": _verified_path(r"/dev/uio[0-9]+", "UIO device node"),
    "spi": _verified_path(r"/dev/spidev[0-9]+\.[0-9]+", "spi"),
    "netlink-driver": _netlink_slot,
    "pkcs11": _pkcs11,
    "mpris": _mpris,
    "custom-device": _all_of(
        _named_string("custom-device", "custom-device"),
        _required_any(
            "cannot use custom-device slot without any files or devices",
            "devices", "read-devices", "files",
        ),
    ),
    "shared-memory": _all_of(
        _named_string("shared-memory", "shared-memory"),
        _required_any(
            'shared memory interface requires at least a valid "read" or "write" attribute',
            "read", "write",
        ),
    ),
    "posix-mq": _all_of(
        _named_string("posix-mq", "posix-mq"),
        _required_any('posix-mq slot requires the "path" attribute', "path"),
    ),
}


def bad_interfaces_summary(snap: str, bad: Mapping[str, str]) -> str:
    """snapd's ``BadInterfacesSummary`` (``snap pack`` prints it, still succeeding)."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in bad.items():
        by_reason.setdefault(reason, []).append(name)
    parts = [f"{', '.join(sorted(names))} ({why})" for why, names in sorted(by_reason.items())]
    return f"snap {go_quote(snap)} has bad plugs or slots: " + "; ".join(parts)
