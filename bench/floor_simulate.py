"""A numpy floor for one simulated run: the arithmetic of Algorithm 1 on the simulator, nothing else.

Issue 17 measures the simulator against this floor. Per epoch it does, over the active nodes only:

* the uploads (compute, then a model-sized transfer) and the broadcast: per transfer the variation
  factor (4-sinusoid background process of bandwidth and delay at the transfer's start), Mathis
  throughput (Eq. N2) and max-min sharing (Eq. N3) on the gateway uplinks and the core link;
* one noisy poll of the read paths (lognormal bandwidth, |normal| delay, binomial loss);
* Eq. 2-3 scoring and an argsort; NE then drops the Eq. 1 count of weakest nodes.

It is not a simulator (no window averages, no traffic load seen by the monitor, no EWMA); it is what
the same data flow costs when written as a handful of vectorised numpy calls, so the ratio
``simulation / floor`` says how far the real code is from its own arithmetic.

Run: ``python bench/floor_simulate.py --nodes 100000 --policy ne`` (prints seconds).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

MSS_BYTES = 1460
COMPONENTS = 4


@dataclass(frozen=True)
class FloorFleet:
    """The arrays a run needs: per node and per gateway uplink."""

    compute: F
    bw_mbps: F
    delay_ms: F
    loss_pct: F
    gateway: I
    gw_bw_mbps: F
    core_bw_mbps: float


def random_fleet(n: int, rng: np.random.Generator, per_gateway: int = 4) -> FloorFleet:
    """A Table I "normal" fleet drawn directly as arrays (same distributions as ``fleet generate``)."""
    bw = np.maximum(rng.exponential(16.0, n), 0.1)
    g = -(-n // per_gateway)
    gateway = rng.permutation(n) % g
    gw_bw = np.maximum(np.bincount(gateway, weights=bw, minlength=g) / 2.0, 0.1)
    return FloorFleet(
        compute=np.maximum(rng.normal(30.0, 15.0, n), 1.0),
        bw_mbps=bw,
        delay_ms=rng.exponential(58.0, n),
        loss_pct=np.minimum(rng.exponential(1.0, n), 20.0),
        gateway=gateway.astype(np.int64),
        gw_bw_mbps=gw_bw,
        core_bw_mbps=1000.0,
    )


def max_min(demand: F, group: I, capacity: F) -> F:
    """Water-filling per group with one lexsort (Eq. N3)."""
    n = demand.shape[0]
    order = np.lexsort((demand, group))
    d, g = demand[order], group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    csum = np.cumsum(d)
    before = csum - d - np.repeat(csum[starts] - d[starts], counts)
    level = (capacity[g] - before) / (np.repeat(counts, counts) - rank)
    unsat = np.where(d > level, np.arange(n), n)
    first = np.minimum.reduceat(unsat, starts)
    glevel = np.where(first < n, level[np.minimum(first, n - 1)], np.inf)
    out = np.empty(n)
    out[order] = np.minimum(d, np.repeat(glevel, counts))
    return out


def run_floor(fleet: FloorFleet, policy: str, epochs: int, rng: np.random.Generator) -> list[int]:
    """One run; returns the active count per epoch (so the work cannot be optimised away)."""
    n = fleet.compute.shape[0]
    omega = 2 * np.pi / np.geomspace(120.0, 3600.0, COMPONENTS)
    a_bw, b_bw = rng.normal(0, 0.1, (n, COMPONENTS)), rng.normal(0, 0.1, (n, COMPONENTS))
    a_d, b_d = rng.normal(0, 0.07, (n, COMPONENTS)), rng.normal(0, 0.07, (n, COMPONENTS))
    w = np.array([0.2] * 5)
    benefit = np.array([True, True, False, False, False])
    active = np.arange(n)
    ready = np.zeros(n)
    drop = (n - 1) // (epochs - 1) if epochs > 1 else 0
    counts: list[int] = []
    core = np.array([fleet.core_bw_mbps])

    def transfer(idx: I, start: F, size_bytes: float) -> F:
        wt = start[:, None] * omega
        s, c = np.sin(wt), np.cos(wt)
        bw_f = np.exp((a_bw[idx] * s + b_bw[idx] * c).sum(axis=1))
        d_f = np.exp((a_d[idx] * s + b_d[idx] * c).sum(axis=1))
        delay = fleet.delay_ms[idx] * d_f
        p = np.maximum(fleet.loss_pct[idx], 1e-9) / 100.0
        mathis = (MSS_BYTES * 8.0 / (2 * delay / 1e3)) * np.sqrt(1.5) / np.sqrt(p) / 1e6
        cap = np.minimum(fleet.bw_mbps[idx] * bw_f, mathis)
        rate = max_min(max_min(cap, fleet.gateway[idx], fleet.gw_bw_mbps), np.zeros(idx.shape[0], np.int64), core)
        return np.asarray(start + delay / 1e3 + size_bytes * 8.0 / (rate * 1e6), dtype=np.float64)

    for epoch in range(1, epochs + 1):
        done = ready[active] + (1000.0 / n) / fleet.compute[active]
        arrivals = transfer(active, done, 500e6)
        clock = float(arrivals.max())
        # one noisy poll of the read paths
        k = active.shape[0]
        bw = fleet.bw_mbps[active] * rng.lognormal(0.0, 0.05, k)
        delay = fleet.delay_ms[active] + np.abs(rng.normal(0.0, 1.0, k))
        loss = 100.0 * rng.binomial(200, np.clip(fleet.loss_pct[active] / 100.0, 0, 1)) / 200
        # Eq. 2-3
        vals = np.stack([fleet.compute[active], bw, delay, loss, arrivals - done], axis=1)
        lo, hi = vals.min(axis=0), vals.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        norm = np.where(benefit, (vals - lo) / span, (hi - vals) / span)
        score = 1 - np.abs(norm @ w - 0.2 * 5)
        order = np.argsort(score, kind="stable")
        counts.append(k)
        if policy == "ne" and epoch < epochs:
            active = np.sort(active[order[min(drop, k - 1) :]])
        # broadcast to every node
        everyone = np.arange(n)
        ready = transfer(everyone, np.full(n, clock), 500e6)
    return counts


def time_floor(fleet: FloorFleet, policy: str, epochs: int, seed: int = 0, repeat: int = 3) -> tuple[float, float]:
    """Best wall and best CPU seconds of ``repeat`` floor runs (one BLAS thread, like the simulator)."""
    from threadpoolctl import threadpool_limits

    best, best_cpu = np.inf, np.inf
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            run_floor(fleet, policy, epochs, np.random.default_rng(seed))
            best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
    return float(best), float(best_cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--policy", choices=("ne", "ar"), default="ne")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    fleet = random_fleet(args.nodes, np.random.default_rng(1))
    wall, cpu = time_floor(fleet, args.policy, args.epochs, 0, args.repeat)
    print(f"floor {args.nodes} nodes {args.policy}: {wall:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
