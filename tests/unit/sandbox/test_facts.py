"""Host facts gathered from real (temporary) trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from usersnap.fusefs.homepolicy import IDENTITY_XATTR, identity
from usersnap.sandbox.facts import _debian_like, gather_host_facts, list_entries
from usersnap.sandbox.plan import Entry


def test_list_entries(tmp_path: Path) -> None:
    tmp_path = tmp_path / "tree"
    (tmp_path / "usr").mkdir(parents=True)
    (tmp_path / "bin").symlink_to("usr/bin")
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    assert list_entries(tmp_path) == (
        Entry("bin", "symlink", "usr/bin"), Entry("file", "file"), Entry("usr", "dir"),
    )
    assert list_entries(tmp_path / "missing") == ()


def test_gather_for_a_base_tree(tmp_path: Path) -> None:
    tmp_path = tmp_path / "base"
    (tmp_path / "usr").mkdir(parents=True)
    (tmp_path / "var" / "lib").mkdir(parents=True)
    (tmp_path / "var" / "run").symlink_to("/run")
    (tmp_path / "etc" / "ssl").mkdir(parents=True)
    (tmp_path / "etc" / "nsswitch.conf").write_text("hosts: files\n")
    (tmp_path / "etc" / "alternatives").symlink_to("elsewhere")  # neither file nor dir
    facts = gather_host_facts(tmp_path)
    assert facts.gid == os.getgid()
    assert Entry("usr", "dir") in facts.root_entries
    assert facts.var_entries == (Entry("lib", "dir"), Entry("run", "symlink", "/run"))
    assert dict(facts.base_etc) == {"/etc/ssl": "dir", "/etc/nsswitch.conf": "file"}


def test_gather_for_the_host() -> None:
    facts = gather_host_facts(None)
    assert dict(facts.base_etc) == {}
    assert any(e.name == "usr" for e in facts.root_entries)


def test_debian_like(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')
    assert _debian_like(str(release))
    release.write_text('ID="debian"\n')
    assert _debian_like(str(release))
    release.write_text("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n")  # snap-confine's exact match
    assert not _debian_like(str(release))
    assert not _debian_like(str(tmp_path / "missing"))


def test_home_entries_and_whether_the_view_serves_home(tmp_path: Path) -> None:
    home, view, other = tmp_path / "home", tmp_path / "view", tmp_path / "other"
    (home / ".ssh").mkdir(parents=True)
    (home / "notes").write_text("x")
    view.mkdir()
    other.mkdir()
    try:  # stands for the view's root, which tells what it serves
        st = home.stat()
        os.setxattr(view, IDENTITY_XATTR, identity(st.st_dev, st.st_ino))
        os.setxattr(other, IDENTITY_XATTR, identity(st.st_dev, st.st_ino + 1))
    except OSError:
        pytest.skip("no user xattrs on the temporary file system")
    facts = gather_host_facts(None, home=home, home_view=view)
    assert facts.home_entries == (Entry(".ssh", "dir"), Entry("notes", "file"))
    assert facts.home_view == "served"
    assert gather_host_facts(None, home=home, home_view=other).home_view == "other"
    assert gather_host_facts(None, home=home, home_view=home).home_view == "other"  # no mark
    assert gather_host_facts(None, home=home, home_view=tmp_path / "no").home_view == "absent"
    assert gather_host_facts(None, home=home).home_view == "absent"
