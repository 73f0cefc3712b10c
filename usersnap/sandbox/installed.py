"""Planning for an installed revision, the same for every launcher.

``usersnap run``, hooks, services and ``usersnap debug seccomp`` must plan with the same
inputs from disk (host facts with $HOME's listing for ``home``, the snapctl binding, the
stored connections) or one of them confines differently from the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.interfaces.stored import load_connections
from usersnap.meta.model import App, Hook, SnapInfo
from usersnap.sandbox.facts import gather_host_facts, lookup
from usersnap.sandbox.plan import SandboxSpec, plan_sandbox
from usersnap.snapctl import snapctl_dir


def plan_installed(
    dirs: Dirs, info: SnapInfo, revision: str, base_tree: Path | None, *,
    host_env: Mapping[str, str], app: App | None = None, hook: Hook | None = None,
    args: Sequence[str] = (), shell: bool = False, cookie: str = "",
) -> SandboxSpec:
    """:func:`~usersnap.sandbox.plan.plan_sandbox` for ``revision`` as installed in
    ``dirs``, with its connections as usersnapd stored them."""
    facts = gather_host_facts(base_tree, snapctl_dir(dirs), dirs.home, dirs.home_view)
    return plan_sandbox(
        info, revision, dirs, facts=facts,
        base_tree=base_tree, app=app, hook=hook, args=args, host_env=host_env, shell=shell,
        cookie=cookie, layout_lookup=lookup, connections=load_connections(dirs, info.name),
    )
