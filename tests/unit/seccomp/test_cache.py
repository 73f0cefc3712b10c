"""The filter cache: what its key depends on, hits without compiling, racing writers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usersnap.seccomp import cache
from usersnap.seccomp import compile as sc
from usersnap.seccomp.cache import PROGRAMS, SeccompCacheError, cache_key, cached_filter
from usersnap.seccomp.policy import SeccompProfileError, compose
from usersnap.seccomp.profiles import default_template, snippet_for

TEMPLATE = "read\nwrite\n~ioctl - TIOCSTI\nioctl\n"


def key(template: str = TEMPLATE, snippets: dict[str, str] | None = None, *,
        devmode: bool = False, machine: str = "x86_64") -> str:
    return cache_key(template, snippets or {}, devmode=devmode, machine=machine)


def test_key_is_stable_and_short() -> None:
    assert key() == key() and len(key()) == 32
    assert key(snippets={"a": "1", "b": "2"}) == key(snippets={"b": "2", "a": "1"})


@pytest.mark.parametrize("other", [
    {"template": TEMPLATE + "\n"},
    {"snippets": {"network": "bind\n"}},
    {"snippets": {"network-bind": ""}},
    {"devmode": True},
    {"machine": "aarch64"},
])
def test_key_changes_with_every_input(other: dict[str, object]) -> None:
    assert key(**other) != key()  # type: ignore[arg-type]


def test_key_tells_names_from_texts() -> None:
    # The separators keep ("ab", "c") and ("a", "bc") apart.
    assert key(snippets={"ab": "c"}) != key(snippets={"a": "bc"})
    assert key(snippets={"a": "x", "b": ""}) != key(snippets={"a": "x\0b"})


def test_key_changes_with_the_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    before = key()
    monkeypatch.setattr(cache, "COMPILER_VERSION", "usersnap-seccomp-next")
    assert key() != before


def test_miss_compiles_then_hits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    programs = cached_filter(tmp_path / "c", TEMPLATE, {"x11": snippet_for("x11")})
    assert [path.name for path in programs] == list(PROGRAMS)
    entry = programs[0].parent
    assert entry.parent == tmp_path / "c" and len(os.listdir(tmp_path / "c")) == 1
    assert oct(os.stat(tmp_path / "c").st_mode & 0o777) == "0o700"
    compiled = sc.compile_policy(compose(TEMPLATE, {"x11": snippet_for("x11")}))
    assert [path.read_bytes() for path in programs] == [compiled.deny, compiled.allow]

    def no_compiling(*_: object) -> None:
        raise AssertionError("compiled on a hit")

    monkeypatch.setattr(sc, "compile_policy", no_compiling)
    assert cached_filter(tmp_path / "c", TEMPLATE, {"x11": snippet_for("x11")}) == programs


def test_devmode_is_another_entry(tmp_path: Path) -> None:
    strict = cached_filter(tmp_path, TEMPLATE, {})
    devmode = cached_filter(tmp_path, TEMPLATE, {}, devmode=True)
    assert strict[0].parent != devmode[0].parent
    assert strict[1].read_bytes() != devmode[1].read_bytes()


def test_only_programs_that_exist(tmp_path: Path) -> None:
    assert [p.name for p in cached_filter(tmp_path, "read\n", {})] == ["allow.bpf"]
    assert cached_filter(tmp_path, "@unrestricted\nread\n", {}) == ()
    assert cached_filter(tmp_path, "@unrestricted\nread\n", {}) == ()


def test_a_racing_writer_wins(tmp_path: Path) -> None:
    entry = tmp_path / "c" / key(machine=os.uname().machine)
    entry.mkdir(parents=True)
    (entry / "allow.bpf").write_bytes(b"\0" * 8)
    cache._fill(entry, TEMPLATE, {}, devmode=False)
    assert os.listdir(entry) == ["allow.bpf"]  # the first writer's entry stays
    assert os.listdir(entry.parent) == [entry.name]  # and no staging directory is left


def test_unwritable_cache(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SeccompCacheError) as info:
        cached_filter(tmp_path / "file" / "seccomp", TEMPLATE, {})
    assert str(info.value) == (
        f"cannot write the seccomp filter cache {tmp_path}/file/seccomp: Not a directory")


def test_profile_errors_are_not_cached(tmp_path: Path) -> None:
    with pytest.raises(SeccompProfileError, match="AF_NOPE"):
        cached_filter(tmp_path / "c", default_template(), {"network": "socket AF_NOPE\n"})
    assert not (tmp_path / "c").exists()
