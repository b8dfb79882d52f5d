#!/usr/bin/env bash
# The demo: build probe-exec, run a bundled "server" that crashes during start-up under it, then
# show the trace. Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh libunwind-dev gcc:cc
swift build --product probe-exec >/dev/null
swift build --product probe-fixture >/dev/null
bin=$(swift build --show-bin-path)
export PROBE_EXEC_TRACE_DIR=${PROBE_EXEC_TRACE_DIR:-$PWD/.build/demo-traces}
echo "== \$ probe-exec -- probe-fixture demo     (a server that crashes while starting)"
# The Swift runtime's own backtracer is switched off so the crash is a plain SIGSEGV, as a C, C++
# or Rust server's would be.
set +e
SWIFT_BACKTRACE=enable=no "$bin/probe-exec" -- "$bin/probe-fixture" demo
status=$?
set -e
echo "== probe-exec exited with status $status (128 + 11: SIGSEGV, as a shell reports it)"
echo
echo "== \$ probe-exec show     (the latest trace in $PROBE_EXEC_TRACE_DIR)"
"$bin/probe-exec" show
