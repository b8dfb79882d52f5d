#!/usr/bin/env bash
# Installs a Python package from PyPI when its module cannot be imported. Usage:
# ensure-python-module.sh MODULE PACKAGE. Debian's Python refuses pip installs into the system
# (PEP 668), so pip is told it may; a fresh Debian gets pip from apt first.
set -euo pipefail
module=$1
package=$2
python3 -c "import $module" 2>/dev/null && exit 0
python3 -m pip --version >/dev/null 2>&1 || "$(dirname "$0")/ensure-deps.sh" python3-pip
echo "ensure-python-module: installing $package" >&2
python3 -m pip install -q --disable-pip-version-check "$package" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "$package"
python3 -c "import $module"
