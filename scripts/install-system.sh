#!/usr/bin/env bash
# System packages edgetune uses. Installs only what is missing; needs root (apt-get).
set -euo pipefail
need=()
# fortunes: the fine-tuning domain corpus; dataset-fashion-mnist: split fine-tuning pre-training data.
for pkg in fortunes dataset-fashion-mnist; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-system.sh: need root to apt-get install ${need[*]}" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
