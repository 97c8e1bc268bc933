"""``edgetune compare``: selection policies on the same fleets over fleet sizes x setups x seeds.

With the default ``--policies ne,ar`` on the simulated engine this is the paper's Fig. 2. With more
policies and ``--engine inprocess`` (real fine-tuning of the tiny model on a virtual clock) it also
measures final loss, time to a target loss and the data fraction of every run (issue 12).

Defaults ``compare`` gives the in-process engine (each one a spec key; a flag overrides it):
``task.model = "tiny"``, ``task.train_tokens = 6144``, ``task.val_tokens = 1024``,
``inprocess.host_seconds_per_token = 5e-5`` (a deterministic clock: same seed, same record) and
``inprocess.threads = 1``; node counts 12,24 instead of 12..40.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgetune.cli.flags import INPROCESS, NETWORK, POLICY, RUN, TASK, WORKLOAD, Flag, add_flags

#: Every spec flag ``compare`` takes (``--policy`` is replaced by ``--policies``).
COMPARE_FLAGS: tuple[Flag, ...] = (*RUN, *POLICY, *WORKLOAD, *NETWORK, *TASK, *INPROCESS)
#: What ``compare`` sets for ``--engine inprocess`` unless a flag says otherwise (see the module docstring).
INPROCESS_DEFAULTS: dict[str, dict[str, Any]] = {
    "task": {"model": "tiny", "train_tokens": 6144, "val_tokens": 1024},
    "inprocess": {"host_seconds_per_token": 5e-5, "threads": 1},
}
NODES_DEFAULT = {"simulated": "12,16,20,24,28,32,36,40", "inprocess": "12,24"}
MAX_RUNS = {"simulated": 10_000, "inprocess": 2_000}


def register(sub: Any) -> None:
    """Add ``compare``."""
    p = sub.add_parser(
        "compare",
        help="sweep fleet sizes x setups x seeds with several policies; tables, Fig. 2, time-to-target",
        description="Run every policy on the same fleets (paired: same fleet, seed, data split), over node counts x "
        "Table I setups x seeds, on the simulated or in-process engine. Writes runs.csv / runs.json (per run: "
        "completion time, final loss, time_to_target_s, data_fraction, time to the per-cell targets AR x 1.01 and "
        "'common'), policies.md/.json (per policy), with NE and AR summary.csv/.md and fig2.png, with adaptive "
        "aims.json, and with losses ttt.png (loss against time per policy and setup).",
    )
    p.add_argument("--policies", default="ne,ar", help="comma-separated selection policies (default ne,ar)")
    p.add_argument(
        "--engine",
        choices=("simulated", "inprocess"),
        default="simulated",
        help="simulated (modelled workload, no loss) or inprocess (real fine-tuning; default simulated)",
    )
    p.add_argument("--nodes", default=None, help="node counts (default 12..40 step 4; inprocess 12,24)")
    p.add_argument("--setups", default="normal,limited,prolific", help="Table I setups (default all three)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per cell: 0..S-1 offset by --seed (default 5)")
    p.add_argument("--out", default="runs/compare", help="output folder (default runs/compare)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_flags(p, RUN, "run (Algorithm 1)")
    add_flags(p, POLICY, "node scoring (Eq. 2-3)")
    add_flags(p, WORKLOAD, "modelled workload (--engine simulated; paper Sec. IV-A)")
    add_flags(p, NETWORK, "network and SDN monitor")
    add_flags(
        p, TASK, "training task (--engine inprocess)", **{f"task.{k}": v for k, v in INPROCESS_DEFAULTS["task"].items()}
    )
    add_flags(
        p, INPROCESS, "in-process engine", **{f"inprocess.{k}": v for k, v in INPROCESS_DEFAULTS["inprocess"].items()}
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgetune.cli.common import parse_floats
    from edgetune.cli.flags import build_spec
    from edgetune.errors import InputError
    from edgetune.fleet.generate import SETUPS
    from edgetune.io import OutputSet, atomic_write_text, check_output
    from edgetune.reporting.compare import (
        json_safe,
        policy_markdown,
        policy_table,
        summarize,
        summary_markdown,
        write_report,
    )
    from edgetune.selection import POLICIES

    nodes_text = args.nodes if args.nodes is not None else NODES_DEFAULT[args.engine]
    counts = parse_floats(nodes_text, "--nodes")
    if any(c < 1 or c != int(c) or c > 100_000 for c in counts):
        raise InputError("--nodes", nodes_text, "node counts must be whole numbers >= 1")
    setups = list(dict.fromkeys(s.strip() for s in args.setups.split(",") if s.strip()))
    if not setups:
        raise InputError("--setups", args.setups, f"name at least one setup ({', '.join(SETUPS)})")
    for s in setups:
        if s not in SETUPS:
            raise InputError("--setups", s, f"unknown setup; choose from {', '.join(SETUPS)}")
    policies = list(dict.fromkeys(s.strip() for s in args.policies.split(",") if s.strip()))
    if not policies:
        raise InputError("--policies", args.policies, "name at least one policy")
    for pol in policies:
        if pol not in POLICIES:
            raise InputError("--policies", pol, f"unknown policy; choose from {', '.join(sorted(POLICIES))}")
    if not 1 <= args.seeds <= MAX_RUNS[args.engine]:  # before the list of seeds is built
        raise InputError("--seeds", args.seeds, f"must be in [1, {MAX_RUNS[args.engine]}] (MAX_RUNS[{args.engine!r}])")
    doc: dict[str, Any] = {"run": {"engine": args.engine}}
    if args.engine == "inprocess":
        doc.update({k: dict(v) for k, v in INPROCESS_DEFAULTS.items()})
    base = build_spec(args, COMPARE_FLAGS, doc)
    out = check_output(args.out, "--out", folder=True)
    seeds = [base.run.seed + k for k in range(args.seeds)]
    total = len(counts) * len(setups) * len(seeds) * len(policies)
    if total > MAX_RUNS[args.engine]:
        raise InputError("--seeds", args.seeds, f"the sweep would exceed {MAX_RUNS[args.engine]} runs ({total})")

    from edgetune.runs.sweep import run_sweep

    # Every file of the folder appears together or not at all; runs.jsonl streams into a temporary beside it.
    with OutputSet() as outs:
        stream = outs.stream(out / "runs.jsonl")
        with tqdm(total=total, desc="compare", unit="run", disable=args.quiet) as bar:

            def on_row(row: Any) -> None:
                from dataclasses import asdict

                stream.write(json.dumps(json_safe(asdict(row))) + "\n")
                stream.flush()
                bar.update(1)

            rows = run_sweep(base, [int(c) for c in counts], setups, seeds, policies, on_row=on_row)
        with outs.capture():
            atomic_write_text(out / "base_spec.toml", base.to_toml())
            paths = write_report(rows, out)
    summary = summarize(rows)
    if summary:
        print(summary_markdown(summary))
    print(policy_markdown(policy_table(rows)))
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    return 0
