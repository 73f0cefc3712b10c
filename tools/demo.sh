#!/usr/bin/env bash
# The main job on a demo snap built from examples/: pack it, install it, list it, run its apps.
# Uses its own usersnap root (.cache/demo-root) so it never touches your real one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/bootstrap.sh
export USERSNAP_ROOT="${USERSNAP_ROOT:-$PWD/.cache/demo-root}"
export USERSNAP_IDLE_TIMEOUT="${USERSNAP_IDLE_TIMEOUT:-15}"
usersnap=.venv/bin/usersnap
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

set -x
$usersnap pack examples/hello-usersnap "$out"
$usersnap install --dangerous "$out"/hello-usersnap_1.0_all.snap
$usersnap list
$usersnap run hello-usersnap
$usersnap run hello-usersnap.env
