"""A test signing authority: RSA keys made here, assertions signed the way snapd signs.

Used to build the test trust root (``USERSNAP_TEST_TRUST``) and store assertions for
snaps built in tests; production code never signs.
"""

from __future__ import annotations

import hashlib
import struct
import time
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from usersnap.asserts.format import Assertion, HeaderValue, decode, format_headers
from usersnap.asserts.openpgp import (
    ALGO_RSA,
    TAG_SIGNATURE,
    RSAPublicKey,
    encode_v1,
    mpi,
    packet,
    serialize_public_key,
)
from usersnap.asserts.verify import V1_FIXED_TIMESTAMP, key_id


@cache
def rsa_key(seed: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per name per test session (generation costs ~0.1 s)."""
    del seed
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Signer:
    account_id: str
    private: rsa.RSAPrivateKey

    @property
    def public(self) -> RSAPublicKey:
        n = self.private.public_key().public_numbers()
        return RSAPublicKey(n=n.n, e=n.e, created=V1_FIXED_TIMESTAMP)

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def public_key_body(self) -> bytes:
        return encode_v1(serialize_public_key(self.public))

    def sign(self, headers: list[tuple[str, HeaderValue]], body: bytes = b"",
             authority: str | None = None) -> Assertion:
        """Headers in the given order, then ``sign-key-sha3-384`` (as snapd writes them)."""
        all_headers = [("type", headers[0][1]), ("authority-id", authority or self.account_id),
                       *headers[1:]]
        if body:
            all_headers.append(("body-length", str(len(body))))
        all_headers.append(("sign-key-sha3-384", self.key_id))
        content = format_headers(all_headers) + (b"\n\n" + body if body else b"")
        return decode(content + b"\n\n" + self.signature(content))

    def signature(self, content: bytes) -> bytes:
        hashed = struct.pack(">BBBB", 4, 0, ALGO_RSA, 10) + struct.pack(">H", 6) + bytes(
            [5, 2]) + struct.pack(">I", int(time.time()))
        suffix = hashed + b"\x04\xff" + struct.pack(">I", len(hashed))
        digest = hashlib.sha512(content + suffix).digest()
        sig = self.private.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA512()))
        body = hashed + struct.pack(">H", 0) + digest[:2] + mpi(int.from_bytes(sig, "big"))
        return encode_v1(packet(TAG_SIGNATURE, body))


def authority(account_id: str = "testrootorg") -> tuple[Signer, list[Assertion]]:
    """A self-signed test root: its account and account-key, for the test trust file."""
    signer = Signer(account_id, rsa_key(account_id))
    account = signer.sign([("type", "account"), ("account-id", account_id),
                           ("display-name", "Test Root"), ("timestamp", "2016-04-01T00:00:00Z"),
                           ("username", account_id), ("validation", "verified")])
    key = account_key(signer, signer, "root")
    return signer, [account, key]


def account_key(by: Signer, owner: Signer, name: str, since: str = "2016-04-01T00:00:00Z",
                until: str | None = None) -> Assertion:
    headers: list[tuple[str, HeaderValue]] = [
        ("type", "account-key"), ("account-id", owner.account_id), ("name", name),
        ("public-key-sha3-384", owner.key_id), ("since", since)]
    if until:
        headers.append(("until", until))
    return by.sign(headers, owner.public_key_body())
