"""The OpenPGP packet reader: bounds and the shapes snapd produces."""

from __future__ import annotations

import base64

import pytest

from usersnap.asserts import trust
from usersnap.asserts.format import AssertError
from usersnap.asserts.openpgp import (
    TAG_PUBLIC_KEY,
    decode_v1,
    encode_v1,
    packet,
    parse_public_key,
    parse_signature,
    serialize_public_key,
)


def test_root_key_packet_round_trips() -> None:
    root = trust.TRUSTED[1]
    tag, body = decode_v1(root.body, "public key")
    key = parse_public_key(body)
    assert tag == TAG_PUBLIC_KEY and key.n.bit_length() == 8192 and key.e == 65537
    assert encode_v1(serialize_public_key(key)) == root.body


def test_signature_packet_fields() -> None:
    tag, body = decode_v1(trust.TRUSTED[0].signature, "signature")
    sig = parse_signature(body)
    assert tag == 2 and sig.hash_algo == 10 and sig.sig_type == 0
    assert sig.created == 1471486159  # 2016-08-18, what gpg put in the hashed subpackets


def _b64(raw: bytes) -> bytes:
    return base64.b64encode(raw)


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "no data"),
    (b"\x02" + packet(6, b"\x04"), "unsupported public key format version: 2"),
    (b"\x01\x46", "tag byte does not have MSB set"),
    (b"\x01\xc6\x05\x04", "unexpected EOF"),
    (b"\x01\xc6\xe0\x04", "partial body lengths not supported"),
    (b"\x01" + packet(6, b"\x04") + b"x", "spurious trailing data"),
])
def test_framing_errors(raw: bytes, message: str) -> None:
    with pytest.raises(AssertError, match=message):
        decode_v1(_b64(raw), "public key")


def test_not_base64() -> None:
    with pytest.raises(AssertError, match="cannot decode signature"):
        decode_v1(b"not*base64", "signature")


def test_key_and_signature_body_bounds() -> None:
    with pytest.raises(AssertError, match="unexpected EOF"):
        parse_public_key(b"\x04\x00\x00\x00\x00\x01\x08\x00\x01")
    with pytest.raises(AssertError, match="expected RSA"):
        parse_public_key(b"\x04\x00\x00\x00\x00\x11")
    with pytest.raises(AssertError, match="malformed MPI"):
        parse_public_key(b"\x04\x00\x00\x00\x00\x01\x00\x01\xff\x00\x01\x01")
    _, body = decode_v1(trust.TRUSTED[0].signature, "signature")
    for cut in (1, 5, 20, len(body) - 1):
        with pytest.raises(AssertError):
            parse_signature(body[:cut])
    critical = body[:4] + b"\x00\x03" + b"\x02\xe4\x00" + body[6:]  # wrong length too
    with pytest.raises(AssertError):
        parse_signature(critical)
