"""Start a planned :class:`~usersnap.sandbox.plan.SandboxSpec`.

The process work (bwrap's fds, signals, the subreaper, the watchdog, the run lock) is
``sandbox.process``, which takes plain values so that a cached ``usersnap run``
(``sandbox.runcache``) can use it without planning; this module turns a spec into those
values (:func:`prepare_launch`) and creates what the launch needs on the host.

Seccomp: the filter for the spec's interfaces comes from the cache (compiled there on a
miss); its programs are opened by ``process`` and handed to bwrap by fd.
"""

from __future__ import annotations

from pathlib import Path

from usersnap.dirs import Dirs
from usersnap.sandbox.bwrap import Hardening, find_bwrap, head_options
from usersnap.sandbox.ops import PinnedBind
from usersnap.sandbox.plan import SandboxSpec
from usersnap.sandbox.probe import bwrap_supports
from usersnap.sandbox.process import Launch, make_host_dirs, start


def prepare_host_dirs(dirs: Dirs, instance: str, revision: str) -> None:
    """The runtime directory checked, then :func:`~usersnap.sandbox.process.make_host_dirs`
    for ``instance``."""
    dirs.ensure_runtime()
    make_host_dirs(str(dirs.user_data_dir(instance)), str(dirs.data_dir(instance)),
                   str(dirs.private_tmp(instance)), str(dirs.xdg_runtime(instance)), revision)


def seccomp_paths(spec: SandboxSpec) -> list[str]:
    """The spec's compiled seccomp programs, in load order (compiled on a cache miss)."""
    if spec.seccomp is None:
        return []
    from usersnap.seccomp.cache import cached_filter
    from usersnap.seccomp.profiles import connected_snippets, default_template

    paths = cached_filter(Path(spec.seccomp.cache_dir), default_template(),
                          connected_snippets(spec.interfaces), devmode=spec.seccomp.complain)
    return [str(path) for path in paths]


def prepare_launch(spec: SandboxSpec, bwrap: str | None = None) -> Launch:
    """What ``process.start`` needs for ``spec``, minus its environment and command."""
    bwrap = bwrap or find_bwrap()
    programs = seccomp_paths(spec)
    hardening = Hardening(
        seccomp_programs=len(programs),
        disable_userns=bwrap_supports(bwrap, "--disable-userns"),
    )
    pins = [(op.fd, op.src) for op in spec.ops if isinstance(op, PinnedBind)]
    return Launch(spec.instance, bwrap, head_options(spec, hardening), spec.cwd, programs,
                  spec.notices, pins)


def run_sandboxed(spec: SandboxSpec, *, run_lock: Path, bwrap: str | None = None) -> int:
    """Run ``spec`` under bubblewrap; return the app's exit status (128+N if killed by N).

    Raises :class:`~usersnap.errors.SandboxError` when the sandbox cannot be started
    (bwrap missing, user namespaces unavailable, the command not found in it, its layouts
    not applicable), :class:`~usersnap.layouts.validate.LayoutError` when a layout's
    source cannot be created.
    """
    return run_prepared(spec, prepare_launch(spec, bwrap), run_lock=run_lock)


def run_prepared(spec: SandboxSpec, launch: Launch, *, run_lock: Path) -> int:
    """:func:`run_sandboxed` with ``launch`` already prepared from ``spec``."""
    if spec.sources:
        from usersnap.sandbox.nsops import create_sources  # only for snaps with layouts

        create_sources(spec.sources)
    if not spec.layout_ops:
        return start(launch, spec.env, spec.argv, run_lock=str(run_lock))
    from usersnap.sandbox.nsops import apply_in_namespace

    return start(launch, spec.env, spec.argv, run_lock=str(run_lock),
                 apply_layouts=lambda pid1: apply_in_namespace(pid1, spec.layout_ops))
