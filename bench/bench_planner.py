"""Planner speed and JQODI quality (issues 4 and 14).

Speed aims, each printed as aim / measured / peer measured in the same run (min and median of
several runs; the machine is shared, so compare the ratio to the peer, not the absolute time):

* ``jqodi`` (the approximate DP over the layered time-energy graph) plans every shipped scenario in
  < 1 s; peer: ``exact``.
* ``jqodi`` plans 100 servers x 10 partitions x K = 200 (4 variants) in < 10 s; peer: ``exact``.
* ``exact`` plans the paper scenarios in < 50 ms and the 100 x 10 x 200 instance in < 1 s (issue 4).

Scaling tables put ``jqodi`` next to ``exact``, ``jqodi-stationary``, the literal tree
``jqodi-literal`` (bounded at 200 000 vertices) and ``brute`` ("bound" = the search hit its bound).

Quality: the energy gap of ``jqodi``'s plan to ``exact``'s (both robust plans of K̂_rob epochs, so
exact is the floor) on the shipped scenarios and on ``--random`` (default 120) random instances,
as min / median / p95 / max; and the expected-case gap to ``optimum``, the quantity the paper
reports (+9.5 % on Data 1).

Run: ``python bench/bench_planner.py [--random N] [--quick]`` (about two minutes on 2 shared cores).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from edgetune.planner.instance import Instance, instance_from_mapping
from edgetune.planner.jqodi_dp import plan_jqodi_dp
from edgetune.planner.methods import make_method
from edgetune.planner.plan import Plan, SearchLimitExceeded
from edgetune.planner.problem import candidates, evaluate
from edgetune.planner.scenarios import SCENARIOS, build_scenario


def _server(rng: np.random.Generator, x: int, speed: float) -> dict[str, Any]:
    return {
        "name": f"es{x}",
        "speed": speed,
        # faster servers spend more per unit of work (a time-energy trade-off, large frontiers)
        "energy_per_unit": float(6e-10 * (speed / 2e11) ** 0.6 * rng.uniform(0.95, 1.05)),
        "cloud_rate_bps": 1e9,
        "cloud_energy_per_bit": 1e-9,
        "bandwidth_hz": float(rng.uniform(5e6, 4e7)),
        "snr": float(rng.uniform(10.0, 300.0)),
        "device_energy_per_bit": float(rng.uniform(2e-8, 8e-8)),
    }


def _with_tmax(doc: dict[str, Any], frac: float) -> Instance:
    """Set T_max at ``frac`` between the fastest and the slowest robust plan."""
    inst = instance_from_mapping(doc)
    pool, _ = candidates(inst, "robust")
    lo = min(c.variant.quantize_time_s + c.epochs * float(c.options.time_s.min()) for c in pool)
    hi = max(c.variant.quantize_time_s + c.epochs * float(c.options.time_s.max()) for c in pool)
    doc["t_max_s"] = lo + frac * (hi - lo)
    return instance_from_mapping(doc)


def synthetic(n_servers: int, n_partitions: int, k: int, seed: int = 0, variants: int = 1) -> Instance:
    """One model, ``variants`` variants of ``n_partitions + 1`` blocks, T_max binding (60% of the range)."""
    rng = np.random.default_rng(seed)
    n_layers = n_partitions + 1
    speeds = rng.uniform(2e11, 2e12, n_servers)
    servers = [_server(rng, x, float(speeds[x])) for x in range(n_servers)]
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
    return _with_tmax(doc, 0.6)


def random_instance(rng: np.random.Generator) -> Instance:
    """2-8 servers, 2-6 partitions, 1-3 models x 2-4 variants, K̂_rob 5-80, K̂_exp 60-100 % of it, T_max anywhere."""
    n_servers, n_layers = int(rng.integers(2, 9)), int(rng.integers(3, 8))
    servers = [_server(rng, x, float(rng.uniform(2e11, 2e12))) for x in range(n_servers)]
    models = []
    for a in range(int(rng.integers(1, 4))):
        var = []
        for bits in sorted(rng.choice([2, 4, 6, 8, 32], size=int(rng.integers(2, 5)), replace=False)):
            k_rob = int(rng.integers(5, 81))
            k_exp = max(1, round(k_rob * float(rng.uniform(0.6, 1.0))))
            excess = float(rng.uniform(0.001, 0.01))
            s_q = 0.25 + 0.75 * float(bits) / 32
            var.append(
                {
                    "bits": int(bits),
                    "quantize_time_s": float(rng.uniform(0.0, 0.5)),
                    "quantize_energy_j": float(rng.uniform(0.0, 100.0)),
                    "layers": [
                        {
                            "compute": s_q * float(rng.uniform(5e9, 5e10)),
                            "size_bits": float(rng.uniform(1e4, 2e6)) * float(bits),
                        }
                        for _ in range(n_layers)
                    ],
                    "loss_jump": {"expected": excess, "robust": excess},
                    "epoch_loss_delta": {"expected": -excess / (k_exp - 0.5), "robust": -excess / (k_rob - 0.5)},
                    "epochs": {"expected": k_exp, "robust": k_rob},
                }
            )
        models.append({"name": f"m{a}", "loss": 0.02, "update_compute": 1e7, "variants": var})
    doc: dict[str, Any] = {
        "t_max_s": 1.0,
        "l_max": 0.02,
        "cloud": {"speed": 2e11, "energy_per_unit": 1.7e-9},
        "device": {"name": "pi5", "speed": 2.2e10, "energy_per_unit": 3.75e-10},
        "edge_servers": servers,
        "models": models,
    }
    return _with_tmax(doc, float(rng.uniform(0.05, 1.0)))


def run_times(method: str, inst: Instance, repeat: int = 3) -> tuple[float, float] | None:
    """(min, median) wall seconds of ``repeat`` runs; ``None`` when the search hit its bound."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            make_method(method).plan(inst)
        except SearchLimitExceeded:
            return None
        times.append(time.perf_counter() - start)
        if times[-1] > 5.0:
            break
    return min(times), statistics.median(times)


def _ms(t: tuple[float, float] | None) -> str:
    return "bound" if t is None else f"{1000 * t[1]:.1f}"


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


def aims() -> None:
    rows = []

    def add(label: str, method: str, inst: Instance, aim_s: float, peer: str, repeat: int) -> None:
        got, ref = run_times(method, inst, repeat), run_times(peer, inst, repeat)
        met = got is not None and got[1] < aim_s
        measured = "bound" if got is None else f"{got[0]:.3f} / {got[1]:.3f}"
        peer_s = "bound" if ref is None else f"{ref[0]:.3f} / {ref[1]:.3f}"
        ratio = "-" if got is None or ref is None else f"{got[1] / ref[1]:.3g}x"
        rows.append([label, method, f"< {aim_s:g}", measured, f"{peer} {peer_s}", ratio, "yes" if met else "NO"])

    for name in SCENARIOS:
        add(name, "jqodi", build_scenario(name), 1.0, "exact", 5)
    big = synthetic(100, 10, 200, seed=7, variants=4)
    add("100 servers x 10 partitions x K=200, 4 variants", "jqodi", big, 10.0, "exact", 3)
    big1 = synthetic(100, 10, 200, seed=8, variants=1)
    add("100 servers x 10 partitions x K=200, 1 variant", "jqodi", big1, 10.0, "exact", 3)
    for name in ("jqodi-data1", "jqodi-data2"):
        add(name, "exact", build_scenario(name), 0.05, "jqodi-stationary", 5)
    add("100 servers x 10 partitions x K=200, 4 variants", "exact", big, 1.0, "jqodi", 3)
    table(
        "Aims (seconds: min / median of the runs; ratio = median over the peer's median)",
        ["case", "method", "aim (s)", "measured (s)", "peer measured (s)", "ratio", "met"],
        rows,
    )


def scaling() -> None:
    methods = ("exact", "jqodi", "jqodi-stationary", "jqodi-literal", "brute")
    head = ["instance", *[f"{m} (ms)" for m in methods]]

    def row(label: str, inst: Instance) -> list[str]:
        return [label] + [_ms(run_times(m, inst)) for m in methods]

    table("K grows (2 servers x 4 partitions)", head, [row(f"K={k}", synthetic(2, 4, k)) for k in (3, 5, 7, 25, 100)])
    table(
        "servers grow (4 partitions, K=30)",
        head,
        [row(f"X={x}", synthetic(x, 4, 30, seed=x)) for x in (2, 10, 50, 100)],
    )


def _gap(a: float, b: float) -> float:
    return 100.0 * (a - b) / b


def _expected_gap(inst: Instance, plan: Plan, opt: Plan) -> float | None:
    out, ref = evaluate(inst, plan, "expected"), evaluate(inst, opt, "expected")
    if out is None or ref is None:
        return None
    return _gap(out.energy_j, ref.energy_j)


def quality(n_random: int, seed: int) -> None:
    rows = []
    for name in SCENARIOS:
        inst = build_scenario(name)
        jq, ex, opt = (make_method(m).plan(inst) for m in ("jqodi", "exact", "optimum"))
        eg = _expected_gap(inst, jq, opt)
        rows.append(
            [
                name,
                f"{jq.model} {jq.bits}-bit, {jq.energy_j:.1f} J",
                f"{ex.model} {ex.bits}-bit, {ex.energy_j:.1f} J",
                f"{_gap(jq.energy_j, ex.energy_j):+.2f}%",
                "-" if eg is None else f"{eg:+.2f}%",
            ]
        )
    table(
        "Quality on the shipped scenarios (plan energy = K̂_rob epochs; expected case vs optimum as in the paper)",
        ["scenario", "jqodi", "exact", "gap to exact", "expected-case gap to optimum (paper: +9.5% on Data 1)"],
        rows,
    )
    rng = np.random.default_rng(seed)
    gaps, exp_gaps, feasible, mismatched, merged = [], [], 0, 0, 0
    for _ in range(n_random):
        inst = random_instance(rng)
        jq_m = make_method("jqodi")
        jq = jq_m.plan(inst)
        ex, opt = make_method("exact").plan(inst), make_method("optimum").plan(inst)
        if jq.feasible != ex.feasible:
            mismatched += 1
        if not (jq.feasible and ex.feasible):
            continue
        feasible += 1
        merged += int(getattr(jq_m, "last_merged", False))
        gaps.append(_gap(jq.energy_j or 0.0, ex.energy_j or 0.0))
        if opt.feasible:
            eg = _expected_gap(inst, jq, opt)
            if eg is not None:
                exp_gaps.append(eg)
    print(
        f"\nRandom instances (seed {seed}): {n_random} drawn, {feasible} feasible for both, "
        f"{mismatched} where jqodi and exact disagree on feasibility, {merged} where jqodi's caps applied"
    )
    print("| gap | n | min | median | p95 | max |")
    print("|---|---|---|---|---|---|")
    for label, g in (("jqodi vs exact, plan energy", gaps), ("jqodi vs optimum, expected case", exp_gaps)):
        if g:
            a = np.asarray(g)
            print(
                f"| {label} | {a.size} | {a.min():+.3f}% | {np.median(a):+.3f}% | "
                f"{np.percentile(a, 95):+.3f}% | {a.max():+.3f}% |"
            )


def cap_sensitivity(n_random: int, seed: int) -> None:
    """What the caps cost: Algorithm 4's score with the default caps vs 16x the labels and no action cut."""
    rng = np.random.default_rng(seed + 1)
    cases = [(name, build_scenario(name)) for name in ("jqodi-data1", "jqodi-data2")]
    cases += [(f"random {i}", random_instance(rng)) for i in range(n_random)]
    losses = []
    rows = []
    for label, inst in cases:
        start = time.perf_counter()
        _, base = plan_jqodi_dp(inst)
        t_base = time.perf_counter() - start
        start = time.perf_counter()
        _, big = plan_jqodi_dp(inst, max_labels=8192, max_phase_actions=10**6)
        t_big = time.perf_counter() - start
        if not (np.isfinite(base.score) and np.isfinite(big.score)):
            continue
        loss = _gap(base.score, big.score)
        losses.append(loss)
        if not label.startswith("random"):
            rows.append(
                [label, f"{base.score:.2f}", f"{big.score:.2f}", f"{loss:+.3f}%", f"{t_base:.2f} / {t_big:.2f}"]
            )
    table(
        "Cap sensitivity (score = Algorithm 4's w·risk/opp; default caps vs 8192 labels, all actions)",
        ["instance", "score, default caps", "score, 8192 labels", "score loss", "solve s (default / large)"],
        rows,
    )
    a = np.asarray(losses)
    print(
        f"score loss over {a.size} instances (2 scenarios + {n_random} random): min {a.min():+.3f}%, "
        f"median {np.median(a):+.3f}%, p95 {np.percentile(a, 95):+.3f}%, max {a.max():+.3f}%"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--random", type=int, default=120, help="random instances for the gap (default 120)")
    ap.add_argument("--seed", type=int, default=2026, help="seed of the random instances")
    ap.add_argument("--quick", action="store_true", help="skip the scaling tables")
    args = ap.parse_args()
    if not 1 <= args.random <= 10_000:
        ap.error("--random must be in 1..10000")
    aims()
    if not args.quick:
        scaling()
    quality(args.random, args.seed)
    cap_sensitivity(max(1, args.random // 6), args.seed)


if __name__ == "__main__":
    main()
