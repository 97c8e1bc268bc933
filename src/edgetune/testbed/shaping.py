"""Link conditions: ``tbf`` rate shaping and nftables ``numgen random`` loss, recorded as created.

* Rate: ``tc qdisc replace dev D root tbf rate R burst B limit L`` on the egress of the sending end.
  ``burst`` is 4 ms of traffic (at least two full frames) so short windows see the configured rate;
  ``limit`` (the queue) is ``queue_s`` of traffic, one round-trip time of the path by default.
* Loss: one nftables table ``ip edgetune_loss`` per receiving namespace, one rule per source:
  ``ip saddr S numgen random mod 1000000 < round(1e4 * loss_pct) counter drop`` in the input hook
  (an output-side rule would make the sender see EPERM instead of a silent loss).

Both live on interfaces or in namespaces the testbed created, so they disappear with them; they are
still recorded in the state file so ``status`` can show them and tests can check they are gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from edgetune.testbed.state import NFT_TABLE, Resource, TestbedState
from edgetune.testbed.system import run
from edgetune.testbed.topology import LossRule, Shaper

LOSS_SCALE = 1_000_000
FRAME_BYTES = 1514


def tbf_args(rate_mbps: float, queue_s: float) -> list[str]:
    """The ``tbf`` parameters of a shaper (pure; unit-tested)."""
    rate_bps = rate_mbps * 1e6
    burst = max(2 * FRAME_BYTES, int(rate_bps / 8 * 0.004))
    limit = max(int(rate_bps / 8 * queue_s), 4 * FRAME_BYTES) + burst
    return ["rate", f"{round(rate_bps)}bit", "burst", str(burst), "limit", str(limit)]


def add_shaper(state: TestbedState, shaper: Shaper) -> None:
    """Put a ``tbf`` on the egress of ``shaper.dev``."""
    run(
        ["tc", "qdisc", "replace", "dev", shaper.dev, "root", "tbf", *tbf_args(shaper.rate_mbps, shaper.queue_s)],
        netns=shaper.netns,
    )
    state.add(Resource(kind="qdisc", name=shaper.dev, netns=shaper.netns, info={"rate_mbps": shaper.rate_mbps}))


def nft_script(rules: Sequence[LossRule]) -> str:
    """The nftables script of one namespace's loss rules (pure; unit-tested)."""
    lines = [f"table ip {NFT_TABLE} {{", "  chain input {", "    type filter hook input priority 0; policy accept;"]
    for r in rules:
        threshold = round(r.loss_pct / 100 * LOSS_SCALE)
        lines.append(f"    ip saddr {r.saddr} numgen random mod {LOSS_SCALE} < {threshold} counter drop")
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def add_loss_rules(state: TestbedState, rules: Sequence[LossRule]) -> None:
    """Install every namespace's loss rules (one table per namespace)."""
    by_ns: dict[str, list[LossRule]] = defaultdict(list)
    for r in rules:
        by_ns[r.netns].append(r)
    for ns, rs in by_ns.items():
        run(["nft", "-f", "-"], netns=ns, input_text=nft_script(rs))
        state.add(Resource(kind="nft", name=f"ip {NFT_TABLE}", netns=ns, info={"rules": len(rs)}))


def loss_counters(netns: str) -> dict[str, int]:
    """Packets dropped per source address so far in ``netns`` (from the rules' counters)."""
    out = run(["nft", "list", "table", "ip", NFT_TABLE], netns=netns, check=False)
    got: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if "saddr" in parts and "packets" in parts:
            got[parts[parts.index("saddr") + 1]] = int(parts[parts.index("packets") + 1])
    return got
