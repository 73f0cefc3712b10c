"""ack, known and installing a signed local snap without --dangerous: real daemon, real
image, assertions signed by a test authority added through USERSNAP_TEST_TRUST."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import assertsign
from tests.helpers.cli import Usersnap, usersnap_session
from tests.helpers.snaps import build_snap
from tests.integration.test_real_snap_client import Real, ok
from tests.integration.test_real_snap_client import snap as snap  # the fixture
from usersnap.asserts.format import Assertion, encode_stream
from usersnap.asserts.verify import encode_digest

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_mksquashfs,
              pytest.mark.timeout(180)]

SNAP_ID = "hel1oSnapId0123456789abcdefABCDE"


@pytest.fixture
def signer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> assertsign.Signer:
    signer, trusted = assertsign.authority()
    trust = tmp_path / "trust.assert"
    trust.write_bytes(encode_stream(trusted))
    trust.chmod(0o600)
    monkeypatch.setenv("USERSNAP_TEST_TRUST", str(trust))
    return signer


@pytest.fixture
def us(signer: assertsign.Signer) -> Iterator[Usersnap]:
    with usersnap_session() as session:
        yield session


def _assertions(signer: assertsign.Signer, blob: bytes, name: str = "hello") -> list[Assertion]:
    decl = signer.sign([("type", "snap-declaration"), ("series", "16"), ("snap-id", SNAP_ID),
                        ("publisher-id", signer.account_id), ("snap-name", name),
                        ("timestamp", "2020-01-01T00:00:00Z")])
    rev = signer.sign([("type", "snap-revision"),
                       ("snap-sha3-384", encode_digest(hashlib.sha3_384(blob).digest())),
                       ("snap-id", SNAP_ID), ("snap-size", str(len(blob))),
                       ("snap-revision", "7"), ("developer-id", signer.account_id),
                       ("timestamp", "2020-01-01T00:00:00Z")])
    return [decl, rev]


def test_install_needs_acknowledged_signatures(
        us: Usersnap, signer: assertsign.Signer, tmp_path: Path) -> None:
    blob = build_snap(tmp_path, "name: hello\nversion: '1.0'\nsummary: s\ndescription: d\n",
                      {"bin/hi": "#!/bin/sh\necho hi\n"}, executables=["bin/hi"])
    proc = us.run("install", str(blob), check=False)
    assert proc.returncode == 1
    assert proc.stderr == f'error: cannot find signatures with metadata for snap "{blob}"\n'
    assert not us.dirs.state_file.exists() or "hello" not in us.state_bytes().decode()

    stream = tmp_path / "hello.assert"
    stream.write_bytes(encode_stream(_assertions(signer, blob.read_bytes())))
    us.run("ack", str(stream))
    us.run("ack", str(stream))  # acknowledging again changes nothing
    known = us.run("known", "snap-declaration", "snap-name=hello").stdout
    assert known.startswith("type: snap-declaration\n") and f"snap-id: {SNAP_ID}\n" in known
    assert us.run("known", "snap-declaration", "snap-name=other").stdout == ""

    out = us.run("install", str(blob)).stdout
    assert out == "hello 1.0 from Test Root (testrootorg**) installed\n"
    listed = us.run("list").stdout.splitlines()[1].split()
    assert listed[:3] == ["hello", "1.0", "7"] and listed[4] == "testrootorg**"
    info = us.run("info", "hello").stdout
    assert "publisher: Test Root (testrootorg**)\n" in info and f"snap-id:      {SNAP_ID}" in info
    state = json.loads(us.state_bytes())
    assert state["snaps"]["hello"]["sequence"][0]["snap-id"] == SNAP_ID

    proc = us.run("install", str(blob), check=False)
    assert proc.stderr == 'error: snap "hello" is already installed at revision 7\n'
    # --dangerous still installs the same file as a local revision
    assert us.run("install", "--dangerous", str(blob)).stdout == "hello 1.0 installed\n"


def test_ack_refuses_tampered_and_unchained_assertions(
        us: Usersnap, signer: assertsign.Signer, tmp_path: Path) -> None:
    decl, rev = _assertions(signer, b"not really a snap")
    tampered = decl.encode().replace(b"snap-name: hello", b"snap-name: hellp")
    bad = tmp_path / "bad.assert"
    bad.write_bytes(tampered)
    proc = us.run("ack", str(bad), check=False)
    assert (proc.returncode, proc.stderr) == (1, "error: cannot assert: assert failed: failed "
                                                 "signature verification: hash tag doesn't "
                                                 "match\n")
    lone = tmp_path / "rev.assert"
    lone.write_bytes(rev.encode())
    proc = us.run("ack", str(lone), check=False)
    assert proc.stderr == ("error: cannot assert: assert failed: snap-revision assertion for "
                           f'snap id "{SNAP_ID}" does not have a matching snap-declaration '
                           "assertion\n")
    junk = tmp_path / "junk"
    junk.write_text("hello\n")
    proc = us.run("ack", str(junk), check=False)
    assert proc.stderr.startswith("error: cannot assert: cannot decode request body into "
                                  "assertions: ")
    assert us.run("known", "snap-revision").stdout == ""
    proc = us.run("known", "modelx", check=False)
    assert proc.stderr == 'error: invalid assert type: "modelx"\n'
    # the built-in trust root is always known
    assert "account-id: canonical\n" in us.run("known", "account", "account-id=canonical").stdout


def test_real_snap_client_ack_known_install(
        signer: assertsign.Signer, snap: Real, tmp_path: Path) -> None:
    """Debian's snap 2.57.6 drives the same endpoints (rest-api.md)."""
    blob = build_snap(tmp_path, "name: hello\nversion: '1.0'\nsummary: s\ndescription: d\n",
                      {"bin/hi": "#!/bin/sh\necho hi\n"}, executables=["bin/hi"])
    refused = " ".join(snap("install", str(blob)).stderr.split())  # snap folds long lines
    assert refused == f'error: cannot find signatures with metadata for snap "{blob}"'
    stream = tmp_path / "hello.assert"
    stream.write_bytes(encode_stream(_assertions(signer, blob.read_bytes())))
    assert ok(snap("ack", str(stream))) == ""
    assert f"snap-id: {SNAP_ID}\n" in ok(snap("known", "snap-declaration", "snap-name=hello"))
    assert ok(snap("install", str(blob))) == "hello 1.0 from Test Root (testrootorg**) installed\n"
    bad = tmp_path / "bad.assert"
    bad.write_bytes(stream.read_bytes().replace(b"snap-name: hello", b"snap-name: hellp"))
    assert " ".join(snap("ack", str(bad)).stderr.split()).startswith(
        "error: cannot assert: assert failed: failed signature verification")
