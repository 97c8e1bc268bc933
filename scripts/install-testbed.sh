#!/usr/bin/env bash
# The real SDN testbed's system side (docs/testbed.md): Open vSwitch, iproute2, nftables, ethtool from
# Debian, os-ken 1.4.1 (the maintained Ryu fork) from PyPI with its one fix for current eventlet, and
# OVS started with ovs-ctl (datapath_type=netdev bridges, so no kernel module is needed).
# Needs root. Idempotent: every step checks first, so a second run only checks.
# Usage: bash scripts/install-testbed.sh
set -euo pipefail
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ "$(id -u)" != 0 ]; then
  echo "install-testbed.sh: needs root (apt-get, Open vSwitch, network namespaces); skipped" >&2
  exit 1
fi

# 1. Debian packages.
need=()
for pkg in openvswitch-switch iproute2 nftables ethtool; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  # policy-rc.d-style guard: the package's own service start is blocked on these machines; we start
  # OVS ourselves below, so a failing postinst start must not abort the install.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
    dpkg --configure -a >/dev/null 2>&1 || true
    for pkg in "${need[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || { echo "install-testbed.sh: $pkg failed to install" >&2; exit 1; }; done
  }
fi

# 2. os-ken 1.4.1: the last release that still ships osken-manager and the REST apps.
if ! "$PY" -c 'import importlib.metadata as m, sys; sys.exit(0 if m.version("os-ken") == "1.4.1" else 1)' 2>/dev/null; then
  "$PY" -m pip install -q "os-ken==1.4.1"
fi

# 3. The eventlet fix: eventlet >= 0.34 moved ALREADY_HANDLED out of eventlet.wsgi. os-ken 1.4.1's
#    os_ken/app/wsgi.py imports it from there; make that import fall back to a local sentinel.
"$PY" - <<'EOF'
import importlib.util, pathlib, re
spec = importlib.util.find_spec("os_ken")
path = pathlib.Path(spec.origin).parent / "app" / "wsgi.py"
src = path.read_text()
if "edgetune install-testbed.sh" not in src:
    m = re.search(r"^([ \t]*)from eventlet\.wsgi import ALREADY_HANDLED[ \t]*$", src, re.M)
    if m is None:
        raise SystemExit(f"install-testbed.sh: {path} has no ALREADY_HANDLED import; os-ken changed, check the fix")
    ind = m.group(1)
    new = (f"{ind}try:  # edgetune install-testbed.sh: eventlet moved ALREADY_HANDLED out of eventlet.wsgi\n"
           f"{ind}    from eventlet.wsgi import ALREADY_HANDLED\n"
           f"{ind}except ImportError:\n"
           f"{ind}    ALREADY_HANDLED = []  # an empty WSGI body: the websocket already wrote the response")
    path.write_text(src[: m.start()] + new + src[m.end():])
    print(f"install-testbed.sh: patched {path}")
EOF
"$PY" -c 'import os_ken.app.wsgi, os_ken.base.app_manager' >/dev/null

# 4. Open vSwitch daemons (ovsdb-server + ovs-vswitchd), userspace datapath: no kernel module needed.
if ! ovs-vsctl --timeout=3 show >/dev/null 2>&1; then
  /usr/share/openvswitch/scripts/ovs-ctl start >/dev/null 2>&1 || /usr/share/openvswitch/scripts/ovs-ctl start
fi
ovs-vsctl --timeout=5 show >/dev/null
echo "testbed ready: $(ovs-vsctl --version | head -1), os-ken $("$PY" -c 'import importlib.metadata as m; print(m.version("os-ken"))')"
