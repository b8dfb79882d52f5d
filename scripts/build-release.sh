#!/usr/bin/env bash
# The production binary: fully static (Swift runtime, C library, libunwind's remote unwinder
# linked in), so it runs in a slim image with nothing installed and starts fastest (STYLE.md §9).
# Usage: scripts/build-release.sh [SCRATCH]   -> prints the binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh libunwind-dev liblzma-dev
scratch=${1:-.build-static}
swift build -c release --product probe-exec --scratch-path "$scratch" \
    -Xswiftc -static-executable \
    -Xcc -DSPR_UNWIND_STATIC \
    -Xlinker -lunwind-ptrace -Xlinker -lunwind-generic -Xlinker -llzma >&2
echo "$PWD/$scratch/release/probe-exec"
