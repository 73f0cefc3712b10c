"""USERSNAP_TEST_TRUST adds a test authority only under the documented conditions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import assertsign
from usersnap.asserts import trust
from usersnap.asserts.db import AssertionDb
from usersnap.asserts.format import AssertError, encode_stream


def _write(path: Path, data: bytes, mode: int = 0o600) -> str:
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


def test_absent_means_builtin_only() -> None:
    assert trust.extra_trusted({}) == ()
    assert trust.extra_trusted({"USERSNAP_ROOT": "/x"}) == ()


def test_honoured_with_explicit_root(tmp_path: Path) -> None:
    _, asserts = assertsign.authority("testroot2")
    path = _write(tmp_path / "trust", encode_stream(asserts))
    extra = trust.extra_trusted({"USERSNAP_TEST_TRUST": path, "USERSNAP_ROOT": str(tmp_path)})
    assert [a.type for a in extra] == ["account", "account-key"]
    db = AssertionDb(tmp_path / "a", trusted=extra)
    assert db.is_trusted_account("testroot2") and db.is_trusted_account("canonical")


def test_refused_without_root_or_when_writable_by_others(tmp_path: Path) -> None:
    _, asserts = assertsign.authority("testroot2")
    data = encode_stream(asserts)
    path = _write(tmp_path / "trust", data)
    with pytest.raises(AssertError, match="only with USERSNAP_ROOT set"):
        trust.extra_trusted({"USERSNAP_TEST_TRUST": path})
    loose = _write(tmp_path / "loose", data, 0o666)
    with pytest.raises(AssertError, match="writable by nobody else"):
        trust.extra_trusted({"USERSNAP_TEST_TRUST": loose, "USERSNAP_ROOT": "/r"})
    assert os.getuid() == os.stat(path).st_uid


def test_cannot_shadow_canonical_or_add_other_types(tmp_path: Path) -> None:
    signer, _ = assertsign.authority("testroot2")
    fake = signer.sign([("type", "account"), ("account-id", "canonical"),
                        ("display-name", "Not Canonical"), ("timestamp", "2020-01-01T00:00:00Z"),
                        ("username", "c"), ("validation", "verified")])
    path = _write(tmp_path / "t", fake.encode())
    with pytest.raises(AssertError, match="cannot define 'canonical'"):
        trust.extra_trusted({"USERSNAP_TEST_TRUST": path, "USERSNAP_ROOT": "/r"})
    decl = signer.sign([("type", "snap-declaration"), ("series", "16"), ("snap-id", "x" * 32),
                        ("publisher-id", "testroot2"), ("snap-name", "x"),
                        ("timestamp", "2020-01-01T00:00:00Z")])
    path = _write(tmp_path / "t2", decl.encode())
    with pytest.raises(AssertError, match="only hold account and account-key"):
        trust.extra_trusted({"USERSNAP_TEST_TRUST": path, "USERSNAP_ROOT": "/r"})
