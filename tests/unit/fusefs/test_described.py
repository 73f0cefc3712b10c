"""DescribedFiles alone: what it remembers, and that it stays bounded."""

from __future__ import annotations

from usersnap.fusefs.described import DescribedFiles


def test_children_follow_a_directory_whose_files_were_wanted() -> None:
    d = DescribedFiles()
    assert not d.listing(10, 1)
    d.looked_up(10)
    d.looked_up(99)  # never listed: nothing to remember
    assert d.listing(11, 10) and d.listing(12, 11)
    assert not d.listing(20, 1)
    assert len(d) == 4


def test_bounded_forgetting_the_oldest() -> None:
    d = DescribedFiles(capacity=3)
    d.listing(1, 0)
    d.looked_up(1)
    for directory in (2, 3, 4):
        d.listing(directory, 0)
    assert len(d) == 3
    assert not d.listing(5, 1)  # 1 was forgotten: its children go back to names only
    assert len(d) == 3
