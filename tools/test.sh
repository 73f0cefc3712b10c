#!/usr/bin/env bash
# The whole test suite: lint, type-check, then pytest (unit + integration, real FUSE/bwrap).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh
.venv/bin/ruff check usersnap tests
.venv/bin/mypy
exec .venv/bin/python -m pytest -rs -q "$@"
