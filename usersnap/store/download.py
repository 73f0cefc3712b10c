"""Downloads from the store: resumable, checked against the SHA3-384 the store announced
and the assertions it signed (snapd's store_download.go and snapasserts)."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
from collections.abc import Callable
from pathlib import Path

from usersnap.asserts import trust
from usersnap.asserts.db import AssertionDb
from usersnap.asserts.format import AssertError, Assertion, decode_stream
from usersnap.asserts.verify import SERIES, derive_side_info, encode_digest
from usersnap.store.client import StoreClient, StoreError, StoreSnap

Progress = Callable[[int, int], None]
_BLOCK = 256 * 1024


def download_snap(client: StoreClient, snap: StoreSnap, target: Path,
                  progress: Progress | None = None) -> None:
    """Fetch ``snap`` to ``target``; a ``.partial`` file left by a failed attempt is
    resumed with a Range request.  Nothing is at ``target`` unless the digest matched."""
    partial = target.with_name(target.name + ".partial")
    h = hashlib.sha3_384()
    done = 0
    if partial.exists():
        with partial.open("rb") as f:
            while block := f.read(_BLOCK):
                h.update(block)
                done += len(block)
    headers = {"Range": f"bytes={done}-"} if 0 < done < snap.size else {}
    try:
        resp = client.open(snap.download_url, headers=headers)
    except urllib.error.HTTPError as e:
        if e.code != 416:
            raise StoreError(f'cannot download snap "{snap.name}": HTTP {e.code}') from None
        resp = None  # nothing left to fetch: the partial file is whole
    if resp is not None:
        with resp, partial.open("ab" if resp.status == 206 else "wb") as out:
            if resp.status != 206:
                h, done = hashlib.sha3_384(), 0
            try:
                while block := resp.read(_BLOCK):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, snap.size)
            except (OSError, http.client.HTTPException) as e:
                raise StoreError(f'cannot download snap "{snap.name}": {e}; run the command '
                                 "again to resume") from None
    if done < snap.size:
        raise StoreError(f'cannot download snap "{snap.name}": the connection closed after '
                         f"{done} of {snap.size} bytes; run the command again to resume")
    got = encode_digest(h.digest())
    if got != snap.sha3_384:
        partial.unlink(missing_ok=True)
        raise StoreError(f'sha3-384 mismatch for "{snap.name}": got {got} but expected '
                         f"{snap.sha3_384}")
    os.replace(partial, target)


def fetch_assertions(client: StoreClient, snap: StoreSnap) -> list[Assertion]:
    """The chain that vouches for the downloaded file, checked in a scratch database:
    account-keys, publisher account, snap-declaration, snap-revision (snap download's
    order)."""
    rev = _one(client, "snap-revision", [snap.sha3_384])
    decl = _one(client, "snap-declaration", [SERIES, snap.snap_id])
    account = _one(client, "account", [decl.header("publisher-id")])
    with tempfile.TemporaryDirectory(prefix="usersnap-asserts-") as scratch:
        db = AssertionDb(Path(scratch), trusted=trust.extra_trusted())
        builtin = {a.header("public-key-sha3-384") for a in (*db.trusted, *db.predefined)}
        chain = [_one(client, "account-key", [key_id])
                 for key_id in dict.fromkeys(a.sign_key_id for a in (rev, decl, account))
                 if key_id not in builtin]
        chain += [account, decl, rev]
        try:
            db.add_all(chain)
            side = derive_side_info(snap.name, snap.sha3_384, snap.size, db)
        except AssertError as e:
            raise StoreError(f'cannot verify the assertions of "{snap.name}": {e}') from None
    if (side.snap_id, side.revision) != (snap.snap_id, snap.revision):
        raise StoreError(f'snap "{snap.name}" does not have expected ID or revision according '
                         "to assertions (metadata is broken or tampered)")
    return chain


def _one(client: StoreClient, type_: str, key: list[str]) -> Assertion:
    try:
        found = decode_stream(client.assertion(type_, key))
    except AssertError as e:
        raise StoreError(f"cannot decode {type_} assertion from the store: {e}") from None
    if len(found) != 1 or found[0].type != type_:
        raise StoreError(f"the store sent no {type_} assertion for {'/'.join(key)}")
    return found[0]

