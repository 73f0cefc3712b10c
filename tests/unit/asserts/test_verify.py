"""Signature and chain checks with real Canonical assertions; any tampering fails."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import pytest

from tests.helpers import assertsign
from usersnap.asserts import trust
from usersnap.asserts.db import AssertionDb
from usersnap.asserts.format import AssertError, Assertion, decode, decode_stream
from usersnap.asserts.verify import (
    account_key,
    derive_side_info,
    encode_digest,
    key_id,
    parse_time,
    publisher,
    snap_digest,
    verify_signature,
)

DATA = Path(__file__).parent / "data"
ROOT_KEY = account_key(trust.TRUSTED[1]).key
STORE_KEY = account_key(trust.PREDEFINED[0]).key
NOW = parse_time("2026-01-01T00:00:00Z", "now")


def _real() -> list[Assertion]:
    return [decode((DATA / f).read_bytes()) for f in
            ("go.snap-declaration", "word-salad.snap-declaration", "2812.snap-revision",
             "test-snapd-rrP2xy.account-key")]


def test_builtin_root_is_self_signed_and_signs_the_store_key() -> None:
    assert key_id(ROOT_KEY) == trust.TRUSTED[1].header("public-key-sha3-384")
    verify_signature(trust.TRUSTED[1], ROOT_KEY)
    verify_signature(trust.TRUSTED[0], ROOT_KEY)
    verify_signature(trust.PREDEFINED[0], ROOT_KEY)
    assert key_id(STORE_KEY) == "BWDEoaqyr25nF5SNCvEv2v7QnM9QsfCc0PBMYD_i2NGSQ32EF2d4D0hqUel3m8ul"


@pytest.mark.parametrize("a", _real(), ids=lambda a: a.type + ":" + a.primary_key[-1][:8])
def test_real_store_assertions_verify(a: Assertion) -> None:
    verify_signature(a, STORE_KEY)
    with pytest.raises(AssertError, match="RSA verification failure"):
        verify_signature(a, ROOT_KEY)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


@pytest.mark.parametrize("a", [*_real(), trust.PREDEFINED[0]], ids=lambda a: a.type)
def test_one_byte_tampering_anywhere_fails(a: Assertion) -> None:
    key = ROOT_KEY if a is trust.PREDEFINED[0] else STORE_KEY
    body_at = len(a.content) - len(a.body)
    spots = [5, len(a.content) // 3, len(a.content) - 1] + ([body_at + 10] if a.body else [])
    for i in spots:
        tampered = dataclasses.replace(a, content=_flip(a.content, i))
        with pytest.raises(AssertError, match="failed signature verification"):
            verify_signature(tampered, key)
    # the signature: a byte of the RSA value, of the hashed subpackets, of the hash tag
    for i in (len(a.signature) - 8, 12, 20):
        tampered = dataclasses.replace(a, signature=_flip(a.signature, i))
        with pytest.raises(AssertError):
            verify_signature(tampered, key)


def test_full_chain_root_to_real_declaration(tmp_path: Path) -> None:
    db = AssertionDb(tmp_path / "assertions")
    go = decode((DATA / "go.snap-declaration").read_bytes())
    assert db.add(go, NOW)  # publisher canonical is trusted; key predefined
    assert db.find("snap-declaration", {"series": "16", "snap-id": go.header("snap-id")}) == go
    assert not db.add(go, NOW)  # the same revision again is a no-op
    salad = decode((DATA / "word-salad.snap-declaration").read_bytes())
    with pytest.raises(AssertError, match='matching account assertion for the publisher'):
        db.add(salad, NOW)
    rev = decode((DATA / "2812.snap-revision").read_bytes())
    with pytest.raises(AssertError, match="does not have a matching snap-declaration"):
        db.add(rev, NOW)
    stream = decode_stream((DATA / "model-etc.asserts").read_bytes())
    assert db.add_all(stream[1:2], NOW) == 1  # the account signed by the store key
    assert not db.add(trust.PREDEFINED[0], NOW)  # the built-in store key, acked again
    tampered = dataclasses.replace(go, content=go.content.replace(b"snap-name: go",
                                                                   b"snap-name: og"))
    tampered = decode(tampered.content + b"\n\n" + tampered.signature)
    tampered = dataclasses.replace(tampered, headers={**tampered.headers, "revision": "3"})
    with pytest.raises(AssertError, match="failed signature verification"):
        db.add(tampered, NOW)


def test_unknown_signing_key(tmp_path: Path) -> None:
    db = AssertionDb(tmp_path / "assertions", predefined=())
    go = decode((DATA / "go.snap-declaration").read_bytes())
    with pytest.raises(AssertError, match='no matching public key "BWDEoaqy'):
        db.add(go, NOW)


@pytest.fixture(scope="module")
def test_root() -> tuple[assertsign.Signer, list[Assertion]]:
    return assertsign.authority()


def _snap_chain(signer: assertsign.Signer, blob: bytes, name: str = "hello",
                decl_revision: str = "0") -> list[Assertion]:
    decl = signer.sign([("type", "snap-declaration"), ("revision", decl_revision),
                        ("series", "16"), ("snap-id", "helloid0123456789012345678901234"),
                        ("publisher-id", signer.account_id), ("snap-name", name),
                        ("timestamp", "2020-01-01T00:00:00Z")])
    rev = signer.sign([("type", "snap-revision"),
                       ("snap-sha3-384", encode_digest(hashlib.sha3_384(blob).digest())),
                       ("snap-id", "helloid0123456789012345678901234"), ("snap-size",
                                                                         str(len(blob))),
                       ("snap-revision", "7"), ("developer-id", signer.account_id),
                       ("timestamp", "2020-01-01T00:00:00Z")])
    return [rev, decl]


def test_test_authority_chain_and_side_info(
        tmp_path: Path, test_root: tuple[assertsign.Signer, list[Assertion]]) -> None:
    signer, trusted = test_root
    db = AssertionDb(tmp_path / "assertions", trusted=trusted)
    blob = tmp_path / "hello.snap"
    blob.write_bytes(b"squashfs image bytes")
    digest, size = snap_digest(blob)
    with pytest.raises(AssertError, match=re.escape(
            'cannot find signatures with metadata for snap "./hello.snap"')):
        derive_side_info("./hello.snap", digest, size, db)
    assert db.add_all(_snap_chain(signer, blob.read_bytes()), NOW) == 2  # out of order
    shadow = signer.sign([("type", "account"), ("account-id", "canonical"),
                          ("display-name", "Not Canonical"), ("username", "c"),
                          ("timestamp", "2020-01-01T00:00:00Z"), ("validation", "verified")])
    with pytest.raises(AssertError, match="clashing with a trusted assertion"):
        db.add(shadow, NOW)
    info = derive_side_info("./hello.snap", digest, size, db)
    assert (info.name, info.revision, info.publisher_id) == ("hello", 7, "testrootorg")
    assert publisher(db, info.snap_id) == {"id": "testrootorg", "username": "testrootorg",
                                           "display-name": "Test Root",
                                           "validation": "verified"}
    with pytest.raises(AssertError, match="does not have expected size"):
        derive_side_info("./hello.snap", digest, size + 1, db)
    # a newer declaration revoking the name (snapd: empty snap-name) wins
    revoked = _snap_chain(signer, blob.read_bytes(), name="", decl_revision="1")[1]
    db.add(revoked, NOW)
    with pytest.raises(AssertError, match="with a revoked snap declaration"):
        derive_side_info("./hello.snap", digest, size, db)
    renamed = _snap_chain(signer, blob.read_bytes(), name="hello2", decl_revision="2")[1]
    db.add(renamed, NOW)
    assert derive_side_info("./hello.snap", digest, size, db).name == "hello2"
    with pytest.raises(AssertError, match="older than current revision 2"):
        db.add(_snap_chain(signer, blob.read_bytes(), decl_revision="1")[1], NOW)


def test_expired_key_and_untrusted_authority(
        tmp_path: Path, test_root: tuple[assertsign.Signer, list[Assertion]]) -> None:
    signer, trusted = test_root
    db = AssertionDb(tmp_path / "assertions", trusted=trusted)
    dev = assertsign.Signer("developer1", assertsign.rsa_key("developer1"))
    account = signer.sign([("type", "account"), ("account-id", "developer1"),
                           ("display-name", "Dev"), ("timestamp", "2020-01-01T00:00:00Z"),
                           ("username", "dev"), ("validation", "unproven")])
    key = assertsign.account_key(signer, dev, "default", until="2021-01-01T00:00:00Z")
    db.add_all([key, account], NOW)
    decl = dev.sign([("type", "snap-declaration"), ("series", "16"), ("snap-id", "x" * 32),
                     ("publisher-id", "developer1"), ("snap-name", "x"),
                     ("timestamp", "2020-06-01T00:00:00Z")])
    with pytest.raises(AssertError, match="expired public key"):
        db.add(decl, NOW)
    with pytest.raises(AssertError, match="not signed by a directly trusted authority"):
        db.add(decl, parse_time("2020-07-01T00:00:00Z", "t"))
