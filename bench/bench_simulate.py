"""Time ``edgetune simulate`` for 100, 1,000 and 10,000 nodes x 10 epochs (issue #2's aim: 10,000 nodes
in under 2 s on a 2-core machine, per-epoch cost growing no faster than N log N, the paper's Eq. 4).

Run: ``python bench/bench_simulate.py [--sizes 100,1000,10000] [--repeat 3]``. It prints, per size and
policy, the best wall time of the run (fleet generation excluded, then included), the time per epoch
and that time divided by N log2 N, whose ratio between sizes shows the growth.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from edgetune.fleet.generate import generate_fleet
from edgetune.runs.sweep import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'nodes':>7} {'policy':>6} {'gen s':>7} {'run s':>7} {'per epoch ms':>13} {'us/(N log2 N)':>14}")
    results: dict[tuple[int, str], float] = {}
    for n in sizes:
        for pol in ("ne", "ar"):
            best_run, best_gen = math.inf, math.inf
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fleet = generate_fleet(n, "normal", np.random.default_rng(1))
                t1 = time.perf_counter()
                from edgetune.orchestrator.loop import OrchestratorConfig

                simulate(fleet, pol, 1, OrchestratorConfig(epochs=args.epochs))
                t2 = time.perf_counter()
                best_gen, best_run = min(best_gen, t1 - t0), min(best_run, t2 - t1)
            per_epoch = best_run / args.epochs
            results[(n, pol)] = best_run
            print(
                f"{n:>7} {pol:>6} {best_gen:7.3f} {best_run:7.3f} {per_epoch * 1e3:13.2f} "
                f"{per_epoch / (n * math.log2(n)) * 1e6:14.3f}"
            )
    big = max(sizes)
    for pol in ("ne", "ar"):
        t = results[(big, pol)]
        verdict = "meets" if t < 2.0 else "misses"
        print(f"aim: {big} nodes x {args.epochs} epochs < 2 s ({pol}): {t:.2f} s -> {verdict} the aim")


if __name__ == "__main__":
    main()
