"""Making a run-cache record (``sandbox.runcache``) while ``usersnap run`` plans.

Kept apart from ``runcache`` because it needs what a cache hit must not import
(pathlib, the planner's types).  The order matters: :func:`early_prints` before the
plan's inputs are read, the rest after.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, Sequence
from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.meta.model import App, SnapInfo
from usersnap.sandbox.command import command_line, command_recipe
from usersnap.sandbox.environment import apply_recipe, dpkg_arch, environment_recipe
from usersnap.sandbox.facts import fact_sources
from usersnap.sandbox.plan import SandboxSpec
from usersnap.sandbox.process import Launch
from usersnap.sandbox.runcache import Record, code_files, file_prints, fingerprint
from usersnap.snapctl import snapctl_dir


class RecordingEnv(Mapping[str, str]):
    """The caller's environment, noting which variables planning looks up one by one
    (the bulk copy into the app's environment is redone at every run)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.looked_up: dict[str, None] = {}

    def __getitem__(self, key: str) -> str:
        self.looked_up[key] = None
        return self._env[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.looked_up[key] = None
        return key in self._env

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)

    def items(self) -> ItemsView[str, str]:
        """Not a lookup: the bulk copy (``environment.apply_recipe``)."""
        return self._env.items()


def global_paths(dirs: Dirs) -> list[str]:
    """Inputs of every plan, fingerprinted before planning: state.json (revisions,
    connections), the host's facts, usersnap's modules.  (The runtime directory, checked
    private by planning, changes with every socket and lock in it: the revision's
    snap.yaml in the mount below it stands for it.)"""
    return [str(dirs.state_file),
            *fact_sources(None, snapctl_dir(dirs), dirs.home, dirs.home_view), *code_files()]


def early_prints(dirs: Dirs) -> tuple[list[str], tuple[object, ...]]:
    """:func:`global_paths` and their prints, taken before planning reads them."""
    paths = global_paths(dirs)
    return paths, file_prints(paths)


def make_record(dirs: Dirs, early: tuple[list[str], tuple[object, ...]], info: SnapInfo,
                revision: str, base_tree: Path | None, app: App, args: Sequence[str],
                spec: SandboxSpec, launch: Launch, env: RecordingEnv, cookie: str) -> Record | None:
    """The record of this planned run, or None when it cannot be replayed (layouts), or
    when the recipes would not give back the very plan (then planning stays the rule)."""
    if spec.layout_ops or spec.sources or spec.cwd is not None:
        return None
    env_recipe = environment_recipe(info, revision, app=app, uid=dirs.uid, home=str(dirs.home),
                                    arch=dpkg_arch())
    argv_recipe = command_recipe(info, revision, app)
    replayed_env = apply_recipe(env_recipe, env, cookie)
    if replayed_env != dict(spec.env) or command_line(argv_recipe, replayed_env, args) != list(
            spec.argv):
        return None
    late = [str(dirs.mount / info.name / revision / "meta" / "snap.yaml"),
            *(fact_sources(base_tree) if base_tree is not None else ()),
            launch.bwrap, *launch.seccomp]
    paths = [*early[0], *late]
    keys = sorted(env.looked_up)
    return Record(
        launch=launch, env=env_recipe, argv=argv_recipe, revision=revision,
        host_dirs=(str(dirs.user_data_dir(info.name)), str(dirs.data_dir(info.name)),
                   str(dirs.private_tmp(info.name)), str(dirs.xdg_runtime(info.name))),
        paths=paths, env_keys=keys,
        stamp=fingerprint(early[1] + file_prints(late), env, keys),
    )
