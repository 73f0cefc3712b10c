"""What the sandbox execs: snap-exec's command resolution (``cmd/snap-exec/main.go``).

``command:`` is split on single spaces (the snap.yaml charset allows no quoting); the
first token is a path inside the snap and is never expanded; the others go through Go's
``os.Expand`` against the final environment and vanish when they expand to nothing.
``command-chain`` entries are paths inside the snap, prepended in order; each is
expected to exec ``"$@"``.  User arguments are appended untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from usersnap.errors import SandboxError
from usersnap.meta.model import App, Hook, SnapInfo
from usersnap.sandbox.environment import DEFAULT_SHELL, go_expand, go_join, snap_mount_dir


def _chain(mount_dir: str, chain: Sequence[str]) -> list[str]:
    return [go_join(mount_dir, element) for element in chain]


def app_argv(
    info: SnapInfo, revision: str, app: App, env: Mapping[str, str], args: Sequence[str]
) -> list[str]:
    if not app.command:
        raise SandboxError(f'no command found for app "{app.name}" of snap "{info.name}"')
    mount_dir = snap_mount_dir(info.name, revision)
    command, *tokens = app.command.split(" ")
    expanded = (go_expand(token, lambda name: env.get(name, "")) for token in tokens)
    return [
        *_chain(mount_dir, app.command_chain),
        go_join(mount_dir, command),
        *(token for token in expanded if token),
        *args,
    ]


def shell_argv(info: SnapInfo, revision: str, app: App, args: Sequence[str] = ()) -> list[str]:
    """``snap run --shell``: the app's command chain and environment, then bash."""
    mount_dir = snap_mount_dir(info.name, revision)
    return [*_chain(mount_dir, app.command_chain), DEFAULT_SHELL, *args]


def hook_argv(info: SnapInfo, revision: str, hook: Hook) -> list[str]:
    mount_dir = snap_mount_dir(info.name, revision)
    return [*_chain(mount_dir, hook.command_chain), go_join(mount_dir, "meta", "hooks", hook.name)]
