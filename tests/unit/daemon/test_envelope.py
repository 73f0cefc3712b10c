from __future__ import annotations

import datetime as dt
import json

import pytest

from usersnap.daemon.envelope import (
    Response,
    async_response,
    error_response,
    json_dumps,
    rfc3339,
    sync_response,
)
from usersnap.errors import SnapNotFoundError, UsersnapError


def body(resp: Response) -> dict[str, object]:
    assert isinstance(resp.body, bytes)
    env = json.loads(resp.body)
    assert isinstance(env, dict)
    return env


def test_sync_response_shape() -> None:
    resp = sync_response([{"name": "hello"}])
    assert resp.status == 200
    assert resp.headers == {"Content-Type": "application/json"}
    assert body(resp) == {
        "type": "sync", "status-code": 200, "status": "OK", "result": [{"name": "hello"}],
    }


def test_sync_response_null_result_and_custom_status() -> None:
    resp = sync_response(None, status=201)
    assert resp.status == 201
    assert body(resp)["result"] is None
    assert body(resp)["status"] == "Created"


def test_sync_response_warnings_only_when_some() -> None:
    assert "warning-count" not in body(sync_response({}, warnings=(0, 1.0)))
    env = body(sync_response({}, warnings=(2, 1_700_000_000.25)))
    assert env["warning-count"] == 2
    assert env["warning-timestamp"] == "2023-11-14T22:13:20.25Z"


def test_async_response_is_http_202_with_change() -> None:
    resp = async_response("42")
    assert resp.status == 202
    assert body(resp) == {
        "type": "async", "status-code": 202, "status": "Accepted", "result": None, "change": "42",
    }


def test_async_response_needs_an_id() -> None:
    with pytest.raises(ValueError, match="change id"):
        async_response("")


def test_error_response_with_kind_and_value() -> None:
    resp = error_response(SnapNotFoundError('snap "foo" not found', value="foo"))
    assert resp.status == 404
    assert body(resp) == {
        "type": "error", "status-code": 404, "status": "Not Found",
        "result": {"message": 'snap "foo" not found', "kind": "snap-not-found", "value": "foo"},
    }


def test_error_response_omits_empty_kind_and_value() -> None:
    env = body(error_response(UsersnapError("bad thing")))
    assert env["result"] == {"message": "bad thing"}
    assert env["status-code"] == 400


def test_error_response_keeps_falsy_but_present_value() -> None:
    env = body(error_response(UsersnapError("x", value=0)))
    assert env["result"] == {"message": "x", "value": 0}


def test_error_response_status_override() -> None:
    resp = error_response(UsersnapError("boom"), status=500)
    assert resp.status == 500
    assert body(resp)["status"] == "Internal Server Error"


def test_json_dumps_is_compact_utf8_and_refuses_nan() -> None:
    assert json_dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()
    with pytest.raises(ValueError, match="JSON"):
        json_dumps(float("nan"))


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (0.0, "1970-01-01T00:00:00Z"),
        (1_700_000_000.5, "2023-11-14T22:13:20.5Z"),
        (1_700_000_000.123456, "2023-11-14T22:13:20.123456Z"),
        (dt.datetime(2026, 11, 22, 4, 39, 1, tzinfo=dt.timezone.utc), "2026-11-22T04:39:01Z"),
        (
            dt.datetime(2026, 11, 22, 6, 39, 1, 500000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-11-22T04:39:01.5Z",
        ),
    ],
)
def test_rfc3339(when: dt.datetime | float, text: str) -> None:
    assert rfc3339(when) == text


def test_rfc3339_naive_is_local_time() -> None:
    naive = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert rfc3339(naive) == rfc3339(naive.timestamp())


def test_rfc3339_parses_back() -> None:
    from usersnap.cli.render import parse_rfc3339

    stamp = 1_700_000_000.75
    assert parse_rfc3339(rfc3339(stamp)) == stamp
