"""validate_snap's error type and the rule helpers with their own grammar."""

from __future__ import annotations

import pytest

from usersnap.errors import SnapYamlError
from usersnap.meta import SnapValidationError, parse_snap_yaml, validate_snap
from usersnap.meta.spdx import LicenseError, validate_license
from usersnap.meta.validate import url_scheme


def test_error_carries_reason_and_snapd_text() -> None:
    info = parse_snap_yaml("name: probe\nversion: '1.0 beta'\n")
    with pytest.raises(SnapValidationError) as err:
        validate_snap(info)
    assert isinstance(err.value, SnapYamlError)
    assert err.value.reason == (
        'invalid snap version "1.0 beta": must be printable, non-whitespace ASCII'
    )
    assert str(err.value) == f'cannot validate snap "probe": {err.value.reason}'


def test_layouts_are_checked_last() -> None:
    info = parse_snap_yaml("name: probe\nversion: 1\nlayout:\n  /tmp/x:\n    type: tmpfs\n")
    with pytest.raises(SnapValidationError) as err:
        validate_snap(info)
    assert err.value.reason == 'layout "/tmp/x" defines a new top-level directory "/tmp"'


@pytest.mark.parametrize(("link", "scheme"), [
    ("https://example.com/a b", "https"), ("mailto:a@b.c", "mailto"), ("a@b.c", ""),
    ("HTTP://X", "http"), ("ftp://x", "ftp"), ("http://[::1]:80/", "http"), ("x/y:z", ""),
])
def test_url_scheme(link: str, scheme: str) -> None:
    assert url_scheme(link) == scheme


@pytest.mark.parametrize("link", [
    ":x", "https://exa mple.com", "http://x:abc/", "http://x/%zz", "a b:c", "/%zz",
    "http://u p@x", "http://[::1",
])
def test_url_errors(link: str) -> None:
    with pytest.raises(ValueError):
        url_scheme(link)


@pytest.mark.parametrize("expression", [
    "MIT", "GPL-3.0+", "(MIT OR Apache-2.0) AND BSD-3-Clause", "Proprietary", "(MIT)",
    "GPL-2.0 WITH Classpath-exception-2.0",
])
def test_valid_licenses(expression: str) -> None:
    validate_license(expression)


@pytest.mark.parametrize(("expression", "message"), [
    ("mit", "unknown license: mit"),
    ("MIT Apache-2.0", 'missing AND or OR between "MIT" and "Apache-2.0"'),
    ("MIT AND", "missing license after AND"),
    ("(MIT", 'expected ")" got ""'),
    ("()", "empty expression"),
    ("(MIT) GPL-3.0", 'unexpected string: "GPL-3.0"'),
    ("GPL-2.0 WITH x", "unknown license exception: x"),
])
def test_invalid_licenses(expression: str, message: str) -> None:
    with pytest.raises(LicenseError) as err:
        validate_license(expression)
    assert str(err.value) == message
