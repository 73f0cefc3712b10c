"""The few Go standard-library behaviours snapd's messages and verdicts depend on.

snapd parses numbers with ``strconv``, durations with ``time.ParseDuration`` and quotes
values with ``%q``; the accepted inputs and the error texts differ from Python's, so
they are reproduced here rule by rule (Go 1.19, the toolchain Debian built 2.57.6 with).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from usersnap.layouts import validate as _layouts


class GoNumError(ValueError):
    """strconv's ``*NumError``; ``str()`` is Go's text, ``range_error`` tells ErrRange apart."""

    def __init__(self, func: str, text: str, *, range_error: bool) -> None:
        reason = "value out of range" if range_error else "invalid syntax"
        super().__init__(f"strconv.{func}: parsing {go_quote(text)}: {reason}")
        self.range_error = range_error


def go_quote(text: str) -> str:
    """Go's ``%q`` of a string."""
    return _layouts.go_quote(text)


def go_quote_ascii(text: str) -> str:
    """Go's ``strconv.QuoteToASCII``: like ``%q`` but every non-ASCII rune escaped."""
    out = []
    for char in go_quote(text)[1:-1]:
        code = ord(char)
        if code < 0x80:
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def go_quote_rune(code: int) -> str:
    """Go's ``%q`` of an integer: a quoted character literal (``'\\x01'``, ``'A'``)."""
    if code == ord("'"):
        return "'\\''"
    if code == ord('"'):
        return "'\"'"
    if 0 <= code <= 0x10FFFF:
        return "'" + go_quote(chr(code))[1:-1] + "'"
    return "'\\ufffd'"


def go_format_value(value: object) -> str:
    """Go's ``%v`` for the scalar types yaml.v2 produces."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_format_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_format_value(item) for item in value) + "]"
    return str(value)


def go_format_float(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp10 = len(text) + exponent - 1
    head = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{head}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    return head + format(abs(Decimal(repr(value)).normalize()), "f")


def go_parse_uint(text: str, base: int, bits: int, *, func: str = "ParseUint") -> int:
    """``strconv.ParseUint`` (base 0 understands 0b/0o/0x and a leading 0 as octal)."""
    digits = text
    if not digits:
        raise GoNumError(func, text, range_error=False)
    if base == 0:
        base = 10
        if digits[0] == "0":
            prefix = digits[1:2].lower()
            if len(digits) >= 3 and prefix in ("b", "o", "x"):
                base = {"b": 2, "o": 8, "x": 16}[prefix]
                digits = digits[2:]
            else:
                base = 8
                digits = digits[1:]
    limit = (1 << bits) - 1
    value = 0
    for char in digits:
        lower = char.lower()
        if "0" <= char <= "9":
            digit = ord(char) - ord("0")
        elif "a" <= lower <= "z":
            digit = ord(lower) - ord("a") + 10
        else:
            raise GoNumError(func, text, range_error=False)
        if digit >= base:
            raise GoNumError(func, text, range_error=False)
        value = value * base + digit
        if value > limit:
            raise GoNumError(func, text, range_error=True)
    return value


def go_parse_int(text: str, base: int, bits: int) -> int:
    """``strconv.ParseInt``: an optional sign, then :func:`go_parse_uint`'s rules."""
    body, negative = text, False
    if body[:1] in ("+", "-"):
        negative = body[0] == "-"
        body = body[1:]
    try:
        magnitude = go_parse_uint(body, base, bits, func="ParseInt")
    except GoNumError as err:
        raise GoNumError("ParseInt", text, range_error=err.range_error) from None
    cutoff = 1 << (bits - 1)
    if (not negative and magnitude >= cutoff) or (negative and magnitude > cutoff):
        raise GoNumError("ParseInt", text, range_error=True)
    return -magnitude if negative else magnitude


_DECIMAL_FLOAT = r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
_SPECIAL_FLOAT = r"(?i)[-+]?(?:inf|infinity|nan)"


def go_parse_float(text: str) -> float | None:
    """``strconv.ParseFloat(s, 64)`` for decimal and inf/nan spellings; None on error
    (overflow included: Go reports ErrRange where Python would return inf)."""
    if re.fullmatch(_SPECIAL_FLOAT, text):
        return float(text)
    if not re.fullmatch(_DECIMAL_FLOAT, text):
        return None
    value = float(text)
    return None if math.isinf(value) else value


_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}


def _time_quote(text: str) -> str:
    """The ``time`` package's own quoting: non-ASCII and control bytes as ``\\xNN``."""
    out: list[str] = []
    for char in text:
        if ord(char) >= 0x80 or char < " ":
            out.extend(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + char if char in '"\\' else char)
    return '"' + "".join(out) + '"'


def go_parse_duration(text: str) -> int:
    """``time.ParseDuration`` in nanoseconds; ValueError carries Go's message."""
    invalid = ValueError("time: invalid duration " + _time_quote(text))
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or (rest[0].isascii() and rest[0].isdigit())):
            raise invalid
        match = re.match(r"[0-9]*", rest)
        assert match is not None
        whole_digits = match.group()
        rest = rest[len(whole_digits) :]
        whole = int(whole_digits) if whole_digits else 0
        if whole > 1 << 63:
            raise invalid
        fraction_digits = ""
        has_fraction = False
        if rest[:1] == ".":
            match = re.match(r"[0-9]*", rest[1:])
            assert match is not None
            fraction_digits = match.group()
            has_fraction = bool(fraction_digits)
            rest = rest[1 + len(fraction_digits) :]
        if not whole_digits and not has_fraction:
            raise invalid
        unit_len = 0
        while unit_len < len(rest) and not (rest[unit_len] == "." or "0" <= rest[unit_len] <= "9"):
            unit_len += 1
        if unit_len == 0:
            raise ValueError("time: missing unit in duration " + _time_quote(text))
        unit_name, rest = rest[:unit_len], rest[unit_len:]
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise ValueError(
                f"time: unknown unit {_time_quote(unit_name)} in duration {_time_quote(text)}"
            )
        if whole > (1 << 63) // unit:
            raise invalid
        value = whole * unit
        fraction, scale = _leading_fraction(fraction_digits)
        if fraction > 0:
            value += int(float(fraction) * (float(unit) / scale))
            if value > 1 << 63:
                raise invalid
        total += value
        if total > 1 << 63:
            raise invalid
    if negative:
        return -total
    if total > (1 << 63) - 1:
        raise invalid
    return total


def _leading_fraction(digits: str) -> tuple[int, float]:
    """``time.leadingFraction``: digits past float64 precision are dropped, not an error."""
    value, scale, overflow = 0, 1.0, False
    for char in digits:
        if overflow:
            continue
        if value > ((1 << 63) - 1) // 10:
            overflow = True
            continue
        candidate = value * 10 + int(char)
        if candidate > 1 << 63:
            overflow = True
            continue
        value = candidate
        scale *= 10
    return value, scale


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean``."""
    return _layouts.go_clean(path)


def go_dir(path: str) -> str:
    """Go's ``filepath.Dir``: Clean of everything before the last slash."""
    head = path[: path.rfind("/") + 1]
    return go_clean(head) if head else "."
