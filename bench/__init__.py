"""usersnap's benchmark suite (issue #8); see bench/run.py and docs/benchmarks.md."""

from __future__ import annotations
