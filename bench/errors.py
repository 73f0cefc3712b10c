"""The one error the benchmark reports as a failure (exit status 1)."""

from __future__ import annotations


class BenchError(Exception):
    """A workload or a filesystem failed or answered wrongly: the run is invalid (a slow
    answer never raises this)."""
