"""Go standard-library behaviours snapd's verdicts and messages depend on."""

from __future__ import annotations

import pytest

from usersnap.meta.gostd import (
    GoNumError,
    go_format_float,
    go_parse_duration,
    go_parse_int,
    go_parse_uint,
    go_quote_ascii,
    go_quote_rune,
)
from usersnap.meta.goyaml import GoUint64, go_resolve


@pytest.mark.parametrize(("text", "base", "value"), [
    ("755", 8, 0o755), ("0", 8, 0), ("37777777777", 8, 2**32 - 1), ("0x1f", 0, 31),
    ("0o17", 0, 15), ("017", 0, 15), ("0b101", 0, 5), ("12", 10, 12),
])
def test_parse_uint(text: str, base: int, value: int) -> None:
    assert go_parse_uint(text, base, 32) == value


@pytest.mark.parametrize(("text", "message"), [
    ("0799", 'strconv.ParseUint: parsing "0799": invalid syntax'),
    ("", 'strconv.ParseUint: parsing "": invalid syntax'),
    ("0o755", 'strconv.ParseUint: parsing "0o755": invalid syntax'),
    ("40000000000", 'strconv.ParseUint: parsing "40000000000": value out of range'),
])
def test_parse_uint_errors(text: str, message: str) -> None:
    with pytest.raises(GoNumError) as err:
        go_parse_uint(text, 8, 32)
    assert str(err.value) == message


def test_parse_int() -> None:
    assert go_parse_int("-0x10", 0, 64) == -16
    assert go_parse_int("+7", 10, 64) == 7
    with pytest.raises(GoNumError):
        go_parse_int("9223372036854775808", 0, 64)
    with pytest.raises(GoNumError):
        go_parse_int("09", 0, 64)


@pytest.mark.parametrize(("text", "nanoseconds"), [
    ("10s", 10 * 10**9), ("1h30m", 5400 * 10**9), ("-1.5s", -1_500_000_000), ("0", 0),
    ("1.s", 10**9), ("5µs", 5000), ("1ms500us", 1_500_000),
])
def test_parse_duration(text: str, nanoseconds: int) -> None:
    assert go_parse_duration(text) == nanoseconds


@pytest.mark.parametrize(("text", "message"), [
    ("10", 'time: missing unit in duration "10"'),
    ("x", 'time: invalid duration "x"'),
    ("", 'time: invalid duration ""'),
    (".s", 'time: invalid duration ".s"'),
    ("3d", 'time: unknown unit "d" in duration "3d"'),
    ("9999999999h", 'time: invalid duration "9999999999h"'),
])
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^time: ") as err:
        go_parse_duration(text)
    assert str(err.value) == message


def test_quoting() -> None:
    assert go_quote_ascii("é\x01😁") == '"\\u00e9\\x01\\U0001f601"'
    assert go_quote_rune(1) == "'\\x01'"
    assert go_quote_rune(ord("'")) == "'\\''"
    assert go_quote_rune(ord("A")) == "'A'"


@pytest.mark.parametrize(("value", "text"), [
    (1.5, "1.5"), (3.0, "3"), (1e6, "1e+06"), (123456.0, "123456"), (1e-5, "1e-05"),
])
def test_format_float(value: float, text: str) -> None:
    assert go_format_float(value) == text


@pytest.mark.parametrize(("text", "tag", "value"), [
    ("yes", "!!bool", True), ("Off", "!!bool", False), ("~", "!!null", None),
    ("0755", "!!int", 493), ("09", "!!float", 9.0), ("1_000", "!!int", 1000),
    ("1.5", "!!float", 1.5), (".5", "!!float", 0.5), ("nan", "!!str", "nan"),
    ("18446744073709551615", "!!int", GoUint64(2**64 - 1)), ("2001-12-14", "!!timestamp", None),
])
def test_resolve(text: str, tag: str, value: object) -> None:
    rtag, resolved = go_resolve("", text)
    assert rtag == "tag:yaml.org,2002:" + tag[2:]
    if tag != "!!timestamp":
        assert resolved == value
        assert type(resolved) is type(value)
