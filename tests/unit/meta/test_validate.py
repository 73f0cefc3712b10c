"""validate_snap's error type and the rule helpers with their own grammar."""

from __future__ import annotations

import pytest

from usersnap.errors import SnapYamlError
from usersnap.meta import SnapValidationError, parse_snap_yaml, validate_snap
from usersnap.meta.spdx import LicenseError, validate_license
from usersnap.meta.validate import check_schedule, url_scheme


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


@pytest.mark.parametrize("spec", [
    "mon", "mon-fri", "mon1", "mon1-mon", "10:00", "9:00-11:00/2", "23:00~24:00/3",
    "mon,10:00,,fri,15:00", "mon,wed,10:00,15:00", "24:00",
])
def test_valid_schedules(spec: str) -> None:
    check_schedule(spec)


@pytest.mark.parametrize(("spec", "message"), [
    ("bogus", 'cannot parse "bogus": "bogus" is not a valid weekday'),
    ("mon,", 'cannot parse "mon,": not a valid fragment'),
    ("10:00,mon", 'cannot parse "mon": invalid schedule fragment'),
    ("mon5-mon1", 'cannot parse "mon5-mon1": unsupported schedule'),
    ("mon-tue-wed", 'cannot parse "mon-tue-wed": invalid week span'),
    ("25:00", 'cannot parse "25:00": not a valid time'),
    ("10:00/0", 'cannot parse "10:00/0": not a valid interval'),
])
def test_invalid_schedules(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="cannot parse") as err:
        check_schedule(spec)
    assert str(err.value) == message


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
