#!/usr/bin/env bash
# Benchmark: bare vs `tini --` vs probe-exec, measured in one run on this machine.
# Builds the fully static release binary that production images use (scripts/build-release.sh),
# then prints
# start-up, stdout throughput and peak RSS with ratios. Not a test: it asserts nothing.
# Usage: scripts/bench.sh [--quick] [--stdout-mb N]   (N=10240 for the 10 GB run)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh tini:tini hyperfine:hyperfine python3:python3 nodejs:node golang-go:go
probe=$(scripts/build-release.sh 2> >(grep -vE "warning: Using|mktemp" >&2))
exec python3 scripts/bench.py "$probe" "$@"
