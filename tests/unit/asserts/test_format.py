"""The assertion text format, against snapd's parser rules and real assertions."""

from __future__ import annotations

from pathlib import Path

import pytest

from usersnap.asserts.format import AssertError, decode, decode_stream, format_headers

DATA = Path(__file__).parent / "data"


def test_real_declaration_with_nested_headers_round_trips() -> None:
    raw = (DATA / "go.snap-declaration").read_bytes()
    a = decode(raw)
    assert a.type == "snap-declaration" and a.revision == 2
    assert a.headers["aliases"] == [{"name": "gofmt", "target": "gofmt"}]
    assert a.headers["auto-aliases"] == ["gofmt"]
    assert a.primary_key == ("16", "Md1HBASHzP4i0bniScAjXGnOII9cEK6e")
    assert a.encode() == raw
    # snapd's serialiser reproduces the signed bytes from the parsed headers
    assert format_headers(list(a.headers.items())) == a.content


def test_stream_of_assertions_with_bodies() -> None:
    found = decode_stream((DATA / "model-etc.asserts").read_bytes())
    assert [a.type for a in found] == ["account-key", "account", "account-key"]
    assert found[0].header("name") == "store" and len(found[0].body) == 717
    assert found[0].content.endswith(found[0].body)
    assert found[1].sign_key_id == found[0].header("public-key-sha3-384")
    assert found[2].signature.endswith(b"\n")


def test_multiline_text_and_map_values() -> None:
    head = b"type: account\nnote:\n    line one\n    line two\nm:\n  b: 2\n  a:\n    - x\n    - y"
    a = decode(head + b"\nauthority-id: c\naccount-id: c\nsign-key-sha3-384: k\n\nsig")
    assert a.headers["note"] == "line one\nline two"
    assert a.headers["m"] == {"a": ["x", "y"], "b": "2"}


@pytest.mark.parametrize(("text", "message"), [
    (b"no separator", "assertion content/signature separator not found"),
    (b"type account\n\nsig", "header entry missing ':' separator"),
    (b"Type: x\n\nsig", "invalid header name: 'Type'"),
    (b"type: a\ntype: b\n\nsig", "repeated header: 'type'"),
    (b"type:x\n\nsig", "should have a space or newline"),
    (b"type: account\nauthority-id: c\naccount-id: c\nsign-key-sha3-384: k\n"
     b"body-length: 5\n\nabc\n\nsig", "body length and declared body-length don't match"),
    (b"type: thing\nauthority-id: c\nsign-key-sha3-384: k\n\nsig",
     "unknown assertion type: 'thing'"),
    (b"type: account\nauthority-id: c\nsign-key-sha3-384: k\n\nsig",
     'assertion account: "account-id" header is mandatory'),
    (b"type: account\nauthority-id: c\naccount-id: a/b\nsign-key-sha3-384: k\n\nsig",
     "cannot contain '/'"),
    (b"type: account\nauthority-id: c\naccount-id: c\n\nsig",
     '"sign-key-sha3-384" header is mandatory'),
])
def test_malformed_assertions_are_refused(text: bytes, message: str) -> None:
    with pytest.raises(AssertError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode(text)


def test_stream_limits_and_truncation() -> None:
    with pytest.raises(AssertError, match="maximum size exceeded"):
        decode_stream(b"type: account\nx: " + b"a" * (200 * 1024))
    with pytest.raises(AssertError, match="exceeds maximum body size"):
        decode_stream(b"type: account\nbody-length: 99999999\n\n")
    raw = (DATA / "model-etc.asserts").read_bytes()
    with pytest.raises(AssertError):
        decode_stream(raw[:1000])
