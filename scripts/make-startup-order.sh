#!/usr/bin/env bash
# Regenerates scripts/startup.order, the symbol ordering file scripts/build-release.sh links with:
# every function the release binary runs on its common paths (run with and without ptrace, a
# program that exits 0 or 1, a shell), listed so that lld places them next to each other. The
# kernel maps executable pages 64 KiB at a time around each fault, so packing the start-up code
# together means fewer faults and fewer pages resident (scripts/bench.sh measures both).
# Needs valgrind (callgrind counts every function called). Usage: scripts/make-startup-order.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh valgrind:valgrind binutils:strip
shipped=$(scripts/build-release.sh)
binary="$(dirname "$(dirname "$shipped")")/release/probe-exec"  # the unstripped one: symbols
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
strip --strip-debug -o "$work/probe-exec" "$binary"  # valgrind 3.19 cannot read its DWARF 5
export PROBE_EXEC_TRACE_DIR="$work/traces"
# In order of importance: the first run's functions come first in the file (the untraced start
# of a program, then the traced one, a failing program, a shell, a program whose output passes
# through the pumps).
index=0
for run in "--no-ptrace -- /bin/true" "-- /bin/true" "-- /bin/false" "-- sh -c exit" "--no-ptrace -- /bin/sh -c exit" \
    "-- /usr/bin/head -c 3000000 /dev/zero"; do
    index=$((index + 1))
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/callgrind.$index" "$work/probe-exec" $run \
        >/dev/null 2>&1 || true
done
# valgrind stops a traced run at its spawn (it cannot follow a clone(CLONE_VM) child that runs
# beside its parent), so the traced path's functions after it are not seen: the previous list's
# names not found here are kept, after the new ones (names gone from the code are ignored by lld).
python3 - "$work" scripts/startup.order <<'PY'
import glob, re, sys
previous = [line.strip() for line in open(sys.argv[2]) if line.strip()]
names, seen = [], set()
for path in sorted(glob.glob(sys.argv[1] + "/callgrind.*"), key=lambda p: int(p.rsplit(".", 1)[1])):
    for line in open(path, errors="replace"):
        m = re.match(r"^c?fn=\(\d+\) (.+)$", line)
        if m:
            name = m.group(1).strip().split("'")[0]
            if name not in seen and not name.startswith("0x") and not name.startswith("(below"):
                seen.add(name)
                names.append(name)
found = len(names)
for name in previous:
    if name not in seen:
        seen.add(name)
        names.append(name)
open(sys.argv[2], "w").write("\n".join(names) + "\n")
print(f"{len(names)} functions in {sys.argv[2]} ({found} seen now, the rest kept)", file=sys.stderr)
PY
rm -f "$binary"  # so the next build-release.sh links with the new order
