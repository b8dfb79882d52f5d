#!/usr/bin/env bash
# The whole test suite: unit tests and integration tests on real processes (C fixtures compiled
# with cc at test time, real signals, real crashes). Usage: scripts/test.sh [swift test options]
set -euo pipefail
cd "$(dirname "$0")/.."
# cc compiles the fixtures; unshare (util-linux) runs the PID 1 tests; sha256sum and bash check
# output; tini and python3 run the conformance table (scripts/conformance.py).
scripts/ensure-deps.sh libunwind-dev gcc:cc musl-tools:musl-gcc util-linux:unshare coreutils:sha256sum bash:bash tini:tini python3:python3
# The OpenTelemetry proto definitions check the OTLP export (Tests/Fixtures/otlp_receiver.py);
# Debian packages no Python module of them, so they come from PyPI.
scripts/ensure-python-module.sh opentelemetry.proto opentelemetry-proto
# There is no aarch64 machine: every C file is compiled for aarch64 instead (both branches of
# spr_unwind_remote.c: dlopen, and the static release build's linked-in unwinder).
scripts/check-aarch64.sh
SPR_CFLAGS=-DSPR_UNWIND_STATIC scripts/check-aarch64.sh
swift build --build-tests
swift test --skip-build "$@"
# Style: the formatter's strict lint, with the configuration in .swift-format.
swift format lint --strict -r Sources Tests Package.swift
