"""snapd's response envelope: the one place that decides what a response looks like.

The real ``snap`` client reads only the HTTP status, ``type``, ``result``, ``change`` and
the warning fields (``status-code``/``status`` are sent for fidelity and ignored), so the
rules here are the ones that break it when wrong: async answers are HTTP 202 with a
non-empty change id, times are RFC 3339 and never ``""``.  No I/O happens here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus

from usersnap.errors import UsersnapError

JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class Response:
    """What a handler returns; an async iterator body is sent with chunked encoding."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | AsyncIterator[bytes] = b""


def json_dumps(value: object) -> bytes:
    """Compact UTF-8 JSON; NaN is refused because Go's decoder refuses it too."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def rfc3339(when: dt.datetime | float) -> str:
    """Format like Go's ``time.RFC3339Nano`` in UTC (``2006-01-02T15:04:05.5Z``).

    A float is a POSIX timestamp; a naive datetime is taken as local time, as
    ``datetime.astimezone`` does.
    """
    if isinstance(when, dt.datetime):
        utc = when.astimezone(dt.timezone.utc)
    else:
        utc = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _json_response(status: int, envelope: dict[str, object]) -> Response:
    return Response(status, {"Content-Type": JSON_TYPE}, json_dumps(envelope))


def sync_response(
    result: object,
    *,
    status: int = 200,
    warnings: tuple[int, dt.datetime | float] | None = None,
) -> Response:
    """A ``sync`` answer; ``warnings`` is (unshown count, newest timestamp), left out when 0."""
    envelope: dict[str, object] = {
        "type": "sync", "status-code": status, "status": _reason(status), "result": result,
    }
    if warnings is not None and warnings[0] > 0:
        envelope["warning-count"] = warnings[0]
        envelope["warning-timestamp"] = rfc3339(warnings[1])
    return _json_response(status, envelope)


def async_response(change_id: str) -> Response:
    """The answer to every state-changing request: HTTP 202 naming the change to poll."""
    if not change_id:
        raise ValueError("an async response needs a change id")
    return _json_response(202, {
        "type": "async", "status-code": 202, "status": "Accepted", "result": None,
        "change": change_id,
    })


def error_response(err: UsersnapError, *, status: int | None = None) -> Response:
    """An ``error`` envelope; ``kind`` and ``value`` are omitted when empty, as snapd does."""
    code = err.status if status is None else status
    result: dict[str, object] = {"message": err.message}
    if err.kind:
        result["kind"] = err.kind
    if err.value is not None:
        result["value"] = err.value
    return _json_response(code, {
        "type": "error", "status-code": code, "status": _reason(code), "result": result,
    })
