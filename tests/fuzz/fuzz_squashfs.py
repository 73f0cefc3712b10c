"""atheris target: the SquashFS reader and the snap loader on arbitrary bytes.

Run through ``tools/fuzz.sh``; arguments are libFuzzer's (corpus directories, -max_total_time).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["usersnap", "PySquashfsImage", "yaml"]):
    from tests.fuzz.harness import fuzz_image


def main() -> None:
    atheris.Setup(sys.argv, fuzz_image)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
