"""Completion time of every selection policy on the default ``compare`` sweep (simulation; issue 12).

    PYTHONPATH=src python scripts/policy_sim_sweep.py [--policies ne,ar,adaptive,deadline,oort,random]

Prints, per policy, AR/policy and NE/policy (geometric mean and median over paired cells) and how
often it gains nothing against AR.
"""

from __future__ import annotations

import argparse
import collections
import math
import statistics

from edgetune.reporting.compare import run_sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default="12,16,20,24,28,32,36,40")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--policies", default="ne,ar,adaptive,deadline,oort,random")
    args = ap.parse_args()
    pols = args.policies.split(",")
    nodes = [int(x) for x in args.nodes.split(",")]
    rows = run_sweep(nodes, ["normal", "limited", "prolific"], range(args.seeds), policies=pols)
    by: dict[tuple[str, int, int], dict[str, float]] = collections.defaultdict(dict)
    for r in rows:
        by[(r.setup, r.nodes, r.seed)][r.policy] = r.completion_time_s
    cells = list(by.values())
    print(f"{len(cells)} paired cells")
    for p in pols:
        if p == "ar":
            continue
        vs_ar = [c["ar"] / c[p] for c in cells]
        vs_ne = [c["ne"] / c[p] for c in cells]
        nothing = sum(c[p] >= c["ar"] * 0.999 for c in cells) / len(cells)
        slower_ne = sum(c[p] > c["ne"] * 1.001 for c in cells) / len(cells)
        geo = math.exp(statistics.fmean(math.log(x) for x in vs_ar))
        geo_ne = math.exp(statistics.fmean(math.log(x) for x in vs_ne))
        print(
            f"{p:9s} AR/{p} geo {geo:.2f} median {statistics.median(vs_ar):.2f}  NE/{p} geo {geo_ne:.2f} "
            f"median {statistics.median(vs_ne):.2f}  gains nothing vs AR {100 * nothing:.1f} %  "
            f"slower than NE {100 * slower_ne:.1f} %"
        )


if __name__ == "__main__":
    main()
