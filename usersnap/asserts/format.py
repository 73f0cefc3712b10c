"""snapd's assertion text format (asserts/asserts.go, asserts/headers.go), pure.

An assertion is ``HEADERS [\\n\\nBODY] \\n\\n SIGNATURE``; the signed content is everything
before the last separator.  Header values are strings, or lists and maps of them in
snapd's indentation syntax.  Parsing is byte-exact so that the content we verify is
the content that was signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from usersnap.errors import UsersnapError

HeaderValue: TypeAlias = "str | list[HeaderValue] | dict[str, HeaderValue]"

#: snapd's limits (asserts.go MaxBodySize, MaxHeadersSize, MaxSignatureSize)
MAX_BODY_SIZE = 2 * 1024 * 1024
MAX_HEADERS_SIZE = 128 * 1024
MAX_SIGNATURE_SIZE = 128 * 1024

#: the types usersnap knows, with their primary key headers (asserts.go typeRegistry)
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "account": ("account-id",),
    "account-key": ("public-key-sha3-384",),
    "snap-declaration": ("series", "snap-id"),
    "snap-revision": ("snap-sha3-384",),
}

_HEADER_NAME = re.compile(r"^[a-z](?:-?[a-z0-9])*$")
_NLNL = b"\n\n"


class AssertError(UsersnapError):
    """An assertion that cannot be decoded or does not verify."""


@dataclass(frozen=True, slots=True)
class Assertion:
    headers: dict[str, HeaderValue]
    body: bytes
    #: the signed bytes: headers, and "\\n\\n" + body when there is one
    content: bytes
    #: the base64 signature text as it appeared
    signature: bytes

    @property
    def type(self) -> str:
        return self.header("type")

    @property
    def authority_id(self) -> str:
        return self.header("authority-id")

    @property
    def sign_key_id(self) -> str:
        return self.header("sign-key-sha3-384")

    @property
    def revision(self) -> int:
        return int(self.header("revision") or "0")

    def header(self, name: str) -> str:
        """A string header, "" when absent (snapd's HeaderString)."""
        value = self.headers.get(name, "")
        return value if isinstance(value, str) else ""

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(self.header(k) for k in PRIMARY_KEYS[self.type])

    def encode(self) -> bytes:
        """snapd's Encode: content, separator, signature."""
        return self.content + _NLNL + self.signature


def parse_headers(head: bytes) -> dict[str, HeaderValue]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertError("header is not utf8") from None
    lines = text.split("\n")
    headers: dict[str, HeaderValue] = {}
    i = 0
    while i < len(lines):
        entry = lines[i]
        colon = entry.find(":")
        if colon == -1:
            raise AssertError(f"header entry missing ':' separator: {entry!r}")
        name = entry[:colon]
        if not _HEADER_NAME.match(name):
            raise AssertError(f"invalid header name: {name!r}")
        value, i = _parse_entry(colon + 1, i, lines, 0)
        if name in headers:
            raise AssertError(f"repeated header: {name!r}")
        headers[name] = value
    return headers


def _parse_entry(consumed: int, first: int, lines: list[str],
                 indent: int) -> tuple[HeaderValue, int]:
    entry = lines[first]
    i = first + 1
    if consumed == len(entry):
        base = " " * indent + "  "
        if i < len(lines) and lines[i].startswith(base):
            rest = lines[i][len(base):]
            if rest.startswith("-"):
                return _parse_list(i, lines, indent)
            if rest and rest[0] != " ":
                return _parse_map(i, lines, indent)
        return _parse_multiline(i, lines, indent)
    if entry[consumed] != " ":
        raise AssertError(
            f"header entry should have a space or newline (for multiline) before value: {entry!r}")
    return entry[consumed + 1:], i


def _parse_multiline(first: int, lines: list[str], indent: int) -> tuple[HeaderValue, int]:
    prefix = " " * indent + "    "
    j = first
    while j < len(lines) and lines[j].startswith(prefix):
        j += 1
    if j == first:
        cur = "EOF" if first == len(lines) else repr(lines[first])
        raise AssertError(f"expected {len(prefix)} chars nesting prefix after multiline "
                              f"introduction {lines[first - 1]!r}: {cur}")
    return "\n".join(line[len(prefix):] for line in lines[first:j]), j


def _parse_list(first: int, lines: list[str], indent: int) -> tuple[HeaderValue, int]:
    prefix = " " * indent + "  -"
    out: list[HeaderValue] = []
    j = first
    while j < len(lines) and lines[j].startswith(prefix):
        value, j = _parse_entry(len(prefix), j, lines, indent + 2)
        out.append(value)
    return out, j


def _parse_map(first: int, lines: list[str], indent: int) -> tuple[HeaderValue, int]:
    prefix = " " * indent + "  "
    out: dict[str, HeaderValue] = {}
    j = first
    while j < len(lines) and lines[j].startswith(prefix):
        entry = lines[j][len(prefix):]
        colon = entry.find(":")
        if colon == -1:
            raise AssertError(f"map entry missing ':' separator: {entry!r}")
        key = entry[:colon]
        if not _HEADER_NAME.match(key):
            raise AssertError(f"invalid map entry key: {key!r}")
        value, j = _parse_entry(len(prefix) + colon + 1, j, lines, len(prefix))
        if key in out:
            raise AssertError(f"repeated map entry: {key!r}")
        out[key] = value
    return out, j


def format_headers(headers: list[tuple[str, HeaderValue]]) -> bytes:
    """snapd's header serialisation (appendEntry), in the given order; used to sign."""
    parts: list[str] = []
    for name, value in headers:
        _append(parts, f"{name}:", value, 0)
    return "".join(parts)[1:].encode()


def _append(out: list[str], intro: str, value: HeaderValue, indent: int) -> None:
    if isinstance(value, str):
        if "\n" in value:
            pfx = " " * indent + "    "
            out.append(f"\n{intro}\n{pfx}" + value.replace("\n", "\n" + pfx))
        else:
            out.append(f"\n{intro} {value}")
    elif isinstance(value, list):
        if value:
            out.append(f"\n{intro}")
            for elem in value:
                _append(out, " " * indent + "  -", elem, indent + 2)
    elif value:
        out.append(f"\n{intro}")
        pfx = " " * indent + "  "
        for key in sorted(value):
            _append(out, f"{pfx}{key}:", value[key], len(pfx))


def decode(data: bytes) -> Assertion:
    """One assertion (snapd's asserts.Decode)."""
    split = data.rfind(_NLNL)
    if split == -1:
        raise AssertError("assertion content/signature separator not found")
    content, signature = data[:split], data[split + 2:]
    head_split = content.find(_NLNL)
    head, body = (content, b"") if head_split == -1 else (
        content[:head_split], content[head_split + 2:])
    return _assemble(_parse_head(head), body, content, signature)


def encode_stream(assertions: list[Assertion]) -> bytes:
    """snapd's Encoder: each assertion ends with a newline, a blank line between them."""
    return b"\n".join(a.encode().rstrip(b"\n") + b"\n" for a in assertions)


def decode_stream(data: bytes) -> list[Assertion]:
    """Assertions separated by blank lines (snapd's Decoder), with its size limits."""
    out: list[Assertion] = []
    pos = 0
    while pos < len(data):
        if data[pos:pos + 1] == b"\n" and not data[pos:].strip(b"\n"):
            break  # trailing newlines
        start = pos
        end = _find(data, pos, MAX_HEADERS_SIZE, "error reading assertion headers")
        if end == -1:
            raise AssertError("unexpected EOF")
        head = data[start:end]
        headers = _parse_head(head)
        length = _body_length(headers)
        if length > MAX_BODY_SIZE:
            raise AssertError(f"assertion body length {length} exceeds maximum body size")
        pos = end + 2
        body = data[pos:pos + length]
        if len(body) != length:
            raise AssertError("unexpected EOF")
        pos += length
        if length:
            if data[pos:pos + 2] != _NLNL:
                raise AssertError("missing content/signature separator")
            pos += 2
            content = data[start:pos - 2]
        else:
            content = head
        sig_end = _find(data, pos, MAX_SIGNATURE_SIZE, "error reading assertion signature")
        signature = data[pos:] if sig_end == -1 else data[pos:sig_end + 1]
        pos = len(data) if sig_end == -1 else sig_end + 2
        out.append(_assemble(headers, body, content, signature))
    return out


def _find(data: bytes, pos: int, limit: int, what: str) -> int:
    end = data.find(_NLNL, pos, pos + limit + 2)
    if end == -1 and len(data) - pos > limit:
        raise AssertError(f"{what}: maximum size exceeded while looking for delimiter "
                              '"\\n\\n"')
    return end


def _parse_head(head: bytes) -> dict[str, HeaderValue]:
    try:
        return parse_headers(head)
    except AssertError as e:
        raise AssertError(f"parsing assertion headers: {e}") from None


def _body_length(headers: dict[str, HeaderValue]) -> int:
    value = headers.get("body-length", "0")
    if not isinstance(value, str) or not value.isdigit() or (len(value) > 1 and value[0] == "0"):
        raise AssertError(f'assertion: "body-length" header is not an integer: {value}')
    return int(value)


def _assemble(headers: dict[str, HeaderValue], body: bytes, content: bytes,
              signature: bytes) -> Assertion:
    length = _body_length(headers)
    if length != len(body):
        raise AssertError("assertion body length and declared body-length don't match: "
                              f"{len(body)} != {length}")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise AssertError("assertion body is not utf8") from None
    for name in ("sign-key-sha3-384", "type", "authority-id"):
        value = headers.get(name)
        if not isinstance(value, str) or not value:
            raise AssertError(f'assertion: "{name}" header is mandatory')
    typ = headers["type"]
    assert isinstance(typ, str)
    if typ not in PRIMARY_KEYS:
        raise AssertError(f"unknown assertion type: {typ!r}")
    for key in PRIMARY_KEYS[typ]:
        value = headers.get(key)
        if not isinstance(value, str) or not value:
            raise AssertError(f'assertion {typ}: "{key}" header is mandatory')
        if "/" in value:
            raise AssertError(f'assertion {typ}: "{key}" primary key header cannot '
                                  "contain '/'")
    revision = headers.get("revision", "0")
    if not isinstance(revision, str) or not revision.isdigit():
        raise AssertError(f'assertion: "revision" header is not an integer: {revision}')
    if not signature.strip():
        raise AssertError("empty assertion signature")
    return Assertion(headers=headers, body=body, content=content, signature=signature)
