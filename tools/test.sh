#!/usr/bin/env bash
# The whole test suite: lint, type-check, then pytest (unit + integration, real FUSE/bwrap).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh
.venv/bin/ruff check usersnap tests
.venv/bin/mypy
if [[ $(id -u) != 0 ]]; then
    # root-only paths (mknod, switching users) cannot run here; everything else does, rootless
    echo "test: not root: deselecting the tests marked requires_root" >&2
    exec .venv/bin/python -m pytest -rs -q -m "not requires_root" "$@"
fi
exec .venv/bin/python -m pytest -rs -q "$@"
