#!/usr/bin/env bash
# The production binary: fully static (Swift runtime, C library, libunwind's remote unwinder
# linked in), so it runs in a slim image with nothing installed and starts fastest
# (hyperfine on this machine: a Swift fork/exec/wait program took 4.7 ms dynamically linked,
# 2.2 ms with -static-stdlib and 1.4 ms fully static).
# Shipped stripped (SCRATCH/dist/probe-exec, <= 16 MiB) with its debug information beside it in
# SCRATCH/dist/probe-exec.debug, linked by build-id and .gnu_debuglink (gdb, perf and
# eu-addr2line find it when it is kept next to the binary or under /usr/lib/debug/.build-id/).
# Usage: scripts/build-release.sh [SCRATCH]   -> prints the shipped binary's path
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh libunwind-dev liblzma-dev binutils:objcopy
scratch=${1:-.build-static}
case "$scratch" in /*) ;; *) scratch="$PWD/$scratch" ;; esac
# Linked by lld (it comes with the Swift toolchain) with scripts/startup.order: the functions of
# the start-up path packed together, so the kernel maps fewer pages of this 29 MB binary (peak RSS
# 8.6 -> 6.6 MB, start-up 3% faster; scripts/make-startup-order.sh regenerates the list: done
# again on 2026-12-08, with the binary read from disk each time, VmHWM of a traced /bin/true
# 5.82 -> 5.70 MB, `W /bin/true --no-ptrace` 2.81 -> 2.62 ms, 500 interleaved runs).
# Generic types' metadata reached through direct accessors, not demangled from their mangled
# names at first use: a short-lived process pays that first use at every start (the runtime's
# demangler and its scans of the protocol conformance records were 16% of a traced /bin/true's
# CPU samples, 6% with this flag; `W /bin/true` traced 4.19 -> 4.00 ms, --no-ptrace 2.62 -> 2.49,
# medians of 300 interleaved runs; 37 KB larger).
swift build -c release --product probe-exec --scratch-path "$scratch" \
    -Xswiftc -static-executable \
    -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors \
    -Xcc -DSPR_UNWIND_STATIC \
    -Xswiftc -use-ld=lld \
    -Xlinker --symbol-ordering-file="$PWD/scripts/startup.order" -Xlinker --no-warn-symbol-ordering \
    -Xlinker -lunwind-ptrace -Xlinker -lunwind-generic -Xlinker -llzma >&2
built="$scratch/release/probe-exec"  # with symbols: what make-startup-order.sh profiles
dist="$scratch/dist"
mkdir -p "$dist"
if [ ! -e "$dist/probe-exec" ] || [ "$built" -nt "$dist/probe-exec" ]; then
    rm -f "$dist/probe-exec"
    objcopy --only-keep-debug "$built" "$dist/probe-exec.debug"
    # The link names the debug file as it is called here (its base name) with its CRC.
    objcopy --strip-all --add-gnu-debuglink="$dist/probe-exec.debug" "$built" "$dist/probe-exec.tmp"
    mv "$dist/probe-exec.tmp" "$dist/probe-exec"
fi
echo "$dist/probe-exec"
