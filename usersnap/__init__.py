"""usersnap: run Ubuntu snaps without root.

Data flows one way, and the package layout follows it:

    snap file  ->  metadata model  ->  mount plan  ->  sandbox spec  ->  process
    snapfile/      meta/, layouts/     layouts/        sandbox/          sandbox/launch

Pure layers (``meta``, ``layouts``, the planning modules of ``sandbox``) never import
the effectful ones (``fusefs``, ``daemon``, ``state``, ``sandbox.launch``);
``tests/unit/test_layering.py`` enforces it.  ``daemon`` owns the FUSE mount and the
state; ``cli`` is a client of the daemon's REST API, except ``usersnap run`` which
plans and execs the sandbox itself so that trio never loads on the launch path.
"""

from __future__ import annotations

__version__ = "0.1.0"
