"""snapd's assertion checks (asserts/database.go Check, the types' checkConsistency).

Pure given a :class:`Finder` (the database) and the current time: the RSA arithmetic is
``cryptography``'s, the packet parsing ours (:mod:`usersnap.asserts.openpgp`).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from usersnap.asserts.format import AssertError, Assertion
from usersnap.asserts.openpgp import (
    HASHES,
    TAG_PUBLIC_KEY,
    TAG_SIGNATURE,
    RSAPublicKey,
    decode_v1,
    parse_public_key,
    parse_signature,
    serialize_public_key,
)

#: snapd's v1FixedTimestamp: key ids are computed as if every key was made then
V1_FIXED_TIMESTAMP = 1451606400  # 2016-01-01T00:00:00Z
#: snapd's release.Series
SERIES = "16"

_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                   r"(Z|[+-]\d{2}:\d{2})$")


class Finder(Protocol):
    def find(self, type_: str, headers: dict[str, str]) -> Assertion | None: ...
    def is_trusted_account(self, account_id: str) -> bool: ...


def encode_digest(raw: bytes) -> str:
    """snapd's EncodeDigest: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_public_key(body: bytes) -> RSAPublicKey:
    tag, packet = decode_v1(body, "public key")
    if tag != TAG_PUBLIC_KEY:
        raise AssertError(f"expected public key, got instead packet type {tag}")
    return parse_public_key(packet)


def key_id(key: RSAPublicKey) -> str:
    """``public-key-sha3-384``: the digest of the key re-serialised at snapd's fixed time."""
    fixed = RSAPublicKey(n=key.n, e=key.e, created=V1_FIXED_TIMESTAMP)
    return encode_digest(hashlib.sha3_384(b"\x01" + serialize_public_key(fixed)).digest())


def verify_signature(assertion: Assertion, key: RSAPublicKey) -> None:
    """The RSA PKCS#1 v1.5 check of the v4 signature over the assertion's content."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

    tag, packet = decode_v1(assertion.signature, "signature")
    if tag != TAG_SIGNATURE:
        raise AssertError(f"expected signature, got instead packet type {tag}")
    sig = parse_signature(packet)
    name = HASHES[sig.hash_algo]
    digest = hashlib.new(name, assertion.content + sig.hash_suffix()).digest()
    if digest[:2] != sig.hash_tag:
        raise AssertError("failed signature verification: hash tag doesn't match")
    algo: hashes.HashAlgorithm = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                                  "sha512": hashes.SHA512()}[name]
    try:
        pub = rsa.RSAPublicNumbers(key.e, key.n).public_key()
        size = (pub.key_size + 7) // 8
        if sig.value.bit_length() > pub.key_size:
            raise InvalidSignature
        pub.verify(sig.value.to_bytes(size, "big"), digest, padding.PKCS1v15(),
                   utils.Prehashed(algo))
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        raise AssertError(
            "failed signature verification: RSA verification failure") from None


def parse_time(text: str, what: str) -> float:
    """RFC 3339 as snapd writes it, to seconds since the epoch."""
    m = _TIME.match(text)
    if not m:
        raise AssertError(f"{what} is not a RFC3339 date: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = float(m.group(7) or 0)
    tz = m.group(8)
    offset = 0 if tz == "Z" else (1 if tz[0] == "+" else -1) * (
        int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return calendar.timegm((y, mo, d, h, mi, s)) + frac - offset


@dataclass(frozen=True, slots=True)
class AccountKey:
    account_id: str
    name: str
    key: RSAPublicKey
    since: float
    until: float | None

    def valid_at(self, when: float) -> bool:
        return self.since <= when and (self.until is None or when < self.until)


def account_key(a: Assertion) -> AccountKey:
    """The key an account-key assertion carries, checked against its declared id."""
    key = decode_public_key(a.body)
    if key_id(key) != a.header("public-key-sha3-384"):
        raise AssertError("assertion account-key: public key does not match provided key id")
    until = a.header("until")
    return AccountKey(account_id=a.header("account-id"), name=a.header("name"), key=key,
                      since=parse_time(a.header("since"), '"since" header'),
                      until=parse_time(until, '"until" header') if until else None)


def check(a: Assertion, db: Finder, now: float) -> None:
    """snapd's Database.Check with the default checkers, in their order."""
    key_a = db.find("account-key", {"public-key-sha3-384": a.sign_key_id})
    if key_a is None:
        raise AssertError(
            f'no matching public key "{a.sign_key_id}" for signature by "{a.authority_id}"')
    signer = account_key(key_a)
    if signer.account_id != a.authority_id:
        raise AssertError(f'error finding matching public key for signature: found public '
                              f'key "{a.sign_key_id}" from "{signer.account_id}" but expected '
                              f"it from: {a.authority_id}")
    if not signer.valid_at(now):
        raise AssertError(f'assertion is signed with expired public key "{a.sign_key_id}" '
                              f'from "{a.authority_id}"')
    verify_signature(a, signer.key)
    stamp = a.header("timestamp")
    if stamp and not signer.valid_at(parse_time(stamp, '"timestamp" header')):
        raise AssertError(f"{a.type} assertion timestamp {stamp!r} outside of signing key "
                              "validity")
    _CONSISTENCY[a.type](a, db)


def _check_account(a: Assertion, db: Finder) -> None:
    if not db.is_trusted_account(a.authority_id):
        raise AssertError(f'account assertion for "{a.header("account-id")}" is not signed '
                              f"by a directly trusted authority: {a.authority_id}")


def _check_account_key(a: Assertion, db: Finder) -> None:
    owner = a.header("account-id")
    if not db.is_trusted_account(a.authority_id):
        raise AssertError(f'account-key assertion for "{owner}" is not signed by a '
                              f"directly trusted authority: {a.authority_id}")
    account_key(a)
    if db.find("account", {"account-id": owner}) is None:
        raise AssertError(
            f'account-key assertion for "{owner}" does not have a matching account assertion')


def _check_snap_declaration(a: Assertion, db: Finder) -> None:
    name, snap_id, publisher = a.header("snap-name"), a.header("snap-id"), a.header(
        "publisher-id")
    if not db.is_trusted_account(a.authority_id):
        raise AssertError(f'snap-declaration assertion for "{name}" (id "{snap_id}") is not '
                              f"signed by a directly trusted authority: {a.authority_id}")
    if db.find("account", {"account-id": publisher}) is None:
        raise AssertError(f'snap-declaration assertion for "{name}" (id "{snap_id}") does '
                              "not have a matching account assertion for the publisher "
                              f'"{publisher}"')


def _check_snap_revision(a: Assertion, db: Finder) -> None:
    snap_id, developer = a.header("snap-id"), a.header("developer-id")
    for field in ("snap-revision", "snap-size"):
        if not a.header(field).isdigit() or (field == "snap-revision"
                                             and int(a.header(field)) < 1):
            raise AssertError(f'assertion snap-revision: "{field}" header is not a '
                                  "positive integer")
    if not db.is_trusted_account(a.authority_id):
        raise AssertError(f'snap-revision assertion for snap id "{snap_id}" is not signed '
                              f"by a store: {a.authority_id}")
    if db.find("account", {"account-id": developer}) is None:
        raise AssertError(f'snap-revision assertion for snap id "{snap_id}" does not have a '
                              f'matching account assertion for the developer "{developer}"')
    if db.find("snap-declaration", {"series": SERIES, "snap-id": snap_id}) is None:
        raise AssertError(f'snap-revision assertion for snap id "{snap_id}" does not have a '
                              "matching snap-declaration assertion")


_CONSISTENCY: dict[str, Callable[[Assertion, Finder], None]] = {
    "account": _check_account,
    "account-key": _check_account_key,
    "snap-declaration": _check_snap_declaration,
    "snap-revision": _check_snap_revision,
}


def snap_digest(path: Path) -> tuple[str, int]:
    """``snap-sha3-384`` and size of a file, read in 1 MiB blocks."""
    h = hashlib.sha3_384()
    size = 0
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return encode_digest(h.digest()), size


@dataclass(frozen=True, slots=True)
class SnapSideInfo:
    """What assertions say about a snap file (snapd's SideInfo from assertions)."""

    snap_id: str
    name: str
    revision: int
    publisher_id: str


def derive_side_info(label: str, digest: str, size: int, db: Finder) -> SnapSideInfo:
    """snapd's snapasserts.DeriveSideInfo + CrossCheck for a local file."""
    rev = db.find("snap-revision", {"snap-sha3-384": digest})
    if rev is None:
        raise AssertError(f'cannot find signatures with metadata for snap "{label}"')
    if int(rev.header("snap-size")) != size:
        raise AssertError(f'snap "{label}" does not have expected size according to '
                          f"signatures (broken or tampered): {size} != "
                          f"{rev.header('snap-size')}")
    snap_id = rev.header("snap-id")
    decl = db.find("snap-declaration", {"series": SERIES, "snap-id": snap_id})
    if decl is None:
        raise AssertError(
            f'internal error: cannot find snap declaration for "{label}": {snap_id}')
    name = decl.header("snap-name")
    if not name:
        raise AssertError(f'cannot install snap "{label}" with a revoked snap declaration')
    return SnapSideInfo(snap_id=snap_id, name=name, revision=int(rev.header("snap-revision")),
                        publisher_id=decl.header("publisher-id"))


def publisher(db: Finder, snap_id: str) -> dict[str, str] | None:
    """snapd's ``publisher`` object of a snap: its declaration's publisher account."""
    decl = db.find("snap-declaration", {"series": SERIES, "snap-id": snap_id})
    account = decl and db.find("account", {"account-id": decl.header("publisher-id")})
    if account is None:
        return None
    return {"id": account.header("account-id"), "username": account.header("username"),
            "display-name": account.header("display-name"),
            "validation": account.header("validation")}


def check_asserted_name(label: str, name: str, asserted: SnapSideInfo) -> None:
    """The file's snap.yaml must name the snap its declaration is for."""
    if name != asserted.name:
        raise AssertError(f'cannot install snap "{label}": its snap.yaml name "{name}" '
                              f'does not match the name "{asserted.name}" in its assertions')
