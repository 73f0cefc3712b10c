"""snapd's channel names (snap/channel/channel.go), pure."""

from __future__ import annotations

from dataclasses import dataclass

from usersnap.errors import UsersnapError

RISKS = ("stable", "candidate", "beta", "edge")


class ChannelError(UsersnapError):
    pass


@dataclass(frozen=True, slots=True)
class Channel:
    track: str
    risk: str
    branch: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.track, self.risk, self.branch) if p)


def parse_channel(text: str) -> Channel:
    """``[track/]risk[/branch]`` or ``track``; the default track is ``latest``."""
    parts = text.split("/")
    if not text or len(parts) > 3 or any(not p for p in parts):
        raise ChannelError(f'invalid channel name: "{text}"')
    if len(parts) == 1:
        return Channel("latest", parts[0]) if parts[0] in RISKS else Channel(parts[0], "stable")
    if len(parts) == 2:
        if parts[0] in RISKS:
            if parts[1] in RISKS:
                raise ChannelError(f'invalid risk in channel name: "{text}"')
            return Channel("latest", parts[0], parts[1])
        if parts[1] not in RISKS:
            raise ChannelError(f'invalid risk in channel name: "{text}"')
        return Channel(parts[0], parts[1])
    if parts[1] not in RISKS:
        raise ChannelError(f'invalid risk in channel name: "{text}"')
    return Channel(parts[0], parts[1], parts[2])
