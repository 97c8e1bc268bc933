"""``edgetune compare``: NE vs AR over 12-40 nodes x the three setups x seeds (the paper's Fig. 2)."""

from __future__ import annotations

import argparse
from typing import Any

from edgetune.cli.simulate import add_simulation_args


def register(sub: Any) -> None:
    """Add ``compare``."""
    p = sub.add_parser(
        "compare",
        help="sweep fleet sizes x setups x seeds with NE and AR; table + Fig. 2",
        description="Simulate NE and AR on the same fleets (12-40 nodes, normal/limited/prolific, several seeds), "
        "write runs.csv, summary.csv, summary.md and fig2.png.",
    )
    p.add_argument("--nodes", default="12,16,20,24,28,32,36,40", help="node counts (default 12..40 step 4)")
    p.add_argument("--setups", default="normal,limited,prolific", help="Table I setups (default all three)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per cell: 0..S-1 offset by --seed (default 5)")
    p.add_argument("--out", default="runs/compare", help="output folder: runs.csv, summary.csv/md, fig2.png "
                   "(default runs/compare)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_simulation_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgetune.cli.common import parse_floats
    from edgetune.errors import InputError
    from edgetune.fleet.generate import SETUPS
    from edgetune.reporting.compare import summarize, summary_markdown, write_report

    counts = parse_floats(args.nodes, "--nodes")
    if any(c < 1 or c != int(c) or c > 100_000 for c in counts):
        raise InputError("--nodes", args.nodes, "node counts must be whole numbers >= 1")
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    for s in setups:
        if s not in SETUPS:
            raise InputError("--setups", s, f"unknown setup; choose from {', '.join(SETUPS)}")
    if args.seeds < 1:
        raise InputError("--seeds", args.seeds, "must be at least 1")
    from edgetune.cli.flags import build_spec
    from edgetune.cli.simulate import SIMULATION_FLAGS
    from edgetune.runs.sweep import run_sweep

    base = build_spec(args, SIMULATION_FLAGS, {"run": {"engine": "simulated"}})
    seeds = [base.run.seed + k for k in range(args.seeds)]
    if len(counts) * len(setups) * len(seeds) > 10_000:
        raise InputError("--seeds", args.seeds, "the sweep would exceed 10000 cells")
    total = len(counts) * len(setups) * len(seeds) * 2
    with tqdm(total=total, desc="compare", unit="run", disable=args.quiet) as bar:
        def tick() -> None:
            bar.update(1)

        rows = run_sweep(base, [int(c) for c in counts], setups, seeds, tick=tick)
    paths = write_report(rows, args.out)
    print(summary_markdown(summarize(rows)))
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    return 0
