"""snapd's naming rules (``snap/naming``, ``snap/validate.go``, ``snap/epoch.go``,
``snap/revision.go``, ``snap/hooktypes.go``) with snapd's exact messages.

Go's regexps match whole ASCII strings here (``$`` is end of text, so every pattern is
used with ``fullmatch``), and lengths are byte counts.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence

from usersnap.meta.gostd import (
    GoNumError,
    go_parse_int,
    go_parse_uint,
    go_quote,
    go_quote_ascii,
    go_quote_rune,
)


class NamingError(ValueError):
    """A name, version, epoch or revision snapd rejects; ``str()`` is snapd's message."""


_ALMOST_VALID_NAME = r"[a-z0-9-]*[a-z][a-z0-9-]*"
_INSTANCE_KEY = r"[a-z0-9]{1,10}"
_PLUG_SLOT_IFACE = r"[a-z](?:-?[a-z0-9])*"
_HOOK = _PLUG_SLOT_IFACE
_ALIAS = r"[a-zA-Z0-9][-_.a-zA-Z0-9]*"
_APP = r"[a-zA-Z0-9](?:-?[a-zA-Z0-9])*"
_PROVENANCE = _APP
_VERSION = r"[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?"
_SUPPORTED_HOOKS = (
    r"prepare-device|install-device|configure|install|pre-refresh|post-refresh|remove"
    r"|(?:prepare|unprepare|connect|disconnect)-(?:plug|slot)-[-a-z0-9]+"
    r"|check-health|fde-setup|gate-auto-refresh"
)
DEFAULT_PROVENANCE = "global-upload"


def _is_valid_name(name: str) -> bool:
    """Snap and socket names: lower-case letters, digits, single inner dashes, a letter."""
    return bool(re.fullmatch(_ALMOST_VALID_NAME, name)) and not (
        name[0] == "-" or name[-1] == "-" or "--" in name
    )


def validate_snap_name(name: str) -> None:
    if not 2 <= len(name.encode()) <= 40 or not _is_valid_name(name):
        raise NamingError(f"invalid snap name: {go_quote(name)}")


def validate_instance_name(instance_name: str) -> None:
    """``name`` or ``name_key`` (parallel installs)."""
    store_name, sep, key = instance_name.partition("_")
    validate_snap_name(store_name)
    if sep and not re.fullmatch(_INSTANCE_KEY, key):
        raise NamingError(f"invalid instance key: {go_quote(key)}")


def split_instance_name(instance_name: str) -> tuple[str, str]:
    name, _, key = instance_name.partition("_")
    return name, key


def validate_plug_name(name: str) -> None:
    if not re.fullmatch(_PLUG_SLOT_IFACE, name):
        raise NamingError(f"invalid plug name: {go_quote(name)}")


def validate_slot_name(name: str) -> None:
    if not re.fullmatch(_PLUG_SLOT_IFACE, name):
        raise NamingError(f"invalid slot name: {go_quote(name)}")


def validate_interface_name(name: str) -> None:
    if not re.fullmatch(_PLUG_SLOT_IFACE, name):
        raise NamingError(f"invalid interface name: {go_quote(name)}")


def validate_hook_name(name: str) -> None:
    if not re.fullmatch(_HOOK, name):
        raise NamingError(f"invalid hook name: {go_quote(name)}")


def is_supported_hook(name: str) -> bool:
    """Hook names snapd knows; others in ``hooks:`` or meta/hooks/ are silently ignored."""
    return bool(re.fullmatch(_SUPPORTED_HOOKS, name))


def validate_alias(alias: str) -> None:
    if not re.fullmatch(_ALIAS, alias):
        raise NamingError(f"invalid alias name: {go_quote(alias)}")


def validate_app_name(name: str) -> None:
    if not re.fullmatch(_APP, name):
        raise NamingError(f"invalid app name: {go_quote(name)}")


def validate_socket_name(name: str) -> None:
    if not _is_valid_name(name):
        raise NamingError(f"invalid socket name: {go_quote(name)}")


def validate_provenance(provenance: str) -> None:
    """The ``provenance:`` field; empty means the default, which may not be spelled out."""
    if not provenance:
        return
    if provenance == DEFAULT_PROVENANCE:
        raise NamingError("provenance cannot be set to default (global-upload) explicitly")
    if not re.fullmatch(_PROVENANCE, provenance):
        raise NamingError(f"invalid provenance: {go_quote(provenance)}")


# --- version ------------------------------------------------------------------------------

_INVALID_MIDDLE = r"[^a-zA-Z0-9:.+~-]+"


def validate_version(version: str) -> None:
    """``ValidateVersion``: every reason listed, the way snapd words it."""
    if re.fullmatch(_VERSION, version):
        return
    if not version:
        raise NamingError("invalid snap version: cannot be empty")
    if any(not "!" <= char <= "~" for char in version):
        raise NamingError(
            f"invalid snap version {go_quote_ascii(version)}: "
            "must be printable, non-whitespace ASCII"
        )
    reasons = []
    if len(version) > 32:
        reasons.append(f"cannot be longer than 32 characters (got: {len(version)})")
    if not version[0].isalnum():
        reasons.append(
            f"must start with an ASCII alphanumeric (and not {go_quote_rune(ord(version[0]))})"
        )
    if len(version) > 1:
        if not (version[-1].isalnum() or version[-1] in "+~"):
            reasons.append(
                "must end with an ASCII alphanumeric or one of '+' or '~' "
                f"(and not {go_quote_rune(ord(version[-1]))})"
            )
        if len(version) > 2:
            bad = re.findall(_INVALID_MIDDLE, version[1:-1])
            if bad:
                reasons.append("contains invalid characters: " + ", ".join(map(go_quote, bad)))
    quoted = go_quote(version)
    if not reasons:
        raise NamingError(f"invalid snap version {quoted}")
    if len(reasons) == 1:
        raise NamingError(f"invalid snap version {quoted}: {reasons[0]}")
    raise NamingError(
        f"invalid snap version {quoted}: {', '.join(reasons[:-1])}, and {reasons[-1]}"
    )


# --- epoch --------------------------------------------------------------------------------

Epoch = tuple[tuple[int, ...], tuple[int, ...]]
ZERO_EPOCH: Epoch = ((0,), (0,))

EPOCH_BAD_LIST = "epoch read/write attributes must be lists of epoch numbers"
_EPOCH_EMPTY = "epoch list cannot be explicitly empty"


def parse_epoch_number(text: str) -> int:
    """Base 10, no zero padding, below 2³²."""
    if not (len(text) > 1 and text[0] == "0"):
        try:
            return go_parse_uint(text, 10, 32)
        except GoNumError as err:
            if err.range_error:
                raise NamingError(
                    f"epoch numbers must be less than 2³², but got {go_quote(text)}"
                ) from None
    raise NamingError(
        f"epoch numbers must be base 10 with no zero padding, but got {go_quote(text)}"
    )


def parse_epoch(text: str) -> Epoch:
    """The short form: ``N`` or ``N*`` (also reads N-1)."""
    if text in ("", "0"):
        return ZERO_EPOCH
    star = text.endswith("*")
    number = parse_epoch_number(text[:-1] if star else text)
    if star:
        if number == 0:
            raise NamingError("0* is an invalid epoch")
        return (number - 1, number), (number,)
    return (number,), (number,)


def epoch_from_lists(read: Sequence[int] | None, write: Sequence[int] | None) -> Epoch:
    """The structured form; a missing list defaults from the other one."""
    if read is None:
        if write is None:
            write = (0,)
        read = write
    elif not read:
        raise NamingError(_EPOCH_EMPTY)
    if write is None:
        write = read[-1:]
    elif not write:
        raise NamingError(_EPOCH_EMPTY)
    epoch = (tuple(read), tuple(write))
    validate_epoch(epoch)
    return epoch


def validate_epoch(epoch: Epoch) -> None:
    read, write = epoch
    if not read or not write:
        raise NamingError(_EPOCH_EMPTY)
    if _epoch_is_zero(epoch):
        return
    if len(read) > 10 or len(write) > 10:
        raise NamingError("epoch list must not have more than 10 entries")
    if not (_increasing(read) and _increasing(write)):
        raise NamingError("epoch list must be a strictly increasing sequence")
    if not set(read) & set(write):
        raise NamingError("epoch read and write lists must have a non-empty intersection")


def epoch_string(epoch: Epoch) -> str:
    """``Epoch.String``: "0", "N", "N*" or the JSON of the lists."""
    read, write = epoch
    if _epoch_is_zero(epoch):
        return "0"
    if len(write) == 1 and len(read) == 1 and read[0] == write[0]:
        return str(read[0])
    if len(write) == 1 and len(read) == 2 and read[0] + 1 == read[1] == write[0]:
        return f"{read[1]}*"
    return json.dumps({"read": list(read), "write": list(write)}, separators=(",", ":"))


def _epoch_is_zero(epoch: Epoch) -> bool:
    return all(len(side) == 0 or side == (0,) for side in epoch)


def _increasing(numbers: Sequence[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(numbers))


# --- revision -----------------------------------------------------------------------------


def parse_revision(text: str) -> int:
    """``ParseRevision``: ``12`` is store revision 12, ``x1`` local revision 1 (as -1),
    ``unset`` is 0."""
    if text == "unset":
        return 0
    if text[:1] == "x":
        try:
            number = go_parse_int(text[1:], 10, 64)
        except GoNumError:
            number = 0
        if number > 0:
            return -number
    try:
        number = go_parse_int(text, 10, 64)
    except GoNumError:
        number = 0
    if number > 0:
        return number
    raise NamingError(f"invalid snap revision: {go_quote(text)}")


def revision_string(revision: int) -> str:
    if revision == 0:
        return "unset"
    return f"x{-revision}" if revision < 0 else str(revision)
