"""Command resolution as snap-exec does it: tokens, expansion, chains, shell, hooks."""

from __future__ import annotations

import pytest

from usersnap.errors import SandboxError
from usersnap.meta.model import App, Hook, SnapInfo, frozen_map
from usersnap.sandbox.command import app_argv, hook_argv, shell_argv

INFO = SnapInfo(name="foo", version="1")
ENV = {"SNAP": "/snap/foo/12", "SNAP_DATA": "/var/snap/foo/12", "EMPTY": "", "SPACED": "a b"}


def argv(command: str, chain: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> list[str]:
    return app_argv(INFO, "12", App(name="app", command=command, command_chain=chain), ENV, args)


def test_plain_command() -> None:
    assert argv("bin/foo") == ["/snap/foo/12/bin/foo"]


def test_command_path_stays_inside_snap() -> None:
    assert argv("/bin/foo") == ["/snap/foo/12/bin/foo"]
    assert argv("./bin//foo") == ["/snap/foo/12/bin/foo"]


def test_first_token_is_not_expanded() -> None:
    assert argv("$SNAP/bin/foo") == ["/snap/foo/12/$SNAP/bin/foo"]


def test_arguments_are_expanded_against_the_final_env() -> None:
    assert argv("bin/foo --data=$SNAP_DATA $SNAP/x ${SNAP}") == [
        "/snap/foo/12/bin/foo", "--data=/var/snap/foo/12", "/snap/foo/12/x", "/snap/foo/12",
    ]


def test_empty_tokens_are_dropped() -> None:
    assert argv("bin/foo  a $UNSET $EMPTY b") == ["/snap/foo/12/bin/foo", "a", "b"]


def test_expansion_is_not_split_again() -> None:
    assert argv("bin/foo $SPACED") == ["/snap/foo/12/bin/foo", "a b"]


def test_user_args_are_appended_unexpanded() -> None:
    assert argv("bin/foo x", args=("$SNAP", "", "two words")) == [
        "/snap/foo/12/bin/foo", "x", "$SNAP", "", "two words",
    ]


def test_command_chain_is_prepended_in_order() -> None:
    assert argv("bin/foo $SNAP", chain=("snap/command-chain/a", "bin/b"), args=("u",)) == [
        "/snap/foo/12/snap/command-chain/a", "/snap/foo/12/bin/b",
        "/snap/foo/12/bin/foo", "/snap/foo/12", "u",
    ]


def test_missing_command() -> None:
    with pytest.raises(SandboxError, match='no command found for app "app"'):
        argv("")


def test_shell_keeps_the_chain_and_runs_bash() -> None:
    app = App(name="app", command="bin/foo --x", command_chain=("bin/chain",))
    assert shell_argv(INFO, "12", app) == ["/snap/foo/12/bin/chain", "/bin/bash"]
    assert shell_argv(INFO, "12", app, ("-c", "id")) == [
        "/snap/foo/12/bin/chain", "/bin/bash", "-c", "id",
    ]


def test_hook() -> None:
    info = SnapInfo(name="foo", version="1", hooks=frozen_map({
        "configure": Hook(name="configure", command_chain=("bin/chain",)),
    }))
    assert hook_argv(info, "x2", info.hooks["configure"]) == [
        "/snap/foo/x2/bin/chain", "/snap/foo/x2/meta/hooks/configure",
    ]
