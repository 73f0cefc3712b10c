"""snapd's channel name rules."""

from __future__ import annotations

import pytest

from usersnap.store.channels import ChannelError, parse_channel


@pytest.mark.parametrize(("text", "full"), [
    ("stable", "latest/stable"), ("beta", "latest/beta"), ("edge/fix-1", "latest/edge/fix-1"),
    ("2.0", "2.0/stable"), ("2.0/candidate", "2.0/candidate"),
    ("latest/stable/hotfix", "latest/stable/hotfix"),
])
def test_valid(text: str, full: str) -> None:
    assert str(parse_channel(text)) == full


@pytest.mark.parametrize("text", ["", "a/b/c/d", "2.0/nope", "stable/beta", "a//b", "x/y/"])
def test_invalid(text: str) -> None:
    with pytest.raises(ChannelError):
        parse_channel(text)
