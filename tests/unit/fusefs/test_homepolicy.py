"""The top-level rule of the home view and the planner (snapd's AppArmor ``home``)."""

from __future__ import annotations

import pytest

from usersnap.fusefs.homepolicy import bound_directly, classify, component_ok, may_change


@pytest.mark.parametrize(("name", "kind"), [
    ("Documents", "visible"), ("file.tar.gz", "visible"), ("snapshots", "visible"),
    ("s", "visible"), ("-x", "visible"), ("a.b", "visible"), ("..x", "hidden"),
    (".ssh", "hidden"), (".bash_login", "hidden"), (".", "hidden"), ("snap", "reserved"),
])
def test_classify(name: str, kind: str) -> None:
    assert classify(name) == kind


def test_only_visible_names_change() -> None:
    assert may_change("newfile") and may_change("snapper")
    assert not may_change(".profile") and not may_change("snap")


@pytest.mark.parametrize(("name", "kind", "bound"), [
    ("Documents", "dir", True), ("notes.txt", "file", True), ("keys", "symlink", False),
    (".ssh", "dir", False), (".profile", "file", False), ("snap", "dir", False),
])
def test_bound_directly(name: str, kind: str, bound: bool) -> None:
    assert bound_directly(name, kind) is bound


@pytest.mark.parametrize(("name", "ok"), [
    (b"file", True), (b".hidden", True), (b"", False), (b".", False), (b"..", False),
    (b"a/b", False), (b"a\0b", False), (b"...", True),
])
def test_component_ok(name: bytes, ok: bool) -> None:
    assert component_ok(name) is ok
