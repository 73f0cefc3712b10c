"""``usersnap debug paths|layout|seccomp``: where this root keeps things, how a snap's
layouts are realised (like ``snap debug paths`` and snapd's
``/var/lib/snapd/mount/snap.NAME.fstab``) and the seccomp profile an app runs under
(snapd's ``/var/lib/snapd/seccomp/bpf/snap.NAME.APP.src``).
"""

from __future__ import annotations

import argparse

from usersnap.cli.installed import load_installed
from usersnap.dirs import Dirs
from usersnap.layouts.plan import LayoutPlan
from usersnap.sandbox.facts import gather_host_facts, lookup
from usersnap.sandbox.ops import Bind, Dir, File, Mimic, NsOp, RemountRo, Symlink, Tmpfs
from usersnap.sandbox.plan import sandbox_layouts, sandbox_ops


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    sub = parser.add_subparsers(dest="debug_command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("paths", help="print system paths")
    layout = sub.add_parser(
        "layout", help="print the mount entries of a snap's layouts",
        description="Print the mount entries snapd would write for the layouts of the "
                    "snap's current revision (its snap.NAME.fstab), one per line.")
    layout.add_argument("name", metavar="NAME")
    layout.add_argument("--ops", action="store_true",
                        help="also print what usersnap does to realise them")
    seccomp = sub.add_parser(
        "seccomp", help="print the seccomp profile of a snap's app or hook",
        description="Print the seccomp profile the app (or, for NAME.hook.HOOK, the hook) "
                    "of the snap's current revision runs under: the template, then the "
                    "snippet of each connected interface, each after a '# source:' line. "
                    "NAME.hook.HOOK is snapd's security tag snap.NAME.hook.HOOK.")
    seccomp.add_argument("target", metavar="NAME[.APP]|NAME.hook.HOOK")


def paths(dirs: Dirs) -> dict[str, str]:
    return {
        "USERSNAP_ROOT": str(dirs.root),
        "USERSNAP_MOUNT": str(dirs.mount),
        "USERSNAP_BIN": str(dirs.bin),
        "USERSNAP_SOCKET": str(dirs.socket),
        "USERSNAP_SNAP_SOCKET": str(dirs.snap_socket),
        "USERSNAP_RUNTIME": str(dirs.runtime),
        "USERSNAP_STATE": str(dirs.state_file),
    }


def describe(op: NsOp) -> str:
    """One namespace op as a line of ``debug layout --ops``."""
    if isinstance(op, Mimic):
        return f"mimic {op.dest}"
    if isinstance(op, Dir):
        return f"mkdir {op.dest}"
    if isinstance(op, File):
        return f"touch {op.dest}"
    if isinstance(op, Symlink):
        return f"symlink {op.target} {op.dest}"
    if isinstance(op, Tmpfs):
        return f"tmpfs {op.dest}" + ("" if op.mode is None else f" mode={op.mode:04o}")
    if isinstance(op, RemountRo):
        return f"remount-ro {op.dest}"
    return f"{'bind' if isinstance(op, Bind) else 'bind-ro'} {op.src} {op.dest}"


def layout_lines(plan: LayoutPlan, *, ops: bool, classic: bool = False) -> list[str]:
    lines = [entry.fstab() for entry in plan.entries]
    if not ops:
        return lines
    if classic:
        return [*lines, "# classic confinement: layouts are not applied"]
    if plan.sources:
        lines.append("# created in the snap's data before the launch")
        lines += [f"{source.kind} {source.shown}" for source in plan.sources]
    if plan.ops:
        lines.append("# applied in the sandbox, in this order")
        lines += [describe(op) for op in plan.ops]
    return lines


def layout(name: str, *, ops: bool) -> list[str]:
    dirs = Dirs.from_env()
    snap = load_installed(dirs, name, action="inspect")
    base = sandbox_ops(snap.info, dirs, facts=gather_host_facts(snap.base_tree),
                       base_tree=snap.base_tree, home_plugged=False)[:-1]
    plan = sandbox_layouts(snap.info, base_ops=base, revision=snap.revision,
                           base_tree=snap.base_tree, lookup=lookup)
    return layout_lines(plan, ops=ops, classic=snap.info.confinement == "classic")


def seccomp_profile(target: str) -> str:
    """The profile ``usersnap run TARGET`` (or the hook ``NAME.hook.HOOK``) loads, planned
    the way the launch plans it."""
    from usersnap.errors import NotFoundError
    from usersnap.sandbox.installed import plan_installed
    from usersnap.seccomp.profiles import render_profile

    name, _, app_name = target.partition(".")
    app_name = app_name or name
    dirs = Dirs.from_env()
    snap = load_installed(dirs, name, action="inspect")
    if app_name.startswith("hook."):  # app names have no dots: snap.NAME.hook.HOOK's form
        hook_name = app_name.removeprefix("hook.")
        hook = snap.info.hooks.get(hook_name)
        if hook is None:
            raise NotFoundError(f'cannot find hook "{hook_name}" in "{name}"')
        spec = plan_installed(dirs, snap.info, snap.revision, snap.base_tree, hook=hook,
                              host_env={})
        return render_profile(spec.interfaces, confinement=snap.info.confinement)
    app = snap.info.apps.get(app_name)
    if app is None:
        raise NotFoundError(f'cannot find app "{app_name}" in "{name}"')
    spec = plan_installed(dirs, snap.info, snap.revision, snap.base_tree, app=app,
                          host_env={})
    return render_profile(spec.interfaces, confinement=snap.info.confinement)


def execute(args: argparse.Namespace) -> int:
    if args.debug_command == "seccomp":
        print(seccomp_profile(args.target), end="")
        return 0
    if args.debug_command == "layout":
        for line in layout(args.name, ops=args.ops):
            print(line)
        return 0
    for key, value in paths(Dirs.from_env()).items():
        print(f"{key}={value}")
    return 0
