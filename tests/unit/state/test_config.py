from __future__ import annotations

import pytest

from usersnap.state.config import (
    ConfigError,
    NoOptionError,
    Transaction,
    format_json,
    get,
    parse_key,
    patch_order,
    set_value,
)

DOC = {"a": {"b": 1, "c": {"d": "x"}}, "s": "text"}


@pytest.mark.parametrize("key", ["a", "a-b", "a1", "1a", "a.b-c.d9", "foo-bar1"])
def test_valid_keys(key: str) -> None:
    assert parse_key(key) == key.split(".")


@pytest.mark.parametrize(("key", "part"), [("A", "A"), ("a.", ""), ("a..b", ""), ("-a", "-a"),
                                           ("a--b", "a--b"), ("1", "1"), ("a_b", "a_b")])
def test_invalid_keys_are_snapds_error(key: str, part: str) -> None:
    with pytest.raises(ConfigError, match=f'^invalid option name: "{part}"$'):
        parse_key(key)


def test_get_navigates_and_copies() -> None:
    assert get(DOC, "s", "a.c.d") == "x"
    assert get(DOC, "s", "") == DOC
    value = get(DOC, "s", "a")
    value["b"] = 2
    assert DOC["a"]["b"] == 1  # type: ignore[index]


def test_get_errors_name_the_missing_part() -> None:
    with pytest.raises(NoOptionError, match=r'^snap "s" has no "a.x" configuration option$'):
        get(DOC, "s", "a.x.y")
    with pytest.raises(NoOptionError, match=r'^snap "s" has no configuration$'):
        get({}, "s", "")
    with pytest.raises(ConfigError, match=r'^snap "s" option "s" is not a map$'):
        get(DOC, "s", "s.x")
    assert NoOptionError("x").kind == "option-not-found"


def test_set_creates_replaces_and_unsets() -> None:
    doc = set_value(DOC, "s", "n.m", {"k": None, "v": [1]})
    assert doc["n"] == {"m": {"v": [1]}}  # nulls inside values are dropped
    assert set_value(doc, "s", "a.c", None)["a"] == {"b": 1}
    assert set_value({}, "s", "x.y", None) == {"x": {}}  # as snapd's PatchConfig leaves it
    with pytest.raises(ConfigError, match=r'^snap "s" option "s" is not a map$'):
        set_value(DOC, "s", "s.deeper", 1)
    assert DOC["a"]["c"] == {"d": "x"}  # type: ignore[index]


def test_patch_applies_shallow_keys_first() -> None:
    assert patch_order({"a.b.c": 1, "a": 2, "a.b": 3}) == ["a", "a.b", "a.b.c"]
    tr = Transaction("s", {})
    tr.patch({"a.b": 1, "a": {"z": 0}})
    assert tr.doc == {"a": {"z": 0, "b": 1}}


def test_transaction_replays_its_writes_onto_the_config_of_commit_time() -> None:
    tr = Transaction("s", {"a": 1})
    tr.set("b", 2)
    tr.set("a", None)
    assert tr.get("b") == 2 and tr.changed
    with pytest.raises(NoOptionError):
        tr.get("a")
    assert tr.commit_onto({"a": 1, "other": "meanwhile"}) == {"b": 2, "other": "meanwhile"}
    assert not Transaction("s", {}).changed


def test_format_json_is_gos_marshal_indent() -> None:
    assert format_json({"b": "<&>", "a": [1, 2.5, {}], "c": None}) == (
        '{\n\t"a": [\n\t\t1,\n\t\t2.5,\n\t\t{}\n\t],\n\t"b": "\\u003c\\u0026\\u003e",\n'
        '\t"c": null\n}')
    assert format_json("x\u2028") == '"x\\u2028"'
