"""Snap configuration documents, with snapd's key syntax, semantics and wording.

A snap's configuration is one JSON object (``snap get NAME``); keys address it with
dots (``a.b.c``), each part matching snapd's ``validKey``.  Setting ``null`` removes a
key.  Changes go through a :class:`Transaction` that sees its own writes and is
committed (or dropped) as a whole: ``snap set`` commits only when the configure hook
succeeds, a hook's ``snapctl set`` only when the hook does (overlord/configstate/config:
``ParseKey``, ``PatchConfig``, ``Transaction``, ``NoOptionError``).  Pure: no I/O.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from usersnap.errors import UsersnapError

_VALID_KEY = re.compile(r"^(?:[a-z0-9]+-?)*[a-z](?:-?[a-z0-9])*$")


class ConfigError(UsersnapError):
    """A key or value snapd would refuse (``invalid option name``, ``... is not a map``)."""


class NoOptionError(UsersnapError):
    kind = "option-not-found"


def no_option(snap: str, key: str) -> NoOptionError:
    if not key:
        return NoOptionError(f'snap "{snap}" has no configuration')
    return NoOptionError(f'snap "{snap}" has no "{key}" configuration option')


def parse_key(key: str) -> list[str]:
    """``a.b`` -> ``["a", "b"]``; the empty key is the whole document."""
    if key == "":
        return []
    parts = key.split(".")
    for part in parts:
        if not _VALID_KEY.match(part):
            raise ConfigError(f'invalid option name: "{part}"')
    return parts


def get(doc: Mapping[str, Any], snap: str, key: str) -> Any:
    """The value at ``key`` (a deep copy); :class:`NoOptionError` when there is none."""
    parts = parse_key(key)
    if not parts:
        if not doc:
            raise no_option(snap, "")
        return copy.deepcopy(dict(doc))
    node: Any = doc
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            raise ConfigError(f'snap "{snap}" option "{".".join(parts[:i])}" is not a map')
        if part not in node:
            raise no_option(snap, ".".join(parts[: i + 1]))
        node = node[part]
    return copy.deepcopy(node)


def set_value(doc: Mapping[str, Any], snap: str, key: str, value: Any) -> dict[str, Any]:
    """A new document with ``key`` set to ``value`` (None unsets it).

    Missing intermediate objects are created, as snapd's ``PatchConfig`` does (so
    unsetting ``a.b`` leaves an empty ``a``); an intermediate that is not an object is
    an error.  Nulls inside ``value`` are dropped.
    """
    parts = parse_key(key)
    if not parts:
        raise ConfigError("cannot set the root document")
    new = copy.deepcopy(dict(doc))
    node = new
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f'snap "{snap}" option "{".".join(parts[: i + 1])}" is not a map')
        node = child
    cleaned = _purge_nulls(copy.deepcopy(value))
    if cleaned is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = cleaned
    return new


def _purge_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in ((k, _purge_nulls(v)) for k, v in value.items())
                if v is not None}
    return value


def patch_order(patch: Mapping[str, Any]) -> list[str]:
    """snapd's ``sortPatchKeysByDepth``: ``a`` is applied before ``a.b``."""
    return sorted(patch, key=lambda k: k.count("."))


def format_json(value: Any) -> str:
    """Go's ``json.MarshalIndent(v, "", "\t")``: sorted keys, and ``<``, ``>``, ``&``,
    U+2028 and U+2029 escaped as Go's encoder does (they only occur inside strings)."""
    text = json.dumps(value, indent="\t", sort_keys=True, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


class Transaction:
    """One snap's configuration being changed; reads see the writes made so far.

    The writes are kept and replayed onto the configuration current at commit time
    (:meth:`commit_onto`), as snapd's Transaction.Commit applies its changes to the
    pristine state of that moment: two contexts changing different keys both win.
    """

    def __init__(self, snap: str, pristine: Mapping[str, Any]) -> None:
        self.snap = snap
        self.doc = copy.deepcopy(dict(pristine))
        self._writes: list[tuple[str, Any]] = []

    @property
    def changed(self) -> bool:
        return bool(self._writes)

    def get(self, key: str) -> Any:
        return get(self.doc, self.snap, key)

    def set(self, key: str, value: Any) -> None:
        self.doc = set_value(self.doc, self.snap, key, value)
        self._writes.append((key, copy.deepcopy(value)))

    def patch(self, values: Mapping[str, Any]) -> None:
        for key in patch_order(values):
            self.set(key, values[key])

    def commit_onto(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """``current`` with this transaction's writes applied, in order."""
        doc = dict(current)
        for key, value in self._writes:
            try:
                doc = set_value(doc, self.snap, key, value)
            except ConfigError:
                # what changed under us made this write impossible: it loses
                continue
        return doc
