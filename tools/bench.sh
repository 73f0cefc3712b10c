#!/usr/bin/env bash
# The benchmark suite of issue #8: usersnap's FUSE mount vs squashfuse / squashfuse_ll (and the
# kernel's squashfs as root), `usersnap run` vs bare bwrap, in one run; docs/benchmarks.md says
# how to read it.  Works as an unprivileged user (needs /dev/fuse and user namespaces).
#   tools/bench.sh                     full run (~20 min on 2 cores); rewrites the generated part
#                                      of docs/benchmarks.md
#   tools/bench.sh --quick             smoke test (< 2 min): every workload once, small images;
#                                      exits non-zero only if a workload fails or reads wrong data
#   tools/bench.sh --profile --py-spy /path/to/py-spy   also sample usersnapd and `usersnap run`
#   tools/bench.sh --help              every option
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh >&2
exec .venv/bin/python -m bench "$@"
