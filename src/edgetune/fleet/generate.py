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
from numpy.typing import NDArray
from pydantic import ValidationError

from edgetune.errors import InputError, from_pydantic
from edgetune.fleet.schema import Fleet, FleetColumns, FleetHeader, LinkSpec, OrchestratorSpec, fleet_from_columns


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
    # Gateway uplink: the sum of its members' access bandwidths / oversubscription, at least its fastest.
    member_sum = np.bincount(gateway_of, weights=bandwidth, minlength=n_gateways)
    member_max = np.zeros(n_gateways)
    np.maximum.at(member_max, gateway_of, bandwidth)
    uplink = np.maximum(member_sum / cfg.oversubscription, member_max)
    # Straight to columns, validated once with numpy (issue 17: a million nodes in seconds). Rounded as
    # Python's round() did per value before, so the same seed gives the same fleet file.
    m = n_gateways + 1  # switch row 0 is the aggregation switch, row g + 1 gateway g
    switch_id = np.asarray(["agg0", *(f"gw{g}" for g in range(n_gateways))], dtype=np.str_)
    columns = FleetColumns(
        node_id=np.arange(n_nodes, dtype=np.int64),
        node_name=np.asarray([f"edge-{i}" for i in range(n_nodes)], dtype=np.str_),
        node_gateway=gateway_of + 1,
        node_compute=round_like_python(compute, 4),
        node_idle_power_w=np.full(n_nodes, cfg.idle_power_w),
        node_busy_power_w=round_like_python(cfg.busy_power_base_w + cfg.busy_power_per_compute_w * compute, 4),
        node_radio_j_per_mb=np.full(n_nodes, cfg.radio_j_per_mb),
        node_link_bandwidth_mbps=round_like_python(bandwidth, 4),
        node_link_delay_ms=round_like_python(access_delay, 4),
        node_link_loss_pct=round_like_python(loss, 5),
        switch_id=switch_id,
        switch_kind=np.asarray(["aggregation"] + ["gateway"] * n_gateways, dtype=np.str_),
        switch_parent=np.asarray([""] + ["agg0"] * n_gateways, dtype=np.str_),
        switch_has_parent=np.arange(m) > 0,
        switch_has_uplink=np.arange(m) > 0,
        switch_uplink_bandwidth_mbps=np.r_[0.0, round_like_python(uplink, 4)],
        switch_uplink_delay_ms=np.r_[0.0, np.full(n_gateways, cfg.gateway_delay_ms)],
        switch_uplink_loss_pct=np.zeros(m),
    )
    orchestrator = OrchestratorSpec(
        switch="agg0",
        link=LinkSpec(bandwidth_mbps=cfg.core_bandwidth_mbps, delay_ms=cfg.core_delay_ms, loss_pct=0.0),
    )
    try:
        header = FleetHeader(setup=setup, seed=seed, orchestrator=orchestrator)
    except ValidationError as exc:
        raise from_pydantic(exc, "generated fleet") from None
    return fleet_from_columns(columns, header, source="generated fleet")


def round_like_python(values: NDArray[np.float64], ndigits: int) -> NDArray[np.float64]:
    """``[round(v, ndigits) for v in values]`` (Python's correctly rounded decimal rounding), vectorised.

    ``np.round`` scales by ``10**ndigits``, rounds half to even and scales back; the scaled product can
    itself be rounded across a half (``2.675 * 100``), where Python decides on the exact binary value.
    So values whose scaled fraction lies within 1e-9 (relative) of a half are redone with :func:`round`; for all
    others the nearest integer is unambiguous and ``k / 10**ndigits`` is the same correctly rounded
    double Python returns (one IEEE division of exact operands).
    """
    scale = 10.0**ndigits
    scaled = np.asarray(values, dtype=np.float64) * scale
    out = np.rint(scaled) / scale
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-9 * np.maximum(1.0, np.abs(scaled))
    near_half |= ~np.isfinite(scaled) | (np.abs(scaled) >= 2.0**52)  # outside the exact-integer range
    for k in np.flatnonzero(near_half).tolist():
        out[k] = round(float(values[k]), ndigits)
    return out


def fleet_rng(seed: int, nodes: int, setup: str) -> np.random.Generator:
    """The generator of a run spec's generated fleet (``[fleet]`` nodes, setup, seed).

    Independent per (seed, nodes, setup) cell, so a sweep's cells and the policies compared in one
    cell (a paired comparison) share exactly the fleet a run spec with the same three values names.
    """
    return np.random.default_rng([seed, nodes, sorted(SETUPS).index(setup)])
