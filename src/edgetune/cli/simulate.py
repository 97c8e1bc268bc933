"""``edgetune simulate``: one simulated run of Algorithm 1 on a fleet file."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from edgetune.cli.common import add_network_args, add_policy_args, add_run_args


def add_workload_args(p: argparse.ArgumentParser) -> None:
    """The modelled workload (Sec. IV-A defaults)."""
    g = p.add_argument_group("modelled workload (paper Sec. IV-A)")
    g.add_argument("--model-mb", type=float, default=500.0, help="model size, MB (default 500)")
    g.add_argument(
        "--dataset-mb", type=float, default=1000.0, help="data set size split over the nodes, MB (default 1000)"
    )
    g.add_argument(
        "--compute-s-per-mb",
        type=float,
        default=1.0,
        help="seconds one MB of data takes on a node of compute power 1 (default 1.0)",
    )


def workload_from_args(args: argparse.Namespace) -> Any:
    """SimWorkload from parsed arguments."""
    from edgetune.cli.common import positive
    from edgetune.engines.simulated import MB, SimWorkload

    positive("--model-mb", args.model_mb, allow_zero=True)
    positive("--dataset-mb", args.dataset_mb, allow_zero=True)
    positive("--compute-s-per-mb", args.compute_s_per_mb, allow_zero=True)
    return SimWorkload(
        model_bytes=args.model_mb * MB, dataset_bytes=args.dataset_mb * MB, compute_s_per_mb=args.compute_s_per_mb
    )


def add_simulation_args(p: argparse.ArgumentParser) -> None:
    """Everything a simulated run is configured by: epochs/lr/seed, scoring, workload, network."""
    add_run_args(p)
    add_policy_args(p)
    add_workload_args(p)
    add_network_args(p)


@dataclass(frozen=True)
class SimulationSettings:
    """Validated settings of :func:`add_simulation_args` (shared by ``simulate`` and ``compare``)."""

    policy: Any  # PolicyConfig
    orchestrator: Any  # OrchestratorConfig
    workload: Any  # SimWorkload
    network: Any  # NetworkConfig
    monitor: Any  # MonitorConfig


def simulation_settings(args: argparse.Namespace) -> SimulationSettings:
    """Validate the shared options (bad input -> InputError naming the flag) before any work."""
    from edgetune.cli.common import check_run_args, network_configs, policy_config
    from edgetune.orchestrator.loop import OrchestratorConfig

    pcfg = policy_config(args)
    check_run_args(args)
    workload = workload_from_args(args)
    net_cfg, mon_cfg = network_configs(args)
    return SimulationSettings(
        pcfg, OrchestratorConfig(epochs=args.epochs, learning_rate=args.lr), workload, net_cfg, mon_cfg
    )


def register(sub: Any) -> None:
    """Add ``simulate``."""
    p = sub.add_parser(
        "simulate",
        help="simulate node elimination (ne) or all resources (ar) on a fleet",
        description="Run Algorithm 1 on the simulation engine (modelled traffic, virtual clock) "
        "and write the run record.",
    )
    p.add_argument("--fleet", required=True, help="fleet YAML (edgetune fleet generate)")
    p.add_argument("--policy", default="ne", help="ne (node elimination) | ar (all resources)")
    p.add_argument("--out", required=True, help="run record JSON path")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_simulation_args(p)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgetune.cli.common import tick
    from edgetune.engines.simulated import simulate
    from edgetune.fleet.schema import load_fleet
    from edgetune.selection import make_policy

    # Validate everything before any work, so bad input never leaves an output file behind.
    cfg = simulation_settings(args)
    policy = make_policy(args.policy, cfg.policy)
    fleet = load_fleet(args.fleet)
    bar = tqdm(total=args.epochs, desc=f"simulate {args.policy}", unit="epoch", disable=args.quiet, leave=False)
    record = simulate(
        fleet,
        policy,
        args.seed,
        cfg.orchestrator,
        cfg.workload,
        cfg.network,
        cfg.monitor,
        progress=lambda _ep: tick(bar),
    )
    bar.close()
    record.save(args.out)
    if not args.quiet:
        print(
            f"{args.policy}: {len(fleet.nodes)} nodes, completion {record.completion_time_s:,.1f} virtual s, "
            f"energy {record.energy['total_j']:,.0f} J, active per epoch {[len(e.active) for e in record.epochs]}"
        )
        print(f"wrote {args.out}")
    return 0
