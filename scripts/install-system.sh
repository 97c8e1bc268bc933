#!/usr/bin/env bash
# System packages edgetune uses. Installs only what is missing; needs root (apt-get).
# Usage: bash scripts/install-system.sh [--dev]
#   --dev  also the test tools' system packages: chromium (the dashboard's real-browser test).
set -euo pipefail
dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    *) echo "install-system.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
need=()
# fortunes: the fine-tuning domain corpus; dataset-fashion-mnist: split fine-tuning pre-training data.
pkgs=(fortunes dataset-fashion-mnist)
# chromium: headless browser that Playwright drives in tests/dashboard (never `playwright install`).
[ "$dev" = 1 ] && pkgs+=(chromium)
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-system.sh: need root to apt-get install ${need[*]}" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# python3.11-doc: the pre-training corpus (edgetune data prepare). Downloaded as a .deb, not installed;
# edgetune extracts it with dpkg -x into its cache.
deb_dir=${EDGETUNE_DEB_DIR:-/var/cache/edgetune/debs}
if ! ls "$deb_dir"/python3.11-doc_*.deb >/dev/null 2>&1 && [ ! -d /usr/share/doc/python3.11/html/library ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-system.sh: need root to apt-get download python3.11-doc" >&2; exit 1
  fi
  mkdir -p "$deb_dir"
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
  (cd "$deb_dir" && apt-get download -qq python3.11-doc 2>/dev/null) || { apt-get update -qq; (cd "$deb_dir" && apt-get download -qq python3.11-doc); }
fi
