"""Random fleets following Section IV-A and Table I of the node-elimination paper (000).

* Compute power ``C``: normal with mean 30 and standard deviation 15, redrawn while below
  ``min_compute`` (the paper only says "a distribution with an average of 30 and a standard
  deviation of 15"; a non-positive compute power has no meaning, so we truncate by redrawing).
* End-to-end bandwidth, delay and loss between the orchestrator and each node: exponential with the
  means of Table I (:data:`SETUPS`). Bandwidth is floored at ``min_bandwidth_mbps`` and loss capped
  at ``max_loss_pct`` so that every node stays reachable.

How end-to-end values are split over the tiers (the paper gives only end-to-end values):

* the **access link** (node -> gateway) carries the drawn bandwidth and all the drawn loss, and the
  drawn delay minus the fixed tier delays below (never negative);
* each **gateway uplink** (gateway -> aggregation) is provisioned at the sum of its nodes' access
  bandwidths divided by ``oversubscription`` (but never below its fastest node), delay
  ``gateway_delay_ms``, no loss;
* the **core link** (aggregation -> orchestrator) has ``core_bandwidth_mbps``, ``core_delay_ms``.

So without traffic a lone flow sees exactly the drawn end-to-end bandwidth, delay and loss; with
fine-tuning traffic the oversubscribed gateway uplinks and the core link become shared bottlenecks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, fleet_from_dict


@dataclass(frozen=True)
class Setup:
    """One row of Table I: mean end-to-end bandwidth, delay and loss."""

    bandwidth_mbps: float
    delay_ms: float
    loss_pct: float


#: Table I of the node-elimination paper.
SETUPS: dict[str, Setup] = {
    "normal": Setup(bandwidth_mbps=16.0, delay_ms=58.0, loss_pct=1.0),
    "limited": Setup(bandwidth_mbps=7.5, delay_ms=78.5, loss_pct=1.0),
    "prolific": Setup(bandwidth_mbps=21.0, delay_ms=19.0, loss_pct=1.0),
}


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of :func:`generate_fleet`; defaults follow the paper where it says anything."""

    compute_mean: float = 30.0
    compute_std: float = 15.0
    min_compute: float = 1.0
    min_bandwidth_mbps: float = 0.1
    max_loss_pct: float = 20.0
    nodes_per_gateway: int = 4
    oversubscription: float = 2.0
    gateway_delay_ms: float = 1.0
    core_delay_ms: float = 0.5
    core_bandwidth_mbps: float = 1000.0
    idle_power_w: float = 2.5
    busy_power_base_w: float = 3.0
    busy_power_per_compute_w: float = 0.2
    radio_j_per_mb: float = 0.1


def generate_fleet(
    n_nodes: int,
    setup: str,
    rng: np.random.Generator,
    config: GeneratorConfig | None = None,
    seed: int | None = None,
) -> Fleet:
    """Draw a fleet of ``n_nodes`` edge nodes for one of the Table I setups.

    Parameters
    ----------
    n_nodes : int
        Number of edge nodes (>= 1).
    setup : {"normal", "limited", "prolific"}
        Row of Table I.
    rng : numpy.random.Generator
        The only source of randomness.
    config : GeneratorConfig, optional
        Distribution and topology knobs.
    seed : int, optional
        Recorded in the file for provenance only.
    """
    cfg = config or GeneratorConfig()
    if n_nodes < 1:
        raise InputError("--nodes", n_nodes, "must be at least 1")
    if setup not in SETUPS:
        raise InputError("--setup", setup, f"must be one of {', '.join(SETUPS)}")
    row = SETUPS[setup]

    compute = rng.normal(cfg.compute_mean, cfg.compute_std, n_nodes)
    while (low := compute < cfg.min_compute).any():  # truncate by redrawing, keeps the shape above the floor
        compute[low] = rng.normal(cfg.compute_mean, cfg.compute_std, int(low.sum()))
    bandwidth = np.maximum(rng.exponential(row.bandwidth_mbps, n_nodes), cfg.min_bandwidth_mbps)
    delay = rng.exponential(row.delay_ms, n_nodes)
    loss = np.minimum(rng.exponential(row.loss_pct, n_nodes), cfg.max_loss_pct)

    n_gateways = -(-n_nodes // cfg.nodes_per_gateway)
    order = rng.permutation(n_nodes)
    gateway_of = np.empty(n_nodes, dtype=np.int64)
    gateway_of[order] = np.arange(n_nodes) % n_gateways

    access_delay = np.maximum(delay - cfg.gateway_delay_ms - cfg.core_delay_ms, 0.0)
    # Built as one document and validated once (issue 17: a million nodes in seconds). Python's
    # round() on each value, as before, so the same seed gives the same fleet file.
    comp = compute.tolist()
    busy = (cfg.busy_power_base_w + cfg.busy_power_per_compute_w * compute).tolist()
    bw_l, delay_l, loss_l = bandwidth.tolist(), access_delay.tolist(), loss.tolist()
    gw_l = gateway_of.tolist()
    nodes = [
        {
            "id": i,
            "name": f"edge-{i}",
            "compute": round(comp[i], 4),
            "idle_power_w": cfg.idle_power_w,
            "busy_power_w": round(busy[i], 4),
            "radio_j_per_mb": cfg.radio_j_per_mb,
            "gateway": f"gw{gw_l[i]}",
            "link": {
                "bandwidth_mbps": round(bw_l[i], 4),
                "delay_ms": round(delay_l[i], 4),
                "loss_pct": round(loss_l[i], 5),
            },
        }
        for i in range(n_nodes)
    ]
    # Gateway uplink: the sum of its members' access bandwidths / oversubscription, at least its fastest.
    member_sum = np.bincount(gateway_of, weights=bandwidth, minlength=n_gateways)
    member_max = np.zeros(n_gateways)
    np.maximum.at(member_max, gateway_of, bandwidth)
    uplink = np.maximum(member_sum / cfg.oversubscription, member_max).tolist()
    switches: list[dict[str, object]] = [{"id": "agg0", "kind": "aggregation"}]
    switches += [
        {
            "id": f"gw{g}",
            "kind": "gateway",
            "parent": "agg0",
            "uplink": {"bandwidth_mbps": round(uplink[g], 4), "delay_ms": cfg.gateway_delay_ms, "loss_pct": 0.0},
        }
        for g in range(n_gateways)
    ]
    orchestrator = {
        "switch": "agg0",
        "link": {"bandwidth_mbps": cfg.core_bandwidth_mbps, "delay_ms": cfg.core_delay_ms, "loss_pct": 0.0},
    }
    doc = {"setup": setup, "seed": seed, "orchestrator": orchestrator, "switches": switches, "nodes": nodes}
    return fleet_from_dict(doc, source="generated fleet")


def fleet_rng(seed: int, nodes: int, setup: str) -> np.random.Generator:
    """The generator of a run spec's generated fleet (``[fleet]`` nodes, setup, seed).

    Independent per (seed, nodes, setup) cell, so a sweep's cells and the policies compared in one
    cell (a paired comparison) share exactly the fleet a run spec with the same three values names.
    """
    return np.random.default_rng([seed, nodes, sorted(SETUPS).index(setup)])
