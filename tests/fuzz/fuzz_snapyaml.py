"""atheris target: snap.yaml parsing and snapd's validation on arbitrary bytes.

Run through ``tools/fuzz.sh``; arguments are libFuzzer's (corpus directories, -max_total_time).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["usersnap", "yaml"]):
    from tests.fuzz.harness import fuzz_snap_yaml


def main() -> None:
    atheris.Setup(sys.argv, fuzz_snap_yaml)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
