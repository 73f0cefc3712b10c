"""gopkg.in/yaml.v2 (v2.4.0) decoding semantics on top of libyaml's event stream.

snapd reads snap.yaml with ``yaml.Unmarshal`` into typed Go structs.  What that accepts
is not what PyYAML's constructor accepts: every scalar may land in a string field as
its raw text (``version: 1.10`` is "1.10"), only the first document counts, unknown keys
are never looked at, anchors may be redefined, type mismatches are collected as
``line N: cannot unmarshal !!seq into string`` and reported together, while custom
unmarshalers (snap type, epoch, environment...) abort at once.  This module composes
nodes the way yaml.v2's parser does (libyaml is the same scanner, so syntax errors
match) and decodes them against small descriptions of snapd's Go types.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from usersnap.meta.gostd import (
    GoNumError,
    go_format_value,
    go_parse_float,
    go_parse_int,
    go_parse_uint,
    go_quote,
)

_Parser: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)

LONG = "tag:yaml.org,2002:"
STR, BINARY, BOOL = LONG + "str", LONG + "binary", LONG + "bool"
INT, FLOAT, NULL, TIMESTAMP = LONG + "int", LONG + "float", LONG + "null", LONG + "timestamp"
SEQ, MAP, MERGE = LONG + "seq", LONG + "map", LONG + "merge"
_RESOLVABLE = frozenset(("", STR, BOOL, INT, FLOAT, NULL, TIMESTAMP))

SCALAR, SEQUENCE, MAPPING, ALIAS = "scalar", "sequence", "mapping", "alias"


class GoYamlError(Exception):
    """A decoding failure with yaml.v2's / snapd's text (without "cannot parse snap.yaml: ")."""


class InnerTypeErrors(Exception):
    """Type errors raised out of a custom unmarshaler's inner ``unmarshal`` call."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors)
        self.errors = errors


class GoUint64(int):
    """An integer yaml.v2 resolves to ``uint64`` (too big for int64)."""


class GoMap:
    """A ``map[interface{}]interface{}``: keys of different Go types never collide."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, object], tuple[object, object]] = {}

    def set(self, key: object, value: object) -> None:
        self._items[(type(key).__name__, key)] = (key, value)

    def items(self) -> list[tuple[object, object]]:
        return list(self._items.values())

    def copy(self) -> GoMap:
        new = GoMap()
        new._items = dict(self._items)
        return new


class Node:
    """yaml.v2's ``node``: kind, explicit tag, raw text, ``implicit`` (plain and untagged)."""

    __slots__ = ("alias", "children", "implicit", "kind", "line", "tag", "value")

    def __init__(self, kind: str, line: int, tag: str = "", value: str = "",
                 implicit: bool = False, alias: Node | None = None) -> None:
        self.kind = kind
        self.line = line
        self.tag = tag
        self.value = value
        self.implicit = implicit
        self.children: list[Node] = []
        self.alias = alias


# --- composing ----------------------------------------------------------------------------
#
# PyYAML's C parser is libyaml 0.2.5; yaml.v2 is a Go port of libyaml 0.1.  Their scanners
# differ in a few corners: 0.2 refuses "x:" right before , ? [ ] { } in a flow collection
# (0.1 keeps the colon in the scalar), 0.2 allows "?" inside a flow plain scalar (0.1 ends
# the scalar there, which always leads to a parse error), 0.2 refuses the escape \' in
# double quotes (0.1 reads a quote) and "," "[" "]" in a tag (0.1 keeps them).  We let
# libyaml 0.2 parse, patch the source where it refuses what 0.1 takes, and fail where 0.1
# would.

_COLON = "\ue000"  # stands for a ":" 0.2 refuses, inside a plain scalar
_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def compose(data: bytes | str) -> Node | None:
    """The first document's root node (None for an empty stream), as yaml.v2 builds it."""
    if not data:
        data = "\n"
    text = _decode(data)
    for _ in range(1000):
        try:
            return _Composer(data if text is None else text, text).first_document()
        except yaml.MarkedYAMLError as err:
            patched = _patch_for_libyaml_01(text, err)
            if patched is None:
                raise GoYamlError(_syntax_message(err)) from None
            text = patched
        except yaml.reader.ReaderError as err:
            raise GoYamlError("yaml: " + err.reason) from None
        except yaml.YAMLError as err:  # pragma: no cover - libyaml reports the kinds above
            raise GoYamlError(f"yaml: {err}") from None
    raise GoYamlError("yaml: document too irregular")  # pragma: no cover


def _decode(data: bytes | str) -> str | None:
    """The text libyaml reads, when we can patch it (UTF-8 input)."""
    if isinstance(data, str):
        return None if _COLON in data else data
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if _COLON in text else text


def _offset(text: str, line: int, column: int) -> int:
    """Where libyaml's (line, column) mark points into ``text``."""
    start = 0
    for _ in range(line):
        found = _BREAKS.search(text, start)
        if found is None:
            return len(text)
        start = found.end()
    return start + column


def _patch_for_libyaml_01(text: str | None, err: yaml.MarkedYAMLError) -> str | None:
    mark = err.problem_mark
    if text is None or mark is None or not isinstance(err, yaml.scanner.ScannerError):
        return None
    at = _offset(text, mark.line, mark.column)
    if err.problem == "found unexpected ':'" and text[at : at + 1] == ":":
        return text[:at] + _COLON + text[at + 1 :]
    if err.problem == "found unknown escape character" and text[at : at + 2] == "\\'":
        return text[:at] + text[at + 1 :]
    if err.context == "while scanning a tag" and text[at : at + 1] in (",", "[", "]"):
        return text[:at] + f"%{ord(text[at]):02X}" + text[at + 1 :]  # 0.1 keeps them in tags
    return None


class _Composer:
    """Builds yaml.v2's node tree from libyaml's events for the first document."""

    def __init__(self, source: bytes | str, text: str | None) -> None:
        self.source = source
        self.text = text
        self.anchors: dict[str, Node] = {}
        self.events = _events(source)

    def first_document(self) -> Node | None:
        for event in self.events:
            if isinstance(event, yaml.DocumentStartEvent):
                if event.version not in (None, (1, 1)):
                    # libyaml 0.2 takes %YAML 1.2; 0.1 does not
                    line = event.start_mark.line if event.start_mark else 0
                    where = f"line {line}: " if line else ""
                    raise GoYamlError(f"yaml: {where}found incompatible YAML document")
                root = self.node(next(self.events), "")
                next(self.events)  # DocumentEndEvent: yaml.v2 expects it and reads no further
                return root
        return None

    def node(self, event: Any, flow: str) -> Node:
        """``flow`` is "]" or "}" inside a flow sequence or mapping, else ""."""
        kind = type(event)
        line = event.start_mark.line
        if kind is yaml.AliasEvent:
            target = self.anchors.get(event.anchor)
            if target is None:
                raise GoYamlError(f"yaml: unknown anchor '{event.anchor}' referenced")
            return Node(ALIAS, line, value=event.anchor, alias=target)
        if kind is yaml.ScalarEvent:
            value = event.value
            if flow and not event.style:  # plain
                if "?" in value:
                    self.question_mark(event, flow)
                value = value.replace(_COLON, ":")
            elif event.style == '"' and "/" in value:
                self.slash_escape(event)
            node = Node(SCALAR, line, event.tag or "", value, event.implicit[0])
        elif kind is yaml.SequenceStartEvent:
            node = Node(SEQUENCE, line, event.tag or "")
        else:
            node = Node(MAPPING, line, event.tag or "")
        if event.anchor is not None:
            self.anchors[event.anchor] = node  # before the children: they may refer to it
        if kind is not yaml.ScalarEvent:
            inner = ("]" if kind is yaml.SequenceStartEvent else "}") if event.flow_style else flow
            children = node.children
            for child in self.events:
                if type(child) in _END_EVENTS:
                    break
                children.append(self.node(child, inner))
        return node

    def question_mark(self, event: Any, flow: str) -> None:
        """libyaml 0.1 ends a flow plain scalar at "?" and then finds a key indicator where
        a "," or the closing bracket must come: a parse error on the line of the "?"."""
        line = event.start_mark.line
        if self.text is not None:
            start = _offset(self.text, line, event.start_mark.column)
            line += len(_BREAKS.findall(self.text, start, self.text.index("?", start)))
        where = f"line {line}: " if line else ""
        raise GoYamlError(f"yaml: {where}did not find expected ',' or '{flow}'")


    def slash_escape(self, event: Any) -> None:
        """``\\/`` is a YAML 1.2 escape: libyaml 0.1 does not know it."""
        if self.text is None:
            return
        start = _offset(self.text, event.start_mark.line, event.start_mark.column)
        end = _offset(self.text, event.end_mark.line, event.end_mark.column)
        index = self.text.find("\\", start, end)
        while index >= 0:
            if self.text[index + 1] == "/":
                line = event.start_mark.line + len(_BREAKS.findall(self.text, start, index))
                where = line + 1 if line else event.start_mark.line
                prefix = f"line {where}: " if where else ""
                raise GoYamlError(f"yaml: {prefix}found unknown escape character")
            index = self.text.find("\\", index + 2, end)


def _events(data: bytes | str) -> Iterator[Any]:
    parser = _Parser(data)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


_END_EVENTS = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _syntax_message(err: yaml.MarkedYAMLError) -> str:
    """yaml.v2's ``parser.fail``: the problem line, 1-based for scanner errors only."""
    line = 0
    if err.problem_mark is not None and err.problem_mark.line != 0:
        line = err.problem_mark.line
        if isinstance(err, yaml.scanner.ScannerError):
            line += 1
    elif err.context_mark is not None and err.context_mark.line != 0:
        line = err.context_mark.line
    where = f"line {line}: " if line else ""
    return f"yaml: {where}{err.problem or 'unknown problem parsing YAML content'}"


# --- resolving ----------------------------------------------------------------------------

_RESOLVE_MAP: dict[str, tuple[str, object]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), (BOOL, True)),
    **dict.fromkeys(("on", "On", "ON"), (BOOL, True)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), (BOOL, False)),
    **dict.fromkeys(("off", "Off", "OFF"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf)),
    "<<": (MERGE, "<<"),
}
_NULLS = frozenset(s for s, (tag, _) in _RESOLVE_MAP.items() if tag == NULL)
_HINTS = {**dict.fromkeys("+-", "S"), **dict.fromkeys("0123456789", "D"),
          **dict.fromkeys("yYnNtTfFoO~", "M"), ".": "."}
_YAML_FLOAT = r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
_TIMESTAMP = (
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


def short_tag(tag: str) -> str:
    return "!!" + tag[len(LONG) :] if tag.startswith(LONG) else tag


def go_resolve(tag: str, text: str) -> tuple[str, object]:
    """yaml.v2's ``resolve``: the implicit type of a plain scalar, checked against ``tag``."""
    if tag not in _RESOLVABLE:
        return tag, text
    rtag, out = _resolve_plain(tag, text)
    if tag in ("", rtag, STR, BINARY):
        return rtag, out
    if tag == FLOAT and rtag == INT:
        assert isinstance(out, int)
        return FLOAT, float(out)
    raise GoYamlError(f"yaml: cannot decode {short_tag(rtag)} `{text}` as a {short_tag(tag)}")


def _resolve_plain(tag: str, text: str) -> tuple[str, object]:
    hint = _HINTS.get(text[0], "") if text else "N"
    if not hint or tag in (STR, BINARY):
        return STR, text
    if text in _RESOLVE_MAP:
        return _RESOLVE_MAP[text]
    if hint == ".":
        number = go_parse_float(text)
        if number is not None:
            return FLOAT, number
    elif hint in "DS":
        if tag in ("", TIMESTAMP) and re.fullmatch(_TIMESTAMP, text):
            return TIMESTAMP, text
        plain = text.replace("_", "")
        try:
            return INT, go_parse_int(plain, 0, 64)
        except GoNumError:
            pass
        try:
            return INT, GoUint64(go_parse_uint(plain, 0, 64))
        except GoNumError:
            pass
        if re.fullmatch(_YAML_FLOAT, plain):
            number = go_parse_float(plain)
            if number is not None:
                return FLOAT, number
    return STR, text


# --- decoding -----------------------------------------------------------------------------


class Decoder:
    """One ``yaml.Unmarshal`` call: collects type errors, follows aliases."""

    def __init__(self) -> None:
        self.terrors: list[str] = []
        self._active_aliases: set[int] = set()

    def unmarshal(self, gotype: GoType, node: Node, current: object = None) -> tuple[bool, object]:
        """``d.unmarshal``: (good, value)."""
        if node.kind == ALIAS:
            assert node.alias is not None
            if id(node) in self._active_aliases:
                raise GoYamlError(f"yaml: anchor '{node.value}' value contains itself")
            self._active_aliases.add(id(node))
            try:
                return self.unmarshal(gotype, node.alias, current)
            finally:
                self._active_aliases.discard(id(node))
        return gotype.decode(self, node, current)

    def inner(self, gotype: GoType, node: Node) -> object:
        """A custom unmarshaler's ``unmarshal(&v)``: type errors come back as one error."""
        mark = len(self.terrors)
        _, value = self.unmarshal(gotype, node)
        if len(self.terrors) > mark:
            errors = self.terrors[mark:]
            del self.terrors[mark:]
            raise InnerTypeErrors(errors)
        return value

    def terror(self, node: Node, tag: str, gotype: GoType) -> None:
        if node.tag:
            tag = node.tag
        value = ""
        if tag not in (SEQ, MAP):
            raw = node.value.encode("utf-8", "surrogateescape")
            if len(raw) > 10:
                raw = raw[:7] + b"..."
            value = " `" + raw.decode("utf-8", "surrogateescape") + "`"
        self.terrors.append(
            f"line {node.line + 1}: cannot unmarshal {short_tag(tag)}{value} into {gotype.name}"
        )

    def resolve(self, node: Node) -> tuple[str, object]:
        """``d.scalar``'s first step: quoted scalars are strings, !!binary is decoded."""
        if not node.tag and not node.implicit:
            return STR, node.value
        tag, value = go_resolve(node.tag, node.value)
        if tag == BINARY:
            try:
                raw = base64.b64decode(node.value, validate=True)
            except (binascii.Error, ValueError):
                raise GoYamlError("yaml: !!binary value contains invalid base64 data") from None
            return tag, raw.decode("utf-8", "surrogateescape")
        return tag, value

    def mapping_pairs(self, node: Node) -> Iterator[tuple[Node, Node] | Node]:
        """Key/value pairs in order; a merge key (``<<``) yields the mappings to merge
        (yaml.v2 merges a sequence of maps last-to-first, so earlier ones win)."""
        children = node.children
        for index in range(0, len(children) - 1, 2):
            key, value = children[index], children[index + 1]
            if key.kind == SCALAR and key.value == "<<" and (key.implicit or key.tag == MERGE):
                yield from _merge_sources(value)
            else:
                yield key, value


def _merge_sources(node: Node) -> Iterator[Node]:
    target = node.alias if node.kind == ALIAS else node
    if target is not None and target.kind == MAPPING:
        yield node
        return
    if node.kind == SEQUENCE:
        for child in reversed(node.children):
            item = child.alias if child.kind == ALIAS else child
            if item is None or item.kind != MAPPING:
                raise GoYamlError("yaml: map merge requires map or sequence of maps as the value")
        yield from reversed(node.children)
        return
    raise GoYamlError("yaml: map merge requires map or sequence of maps as the value")


def is_null(node: Node) -> bool:
    """``d.prepare``'s null test, which bypasses custom unmarshalers (even for a quoted
    ``"~"``; ``Null``/``NULL`` do reach them)."""
    if node.tag == NULL:
        return True
    return node.kind == SCALAR and not node.tag and (
        node.value in ("null", "~") or (node.value == "" and node.implicit)
    )


class GoType:
    """A Go type yaml.v2 can decode into; ``name`` is how error messages spell it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def zero(self) -> object:
        raise NotImplementedError

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        raise NotImplementedError

    def mismatch(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        """A node of the wrong kind: null scalars give the zero value, the rest a type error."""
        if node.kind == SCALAR:
            tag, value = d.resolve(node)
            if value is None:
                return True, self.zero()
            d.terror(node, tag, self)
        else:
            d.terror(node, SEQ if node.kind == SEQUENCE else MAP, self)
        return False, current


class StringType(GoType):
    """``string``: any scalar's raw text."""

    def zero(self) -> str:
        return ""

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if node.kind != SCALAR:
            return self.mismatch(d, node, current)
        if not node.tag:  # the common case, without resolving: only nulls are special
            return True, "" if node.implicit and node.value in _NULLS else node.value
        tag, value = d.resolve(node)
        if value is None:
            return True, ""
        return True, value if tag == BINARY else node.value


class UintType(GoType):
    """An unsigned integer kind (``os.FileMode`` for socket modes)."""

    def __init__(self, name: str, bits: int) -> None:
        super().__init__(name)
        self._limit = (1 << bits) - 1

    def zero(self) -> int:
        return 0

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if node.kind == SCALAR:
            _, value = d.resolve(node)
            if isinstance(value, int) and not isinstance(value, bool):
                if 0 <= value <= self._limit:
                    return True, int(value)
            elif isinstance(value, float) and math.isfinite(value) and 0 <= value <= self._limit:
                return True, int(value)
        return self.mismatch(d, node, current)


class SliceType(GoType):
    def __init__(self, elem: GoType) -> None:
        super().__init__("[]" + elem.name)
        self.elem = elem

    def zero(self) -> None:
        return None

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if node.kind != SEQUENCE:
            return self.mismatch(d, node, current)
        items = []
        for child in node.children:
            good, value = d.unmarshal(self.elem, child)
            if good:
                items.append(value)
        return True, items


class MapType(GoType):
    """``map[string]T``: keys are any scalar's raw text; ``current`` is merged into."""

    def __init__(self, elem: GoType) -> None:
        super().__init__("map[string]" + elem.name)
        self.elem = elem

    def zero(self) -> None:
        return None

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if node.kind != MAPPING:
            return self.mismatch(d, node, current)
        out: dict[str, object] = dict(current) if isinstance(current, dict) else {}
        for pair in d.mapping_pairs(node):
            if isinstance(pair, Node):
                _, merged = d.unmarshal(self, pair, out)
                out = merged if isinstance(merged, dict) else out
                continue
            key_node, value_node = pair
            good, key = d.unmarshal(STRING, key_node)
            if not good:
                continue
            good, value = d.unmarshal(self.elem, value_node)
            if good:
                out[str(key)] = value
        return True, out


class StructType(GoType):
    """A Go struct: known keys decode into fields, unknown keys are never looked at."""

    def __init__(self, name: str, fields: Mapping[str, GoType]) -> None:
        super().__init__(name)
        self.fields = dict(fields)

    def zero(self) -> dict[str, object]:
        return {}

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if node.kind != MAPPING:
            return self.mismatch(d, node, current)
        out: dict[str, object] = dict(current) if isinstance(current, dict) else {}
        for pair in d.mapping_pairs(node):
            if isinstance(pair, Node):
                _, merged = d.unmarshal(self, pair, out)
                out = merged if isinstance(merged, dict) else out
                continue
            key_node, value_node = pair
            good, key = d.unmarshal(STRING, key_node)
            gotype = self.fields.get(str(key)) if good else None
            if gotype is not None:
                good, value = d.unmarshal(gotype, value_node, out.get(str(key)))
                if good:
                    out[str(key)] = value
        return True, out


class InterfaceType(GoType):
    """``interface{}``: Go values as Python ones (GoMap for maps, GoUint64 for uint64)."""

    def zero(self) -> None:
        return None

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if node.kind == SCALAR:
            tag, value = d.resolve(node)
            return True, node.value if tag == TIMESTAMP else value
        if node.kind == SEQUENCE:
            items = []
            for child in node.children:
                good, value = d.unmarshal(self, child)
                if good:
                    items.append(value)
            return True, items
        out = current.copy() if isinstance(current, GoMap) else GoMap()
        for pair in d.mapping_pairs(node):
            if isinstance(pair, Node):
                _, merged = d.unmarshal(self, pair, out)
                out = merged if isinstance(merged, GoMap) else out
                continue
            key_node, value_node = pair
            good, key = d.unmarshal(self, key_node)
            if not good:
                continue
            if isinstance(key, (GoMap, list)):
                raise GoYamlError(f"yaml: invalid map key: {_go_sharp_v(key)}")
            good, value = d.unmarshal(self, value_node)
            if good:
                out.set(key, value)
        return True, out


class CustomType(GoType):
    """A type with ``UnmarshalYAML``: ``func`` returns the value or raises GoYamlError;
    type errors of its inner ``unmarshal`` calls are kept, the value left unset.

    Null scalars skip ``func`` and decode as the underlying kind: string types take the
    raw text of a quoted ``"~"``, other kinds refuse it.
    """

    def __init__(self, name: str, zero: Callable[[], object],
                 func: Callable[[Decoder, Node], object], *, string_kind: bool = False) -> None:
        super().__init__(name)
        self._zero = zero
        self._func = func
        self._string_kind = string_kind

    def zero(self) -> object:
        return self._zero()

    def decode(self, d: Decoder, node: Node, current: object) -> tuple[bool, object]:
        if is_null(node):
            if self._string_kind:
                return STRING.decode(d, node, current)
            return self.mismatch(d, node, current)
        try:
            return True, self._func(d, node)
        except InnerTypeErrors as err:
            d.terrors.extend(err.errors)
            return False, current


def _go_sharp_v(value: object) -> str:
    """Go's ``%#v`` of a decoded ``interface{}`` value (map keys sorted, as fmt does)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(map(_go_sharp_v, value)) + "}"
    if isinstance(value, GoMap):
        items = sorted(value.items(), key=lambda item: (type(item[0]).__name__, str(item[0])))
        inner = ", ".join(f"{_go_sharp_v(k)}:{_go_sharp_v(v)}" for k, v in items)
        return "map[interface {}]interface {}{" + inner + "}"
    return go_format_value(value)


STRING = StringType("string")
STRINGS = SliceType(STRING)
INTERFACE = InterfaceType("interface {}")


def unmarshal(data: bytes | str, root: GoType) -> object:
    """``yaml.Unmarshal(data, &root)``: the decoded value, or GoYamlError with yaml.v2's
    message (all type errors listed, one per line, as yaml.v2 prints them)."""
    node = compose(data)
    decoder = Decoder()
    value = root.zero()
    if node is not None:
        _, value = decoder.unmarshal(root, node, value)
    if decoder.terrors:
        raise GoYamlError("yaml: unmarshal errors:\n  " + "\n  ".join(decoder.terrors))
    return value
