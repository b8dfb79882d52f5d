#!/usr/bin/env bash
# Compiles every C file of the package for aarch64: there is no aarch64 machine here, so this is
# the check that the aarch64 side at least builds (scripts/test.sh runs it; about a second once
# set up). Debian 12, as root (or with sudo, like scripts/ensure-deps.sh).
#
# Usage: scripts/check-aarch64.sh [SOURCES_DIR]     (default: Sources)
#        SPR_CFLAGS=-DSPR_UNWIND_STATIC scripts/check-aarch64.sh    (the static release build's branch)
#
# Sets up what it needs, each step skipped when already done (apt-get update runs first, and only
# when something has to be installed):
#   - dpkg --add-architecture arm64
#   - libc6-dev-arm64-cross: the aarch64 C library headers in /usr/aarch64-linux-gnu/include
#   - libunwind-dev:arm64: libunwind's aarch64 headers in /usr/include/aarch64-linux-gnu
#     (Multi-Arch: same, so it installs beside the amd64 one). If apt cannot co-install it, the
#     arm64 .deb is fetched with `apt-get download` and only its headers are unpacked
#     (dpkg-deb -x) into $SPR_ARM64_HEADERS (default /var/cache/spr-arm64-headers).
# Then every .c file under SOURCES_DIR is compiled with
#   clang --target=aarch64-linux-gnu -c -o /dev/null -D_GNU_SOURCE -Wall -Werror
# against those headers only (-nostdlibinc: never the host's x86_64 /usr/include), with every
# target's include directory (SOURCES_DIR/*/include) on the path, plus $SPR_CFLAGS; and the C
# fixtures the tests compile with cc at run time (Tests/Fixtures/*.c, next to SOURCES_DIR) and the
# bench's C programs (scripts/bench/*.c) as they are compiled: no -D_GNU_SOURCE (they define it)
# and no -Werror (tracee.c recurses forever on purpose), in the run without SPR_CFLAGS. Exits 1 when a file fails, after trying them all; 2 on bad usage or no clang.
set -euo pipefail

sources="${1:-Sources}"
fixtures="$(dirname "$sources")/Tests/Fixtures"
bench="$(dirname "$sources")/scripts/bench"
headers_fallback="${SPR_ARM64_HEADERS:-/var/cache/spr-arm64-headers}"
cross_include=/usr/aarch64-linux-gnu/include
unwind_include=/usr/include/aarch64-linux-gnu

if [ ! -d "$sources" ]; then
    echo "check-aarch64: no such directory: $sources" >&2
    exit 2
fi

# $CLANG, else the clang of the Swift toolchain (next to swift on PATH, or in /opt/swift), else
# whichever clang is on PATH.
clang="${CLANG:-}"
if [ -z "$clang" ] && command -v swift >/dev/null 2>&1; then
    candidate="$(dirname "$(readlink -f "$(command -v swift)")")/clang"
    if [ -x "$candidate" ]; then
        clang="$candidate"
    fi
fi
if [ -z "$clang" ] && [ -x /opt/swift/usr/bin/clang ]; then
    clang=/opt/swift/usr/bin/clang
fi
if [ -z "$clang" ]; then
    clang="$(command -v clang || true)"
fi
if [ -z "$clang" ]; then
    echo "check-aarch64: no clang (install the Swift toolchain or Debian's clang)" >&2
    exit 2
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Whether a package (with :arch) is installed.
installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

apt_updated=0
# apt-get update once, before the first install.
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        $SUDO apt-get update -qq
        apt_updated=1
    fi
}

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "check-aarch64: dpkg --add-architecture arm64"
    $SUDO dpkg --add-architecture arm64
fi

if ! installed libc6-dev-arm64-cross; then
    apt_update_once
    echo "check-aarch64: installing libc6-dev-arm64-cross"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libc6-dev-arm64-cross >/dev/null
fi

if [ -f "$unwind_include/libunwind-aarch64.h" ]; then
    :
elif [ -f "$headers_fallback/usr/include/aarch64-linux-gnu/libunwind-aarch64.h" ]; then
    unwind_include="$headers_fallback/usr/include/aarch64-linux-gnu"
else
    apt_update_once
    echo "check-aarch64: installing libunwind-dev:arm64"
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libunwind-dev:arm64 >/dev/null; then
        echo "check-aarch64: libunwind-dev:arm64 does not co-install; unpacking its headers only"
        scratch="$(mktemp -d)"
        (cd "$scratch" && apt-get download -qq libunwind-dev:arm64)
        $SUDO mkdir -p "$headers_fallback"
        $SUDO dpkg-deb -x "$scratch"/libunwind-dev_*_arm64.deb "$headers_fallback"
        rm -rf "$scratch"
        unwind_include="$headers_fallback/usr/include/aarch64-linux-gnu"
    fi
fi

includes=()
for dir in "$sources"/*/include; do
    if [ -d "$dir" ]; then
        includes+=("-I$dir")
    fi
done

common=(
    --target=aarch64-linux-gnu -nostdlibinc
    -isystem "$unwind_include" -isystem "$cross_include"
    -c -o /dev/null
)
# Extra flags, e.g. SPR_CFLAGS=-DSPR_UNWIND_STATIC for the static release build's branch.
read -r -a extra <<<"${SPR_CFLAGS:-}"

echo "check-aarch64: $("$clang" --version | head -1) --target=aarch64-linux-gnu ${SPR_CFLAGS:-}"
failed=()
count=0
# compile FILE FLAGS...: one file, reported.
compile() {
    local file="$1"
    shift
    count=$((count + 1))
    if "$clang" "${common[@]}" "$@" "$file"; then
        echo "ok      $file"
    else
        echo "FAILED  $file"
        failed+=("$file")
    fi
}

while IFS= read -r -d '' file; do
    # Each file is compiled from its own directory's point of view too (private headers).
    compile "$file" -D_GNU_SOURCE -Wall -Werror "${includes[@]}" -I"$(dirname "$file")" "${extra[@]}"
done < <(find "$sources" -name '*.c' -print0 | sort -z)

# The fixtures and the bench's programs do not use SPR_CFLAGS: compiled in the plain run only.
if [ -z "${SPR_CFLAGS:-}" ]; then
    for dir in "$fixtures" "$bench"; do
        [ -d "$dir" ] || continue
        while IFS= read -r -d '' file; do
            compile "$file" -pthread
        done < <(find "$dir" -maxdepth 1 -name '*.c' -print0 | sort -z)
    done
fi

echo "check-aarch64: $((count - ${#failed[@]})) of $count C files compile for aarch64"
if [ "${#failed[@]}" -gt 0 ]; then
    exit 1
fi
