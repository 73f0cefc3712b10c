"""Seccomp filters generated from snapd's profile language.

``policy`` parses profile text into a :class:`~usersnap.seccomp.policy.Policy` and
composes template + interface snippets (pure); ``profiles`` reads the shipped template
and snippets; ``compile`` is the only module that touches libseccomp and turns a policy
into BPF for bwrap; ``cache`` keeps compiled filters so ``usersnap run`` never compiles
when nothing changed.
"""

from __future__ import annotations
