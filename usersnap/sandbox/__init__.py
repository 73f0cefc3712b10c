"""From snap metadata and a revision to the app's process under bubblewrap.

Pure planning, then effects, in this order (``usersnap run``, hooks, services)::

    launch.prepare_host_dirs(dirs, info.name, rev)        # ~/snap-like dirs, private /tmp
    facts = facts.gather_host_facts(base_tree)            # reads the base's top level
    spec = plan.plan_sandbox(info, rev, dirs, facts=facts, base_tree=base_tree,
                             app=app, args=args, host_env=os.environ,
                             layout_lookup=facts.lookup)  # layouts see the disk through it
    status = launch.run_sandboxed(spec, run_lock=dirs.run_lock)

For an installed revision every launcher goes through ``installed.plan_installed``,
which gathers the facts and the stored connections the same way for all of them.

``environment``, ``command``, ``ops``, ``plan`` and ``bwrap`` do no I/O (``find_bwrap``
aside); ``facts``, ``probe``, ``launch`` and ``nsops`` (layout sources, and the layouts
applied in the sandbox's namespace) do.  None of them imports trio or the FUSE session: the
launch path is start-up time.
"""

from __future__ import annotations
