#!/usr/bin/env bash
# Installs the Debian packages a command needs when they are missing (we are root in CI and on
# the developers' machines; elsewhere run it with sudo). Usage: ensure-deps.sh PACKAGE...
# Each PACKAGE may be "package" or "package:command" (installed when `command` is not found).
set -euo pipefail
missing=()
for spec in "$@"; do
    package=${spec%%:*}
    command=${spec#*:}
    if [[ "$spec" == *:* ]]; then
        command -v "$command" >/dev/null 2>&1 && continue
    else
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" && continue
    fi
    missing+=("$package")
done
if ((${#missing[@]})); then
    echo "ensure-deps: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null 2>&1 || {
    echo "ensure-deps: the Swift toolchain (6.0 or newer) is needed and is not on PATH: see https://swift.org/install" >&2
    exit 1
}
