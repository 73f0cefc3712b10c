#!/bin/bash
# Run the atheris fuzz targets for SECONDS each (default 300): tools/fuzz.sh [SECONDS] [TARGET...]
# Targets: squashfs, snapyaml.  Needs the [fuzz] extra (pip install -e '.[fuzz]').
# Working corpora grow in .cache/fuzz/TARGET/; crashing inputs land in .cache/fuzz/crash-*;
# a fixed finding's input goes to tests/fuzz/crashers/TARGET/, replayed by
# tests/integration/test_hostile_images.py.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
[ $# -eq 0 ] && targets=(squashfs snapyaml)
py=${PYTHON:-.venv/bin/python}
out=.cache/fuzz
mkdir -p "$out/seeds-squashfs"
"$py" -m tests.fuzz.make_corpus "$out/seeds-squashfs"
for target in "${targets[@]}"; do
    case $target in
        squashfs) seeds=("$out/seeds-squashfs" tests/fuzz/crashers/squashfs) ;;
        snapyaml) seeds=(tests/data/snap-yaml/valid tests/data/snap-yaml/invalid
                         tests/fuzz/crashers/snapyaml) ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    mkdir -p "$out/$target"
    echo "== $target: ${seconds}s"
    # -timeout: one input taking longer than 10 s is a finding (a hang); -rss_limit_mb too.
    "$py" -m "tests.fuzz.fuzz_$target" "$out/$target" "${seeds[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$out/crash-$target-" -print_final_stats=1
done
