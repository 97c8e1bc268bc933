"""``edgetune simulate``: one simulated run of Algorithm 1 on a fleet file (writes one file: the record)."""

from __future__ import annotations

import argparse
from typing import Any

from edgetune.cli.flags import NETWORK, POLICY, RUN, SELECT, WORKLOAD, Flag, add_flags

#: The flags of a simulated run (shared with ``compare``).
SIMULATION_FLAGS: tuple[Flag, ...] = (*SELECT, *RUN, *POLICY, *WORKLOAD, *NETWORK)


def add_simulation_args(p: argparse.ArgumentParser) -> None:
    """Everything a simulated run is configured by: epochs/lr/seed, scoring, workload, network."""
    add_flags(p, RUN, "run (Algorithm 1)")
    add_flags(p, POLICY, "node scoring (Eq. 2-3)")
    add_flags(p, WORKLOAD, "modelled workload (paper Sec. IV-A)")
    add_flags(p, NETWORK, "network and SDN monitor")


def register(sub: Any) -> None:
    """Add ``simulate``."""
    p = sub.add_parser(
        "simulate",
        help="one simulated run (ne, ar, ...) on a fleet file; writes the run record",
        description="Run Algorithm 1 on the simulation engine (modelled traffic, virtual clock) and write the "
        "run record (one JSON file). For a run folder with streamed epochs and resume, use `edgetune run`.",
    )
    p.add_argument("--fleet", required=True, help="fleet file: .yaml, .json or columnar .npz (edgetune fleet generate)")
    add_flags(p, SELECT, "selection policy")
    p.add_argument("--out", default="run.json", help="output file: the run record JSON (default run.json)")
    p.add_argument(
        "--record-format",
        choices=("auto", "json", "compact"),
        default="auto",
        help="json: one JSON document; compact: a JSON header + OUT-stem.arrays.npz with the per-node parts; "
        "auto (default): compact from 10,000 nodes",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_simulation_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgetune.cli.flags import build_spec
    from edgetune.fleet.schema import load_fleet
    from edgetune.io import check_output
    from edgetune.orchestrator.record import arrays_path, writes_compact
    from edgetune.runs.execute import run

    # Validate everything before any work, so bad input never leaves an output file behind.
    spec = build_spec(args, SIMULATION_FLAGS, {"run": {"engine": "simulated"}})
    fleet = load_fleet(args.fleet)
    check_output(args.out, "--out")
    spec = spec.replace(fleet=type(spec.fleet)(file=args.fleet, nodes=fleet.n_nodes))
    bar = tqdm(total=spec.run.epochs, desc=f"simulate {spec.run.policy}", unit="epoch", disable=args.quiet, leave=False)

    def tick(_ep: object) -> None:
        bar.update(1)

    record = run(spec, fleet=fleet, progress=tick)
    bar.close()
    written = record.save(args.out, args.record_format)
    if not args.quiet:
        print(
            f"{spec.run.policy}: {fleet.n_nodes} nodes, completion {record.completion_time_s:,.1f} virtual s, "
            f"energy {record.energy['total_j']:,.0f} J, active per epoch {[len(e.active) for e in record.epochs]}"
        )
        compact = writes_compact(args.record_format, fleet.n_nodes)
        print(f"wrote {written}" + (f" (+ {arrays_path(written).name})" if compact else ""))
    return 0
