"""The two OpenPGP packets snapd uses (RFC 4880 §5.2.3, §5.5.2), bounds-checked, pure.

snapd packs an RSA public key in a v4 public-key packet and a signature in a v4
signature packet, each base64-encoded after a format byte (asserts/crypto.go).  Only
what snapd produces is accepted: RSA, SHA-256/384/512, no partial lengths, no trailing
bytes.  The RSA arithmetic is left to :mod:`usersnap.asserts.verify`.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

from usersnap.asserts.format import AssertError

#: snapd's encoding format byte in front of every packet
FORMAT_V1 = 0x01
TAG_SIGNATURE = 2
TAG_PUBLIC_KEY = 6
ALGO_RSA = 1
#: RFC 4880 hash ids -> hashlib names
HASHES = {8: "sha256", 9: "sha384", 10: "sha512"}
#: signature subpacket type carrying the creation time; Go's reader requires it
_SUB_CREATION_TIME = 2
#: subpacket types Go's reader knows; an unknown *critical* one fails verification there
_SUB_KNOWN = {2, 3, 4, 9, 11, 16, 21, 22, 23, 25, 27, 30, 32, 33}


@dataclass(frozen=True, slots=True)
class RSAPublicKey:
    n: int
    e: int
    created: int


@dataclass(frozen=True, slots=True)
class Signature:
    sig_type: int
    hash_algo: int
    #: version .. hashed subpackets: the part hashed after the content
    hashed_part: bytes
    hash_tag: bytes
    value: int
    created: int

    def hash_suffix(self) -> bytes:
        """What RFC 4880 §5.2.4 appends to the content before hashing."""
        return self.hashed_part + b"\x04\xff" + struct.pack(">I", len(self.hashed_part))


class _Reader:
    """A cursor that refuses to read past the end."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise AssertError(f"cannot decode {self.what}: unexpected EOF")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def mpi(self) -> int:
        bits = self.u16()
        raw = self.take((bits + 7) // 8)
        value = int.from_bytes(raw, "big")
        if value.bit_length() > bits:
            raise AssertError(f"cannot decode {self.what}: malformed MPI")
        return value

    def rest(self) -> int:
        return len(self.data) - self.pos


def decode_v1(text: bytes | str, what: str) -> tuple[int, bytes]:
    """snapd's decodeV1: base64, format byte, exactly one packet; returns (tag, body)."""
    try:
        compact = "".join((text.decode("ascii") if isinstance(text, bytes) else text).split())
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise AssertError(f"cannot decode {what}: {e}") from None
    if not raw:
        raise AssertError(f"cannot decode {what}: no data")
    if raw[0] != FORMAT_V1:
        raise AssertError(f"unsupported {what} format version: {raw[0]}")
    r = _Reader(raw[1:], what)
    tag, body = _read_packet(r)
    if r.rest():
        raise AssertError(f"{what} has spurious trailing data")
    return tag, body


def _read_packet(r: _Reader) -> tuple[int, bytes]:
    first = r.u8()
    if not first & 0x80:
        raise AssertError(f"cannot decode {r.what}: tag byte does not have MSB set")
    if first & 0x40:  # new format
        tag = first & 0x3F
        b0 = r.u8()
        if b0 < 192:
            length = b0
        elif b0 < 224:
            length = ((b0 - 192) << 8) + r.u8() + 192
        elif b0 == 255:
            length = r.u32()
        else:
            raise AssertError(f"cannot decode {r.what}: partial body lengths not supported")
    else:
        tag, kind = (first >> 2) & 0x0F, first & 0x03
        if kind == 3:
            raise AssertError(f"cannot decode {r.what}: indeterminate length not supported")
        length = int.from_bytes(r.take(1 << kind), "big")
    return tag, r.take(length)


def packet(tag: int, body: bytes) -> bytes:
    """A new-format packet, with the length encoding Go's writer uses."""
    n = len(body)
    if n < 192:
        head = bytes([n])
    elif n < 8384:
        n -= 192
        head = bytes([(n >> 8) + 192, n & 0xFF])
    else:
        head = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + head + body


def mpi(value: int) -> bytes:
    bits = value.bit_length()
    return struct.pack(">H", bits) + value.to_bytes((bits + 7) // 8, "big")


def parse_public_key(body: bytes) -> RSAPublicKey:
    r = _Reader(body, "public key")
    if r.u8() != 4:
        raise AssertError("cannot decode public key: unsupported packet version")
    created = r.u32()
    if r.u8() != ALGO_RSA:
        raise AssertError("expected RSA public key, got instead another algorithm")
    n, e = r.mpi(), r.mpi()
    if r.rest():
        raise AssertError("public key has spurious trailing data")
    return RSAPublicKey(n=n, e=e, created=created)


def serialize_public_key(key: RSAPublicKey) -> bytes:
    return packet(TAG_PUBLIC_KEY, b"\x04" + struct.pack(">I", key.created)
                  + bytes([ALGO_RSA]) + mpi(key.n) + mpi(key.e))


def parse_signature(body: bytes) -> Signature:
    r = _Reader(body, "signature")
    if r.u8() != 4:
        raise AssertError("cannot decode signature: unsupported signature packet version")
    sig_type, algo, hash_algo = r.u8(), r.u8(), r.u8()
    if algo != ALGO_RSA:
        raise AssertError("cannot decode signature: not an RSA signature")
    if hash_algo not in HASHES:
        raise AssertError(f"cannot decode signature: unsupported hash function {hash_algo}")
    hashed = r.take(r.u16())
    hashed_part = body[:r.pos]
    created = _subpackets(hashed, hashed=True)
    _subpackets(r.take(r.u16()), hashed=False)
    hash_tag = r.take(2)
    value = r.mpi()
    if r.rest():
        raise AssertError("signature has spurious trailing data")
    if created is None:
        raise AssertError("cannot decode signature: no creation time in signature")
    return Signature(sig_type=sig_type, hash_algo=hash_algo, hashed_part=hashed_part,
                     hash_tag=hash_tag, value=value, created=created)


def _subpackets(data: bytes, *, hashed: bool) -> int | None:
    """Walk the subpackets; returns the creation time when present."""
    r = _Reader(data, "signature")
    created = None
    while r.rest():
        b0 = r.u8()
        if b0 < 192:
            length = b0
        elif b0 < 255:
            length = ((b0 - 192) << 8) + r.u8() + 192
        else:
            length = r.u32()
        sub = _Reader(r.take(length), "signature")
        kind = sub.u8()
        if kind & 0x80 and (kind & 0x7F) not in _SUB_KNOWN:
            raise AssertError(
                f"cannot decode signature: unknown critical signature subpacket {kind & 0x7F}")
        if (kind & 0x7F) == _SUB_CREATION_TIME and hashed:
            if sub.rest() != 4:
                raise AssertError("cannot decode signature: creation time not four bytes")
            created = sub.u32()
    return created


def encode_v1(packet_bytes: bytes) -> bytes:
    """snapd's encodeV1: format byte, base64, 76-column lines."""
    flat = base64.b64encode(bytes([FORMAT_V1]) + packet_bytes)
    return b"\n".join(flat[i:i + 76] for i in range(0, len(flat), 76))
