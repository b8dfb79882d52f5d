#!/usr/bin/env bash
# Benchmark: bare vs `tini --` vs probe-exec, measured in one run on this machine.
# Builds the fully static release binary that production images use (STYLE.md §9), then prints
# start-up, stdout throughput and peak RSS with ratios. Not a test: it asserts nothing.
# Usage: scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh tini:tini hyperfine:hyperfine python3:python3
swift build -c release -Xswiftc -static-executable --scratch-path .build-static --product probe-exec >&2
exec python3 scripts/bench.py "$PWD/.build-static/release/probe-exec" "$@"
