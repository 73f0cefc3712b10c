"""snapd's naming rules and their messages."""

from __future__ import annotations

import pytest

from usersnap.meta.naming import (
    NamingError,
    epoch_from_lists,
    epoch_string,
    is_supported_hook,
    parse_epoch,
    parse_revision,
    revision_string,
    validate_app_name,
    validate_hook_name,
    validate_instance_name,
    validate_plug_name,
    validate_snap_name,
    validate_socket_name,
    validate_version,
)


def error(func: object, *args: object) -> str:
    assert callable(func)
    with pytest.raises(NamingError) as err:
        func(*args)
    return str(err.value)


@pytest.mark.parametrize("name", ["ab", "a1", "a-b", "1a", "a" * 40, "hello-world-2"])
def test_valid_snap_names(name: str) -> None:
    validate_snap_name(name)


@pytest.mark.parametrize("name", ["a", "a" * 41, "A", "a--b", "-a", "a-", "12", "a_b", "a\n", ""])
def test_invalid_snap_names(name: str) -> None:
    assert error(validate_snap_name, name).startswith("invalid snap name: ")


def test_instance_names() -> None:
    validate_instance_name("probe_x1")
    assert error(validate_instance_name, "probe_X") == 'invalid instance key: "X"'
    assert error(validate_instance_name, "probe_") == 'invalid instance key: ""'


def test_other_names() -> None:
    validate_app_name("Foo-1")
    validate_plug_name("a-b1")
    validate_socket_name("sock-1")
    validate_hook_name("connect-plug-x")
    assert error(validate_app_name, "a_b") == 'invalid app name: "a_b"'
    assert error(validate_plug_name, "a--b") == 'invalid plug name: "a--b"'
    assert error(validate_socket_name, "1") == 'invalid socket name: "1"'
    assert error(validate_hook_name, "remove-") == 'invalid hook name: "remove-"'


@pytest.mark.parametrize(("name", "supported"), [
    ("install", True), ("configure", True), ("connect-plug-a--b", True), ("fde-setup", True),
    ("default-configure", False), ("bogus", False), ("connect-plug-", False), ("Install", False),
])
def test_supported_hooks(name: str, supported: bool) -> None:
    assert is_supported_hook(name) is supported


@pytest.mark.parametrize("version", ["1", "1.0", "1.0~rc1", "v1.0+git", "a" * 32, "1:2.3"])
def test_valid_versions(version: str) -> None:
    validate_version(version)


@pytest.mark.parametrize(("version", "message"), [
    ("", "invalid snap version: cannot be empty"),
    ("1.0 beta", 'invalid snap version "1.0 beta": must be printable, non-whitespace ASCII'),
    ("é", 'invalid snap version "\\u00e9": must be printable, non-whitespace ASCII'),
    ("-1", "invalid snap version \"-1\": must start with an ASCII alphanumeric (and not '-')"),
    ("1.", "invalid snap version \"1.\": must end with an ASCII alphanumeric or one of '+' or "
           "'~' (and not '.')"),
    ("a_b", 'invalid snap version "a_b": contains invalid characters: "_"'),
    ("_" + "a" * 32 + "_", 'invalid snap version "_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_": cannot be '
     "longer than 32 characters (got: 34), must start with an ASCII alphanumeric (and not '_'), "
     "and must end with an ASCII alphanumeric or one of '+' or '~' (and not '_')"),
])
def test_invalid_versions(version: str, message: str) -> None:
    assert error(validate_version, version) == message


def test_epochs() -> None:
    assert parse_epoch("0") == ((0,), (0,))
    assert parse_epoch("3*") == ((2, 3), (3,))
    assert epoch_string(parse_epoch("3*")) == "3*"
    assert epoch_from_lists(None, [2]) == ((2,), (2,))
    assert epoch_from_lists([1, 2], None) == ((1, 2), (2,))
    assert error(parse_epoch, "0*") == "0* is an invalid epoch"
    assert error(parse_epoch, "01") == (
        'epoch numbers must be base 10 with no zero padding, but got "01"'
    )
    assert error(parse_epoch, "4294967296") == (
        'epoch numbers must be less than 2³², but got "4294967296"'
    )
    assert error(epoch_from_lists, [2, 1], None) == (
        "epoch list must be a strictly increasing sequence"
    )
    assert error(epoch_from_lists, [1], [2]) == (
        "epoch read and write lists must have a non-empty intersection"
    )
    assert error(epoch_from_lists, [], None) == "epoch list cannot be explicitly empty"


@pytest.mark.parametrize(("text", "revision"), [("12", 12), ("x1", -1), ("unset", 0)])
def test_revisions(text: str, revision: int) -> None:
    assert parse_revision(text) == revision
    assert revision_string(revision) == text


@pytest.mark.parametrize("text", ["0", "x0", "-1", "x", "", "1.5", "xx1"])
def test_invalid_revisions(text: str) -> None:
    assert error(parse_revision, text).startswith("invalid snap revision: ")
