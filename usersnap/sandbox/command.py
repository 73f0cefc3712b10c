"""What the sandbox execs: snap-exec's command resolution (``cmd/snap-exec/main.go``).

``command:`` is split on single spaces (the snap.yaml charset allows no quoting); the
first token is a path inside the snap and is never expanded; the others go through Go's
``os.Expand`` against the final environment and vanish when they expand to nothing.
``command-chain`` entries are paths inside the snap, prepended in order; each is
expected to exec ``"$@"``.  User arguments are appended untouched.
"""

from __future__ import annotations

from usersnap.errors import SandboxError
from usersnap.sandbox.environment import DEFAULT_SHELL, go_expand, go_join, snap_mount_dir

TYPE_CHECKING = False
if TYPE_CHECKING:  # this module is on the cached launch path: no runtime imports
    from collections.abc import Mapping, Sequence

    from usersnap.meta.model import App, Hook, SnapInfo


def _chain(mount_dir: str, chain: Sequence[str]) -> list[str]:
    return [go_join(mount_dir, element) for element in chain]


def app_argv(
    info: SnapInfo, revision: str, app: App, env: Mapping[str, str], args: Sequence[str]
) -> list[str]:
    return command_line(command_recipe(info, revision, app), env, args)


def command_recipe(info: SnapInfo, revision: str, app: App
                   ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The app's command before expansion: the paths to exec (command chain, command)
    and the tokens still to expand (the run cache keeps this)."""
    if not app.command:
        raise SandboxError(f'no command found for app "{app.name}" of snap "{info.name}"')
    mount_dir = snap_mount_dir(info.name, revision)
    command, *tokens = app.command.split(" ")
    return (*_chain(mount_dir, app.command_chain), go_join(mount_dir, command)), tuple(tokens)


def command_line(recipe: tuple[Sequence[str], Sequence[str]], env: Mapping[str, str],
                 args: Sequence[str]) -> list[str]:
    """argv from :func:`command_recipe`: tokens expanded against ``env`` (empty ones
    dropped), then the user's arguments."""
    paths, tokens = recipe
    expanded = (go_expand(token, lambda name: env.get(name, "")) for token in tokens)
    return [*paths, *(token for token in expanded if token), *args]


def shell_argv(info: SnapInfo, revision: str, app: App, args: Sequence[str] = ()) -> list[str]:
    """``snap run --shell``: the app's command chain and environment, then bash."""
    mount_dir = snap_mount_dir(info.name, revision)
    return [*_chain(mount_dir, app.command_chain), DEFAULT_SHELL, *args]


def hook_argv(info: SnapInfo, revision: str, hook: Hook) -> list[str]:
    mount_dir = snap_mount_dir(info.name, revision)
    return [*_chain(mount_dir, hook.command_chain), go_join(mount_dir, "meta", "hooks", hook.name)]
