"""Solve time of the planners as K, servers and partitions grow (issue 4).

Aims: ``exact`` solves the paper-size instances (the jqodi-data1/2 scenarios) in < 50 ms, and
100 servers x 10 partitions x K = 200 in < 1 s. ``jqodi`` is the literal Algorithms 1-4 (bounded
tree, default 200 000 vertices), ``jqodi-stationary`` its one-action-per-path tree, ``brute`` the
enumeration of all ordered schedules (bounded, 2 000 000). "bound" marks a search that hit its bound.

Run: ``python bench/bench_planner.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from edgetune.planner.instance import Instance, instance_from_mapping
from edgetune.planner.methods import make_method
from edgetune.planner.plan import SearchLimitExceeded
from edgetune.planner.problem import candidates
from edgetune.planner.scenarios import build_scenario


def synthetic(n_servers: int, n_partitions: int, k: int, seed: int = 0, variants: int = 1) -> Instance:
    """One model, ``variants`` variants of ``n_partitions + 1`` blocks, T_max binding (60% of the range)."""
    rng = np.random.default_rng(seed)
    n_layers = n_partitions + 1
    speeds = rng.uniform(2e11, 2e12, n_servers)
    servers = [
        {
            "name": f"es{x}",
            "speed": float(speeds[x]),
            # faster servers spend more per unit of work (a time-energy trade-off, large frontiers)
            "energy_per_unit": float(6e-10 * (speeds[x] / 2e11) ** 0.6 * rng.uniform(0.95, 1.05)),
            "cloud_rate_bps": 1e9,
            "cloud_energy_per_bit": 1e-9,
            "bandwidth_hz": float(rng.uniform(5e6, 4e7)),
            "snr": float(rng.uniform(10.0, 300.0)),
            "device_energy_per_bit": float(rng.uniform(2e-8, 8e-8)),
        }
        for x in range(n_servers)
    ]
    var = []
    for q, bits in enumerate([8, 6, 4, 2][:variants]):
        var.append(
            {
                "bits": bits,
                "quantize_time_s": 0.3,
                "quantize_energy_j": 100.0,
                "layers": [
                    {"compute": float(rng.uniform(5e9, 5e10)), "size_bits": float(rng.uniform(1e4, 2e6))}
                    for _ in range(n_layers)
                ],
                "loss_jump": {"expected": 0.002, "robust": 0.002},
                "epoch_loss_delta": {
                    "expected": -0.002 / (k - 3 * q - 0.5),
                    "robust": -0.002 / (k + q - 0.5),
                },
                "epochs": {"expected": max(1, k - 3), "robust": k + q},
            }
        )
    doc: dict[str, Any] = {
        "t_max_s": 1.0,
        "l_max": 0.02,
        "cloud": {"speed": 2e11, "energy_per_unit": 1.7e-9},
        "device": {"name": "pi5", "speed": 2.2e10, "energy_per_unit": 3.75e-10},
        "edge_servers": servers,
        "models": [{"name": "m", "loss": 0.02, "update_compute": 1e7, "variants": var}],
    }
    inst = instance_from_mapping(doc)
    pool, _ = candidates(inst, "robust")
    lo = min(c.variant.quantize_time_s + c.epochs * float(c.options.time_s.min()) for c in pool)
    hi = max(c.variant.quantize_time_s + c.epochs * float(c.options.time_s.max()) for c in pool)
    doc["t_max_s"] = lo + 0.6 * (hi - lo)
    return instance_from_mapping(doc)


def timed(method: str, inst: Instance, repeat: int = 3) -> str:
    """Median wall time in ms (``bound`` when the search hit its bound; one run for slow ones)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            make_method(method).plan(inst)
        except SearchLimitExceeded:
            return "bound"
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        if elapsed > 2.0:
            break
    return f"{1000 * statistics.median(times):.1f}"


def row(label: str, inst: Instance, methods: tuple[str, ...]) -> list[str]:
    return [label] + [timed(m, inst) for m in methods]


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


def main() -> None:
    methods = ("exact", "jqodi-stationary", "jqodi", "brute")
    head = ["instance", *[f"{m} (ms)" for m in methods]]
    table(
        "K grows (2 servers x 4 partitions)",
        head,
        [row(f"K={k}", synthetic(2, 4, k), methods) for k in (3, 5, 7, 10, 25, 50, 100, 150)],
    )
    table(
        "servers grow (4 partitions, K=30)",
        head,
        [row(f"X={x}", synthetic(x, 4, 30, seed=x), methods) for x in (2, 5, 10, 25, 50, 100)],
    )
    table(
        "partitions grow (2 servers, K=30)",
        head,
        [row(f"J={j}", synthetic(2, j, 30, seed=j), methods) for j in (2, 4, 6, 8, 10)],
    )

    print("\nAims for exact")
    results = []
    for name in ("jqodi-data1", "jqodi-data2"):
        inst = build_scenario(name)
        for method in ("exact", "optimum", "full", "minimal"):
            ms = timed(method, inst, repeat=5)
            results.append((f"{name} {method}", ms, 50.0))
    big = synthetic(100, 10, 200, seed=7, variants=4)
    results.append(("100 servers x 10 partitions x K=200 (4 variants) exact", timed("exact", big), 1000.0))
    big1 = synthetic(100, 10, 200, seed=8, variants=1)
    results.append(("100 servers x 10 partitions x K=200 (1 variant) exact", timed("exact", big1), 1000.0))
    print("| case | measured (ms) | aim (ms) | met |")
    print("|---|---|---|---|")
    for label, ms, aim in results:
        met = ms != "bound" and float(ms) < aim
        print(f"| {label} | {ms} | < {aim:g} | {'yes' if met else 'NO'} |")


if __name__ == "__main__":
    main()
