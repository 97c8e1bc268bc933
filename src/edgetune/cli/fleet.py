"""``edgetune fleet``: generate and inspect fleet files."""

from __future__ import annotations

import argparse
from typing import Any

from edgetune.cli.flags import FLEET_FILE, add_flags


def register(sub: Any) -> None:
    """Add ``fleet generate`` and ``fleet show``."""
    p = sub.add_parser(
        "fleet",
        help="generate or inspect fleet files",
        description="Fleet files (YAML, JSON or columnar .npz, by suffix).",
    )
    fsub = p.add_subparsers(dest="fleet_command", metavar="ACTION")
    fsub.required = True
    g = fsub.add_parser(
        "generate",
        help="draw a fleet following Sec. IV-A / Table I of the node-elimination paper",
        description="Draw compute power ~ N(30, 15) (kept positive) and exponential end-to-end bandwidth, "
        "delay and loss with the means of Table I for the chosen setup.",
    )
    g.add_argument(
        "--out",
        default="fleet.yaml",
        help="output file, format by suffix: .yaml (default fleet.yaml), .json or .npz (columnar: fastest for "
        "large fleets)",
    )
    add_flags(g, FLEET_FILE, "fleet (the [fleet] section of a run spec; the same values draw the same fleet)")
    g.set_defaults(func=_generate)
    s = fsub.add_parser("show", help="validate a fleet file and print a summary")
    s.add_argument("fleet", help="fleet file (.yaml, .json or .npz)")
    s.set_defaults(func=_show)


def _generate(args: argparse.Namespace) -> int:
    from edgetune.cli.flags import build_spec
    from edgetune.fleet.schema import save_fleet
    from edgetune.io import check_output
    from edgetune.runs.execute import resolve_fleet

    spec = build_spec(args, FLEET_FILE)
    check_output(args.out, "--out")
    fleet = resolve_fleet(spec)
    save_fleet(fleet, args.out)
    print(f"wrote {args.out}: {fleet.n_nodes} nodes, {fleet.n_gateways} gateways, setup {fleet.setup}")
    return 0


def _show(args: argparse.Namespace) -> int:
    import numpy as np

    from edgetune.fleet.schema import load_fleet
    from edgetune.network.model import Topology

    fleet = load_fleet(args.fleet)
    top = Topology.from_fleet(fleet)
    compute = fleet.arrays().compute

    def stats(name: str, v: np.ndarray) -> str:
        return f"{name:<22} mean {v.mean():9.3f}  min {v.min():9.3f}  max {v.max():9.3f}"

    print(f"{args.fleet}: setup {fleet.setup}, {fleet.n_nodes} nodes, {fleet.n_gateways} gateways")
    print(stats("compute", compute))
    print(stats("e2e bandwidth (Mbps)", top.path_bandwidth_mbps()))
    print(stats("e2e delay (ms)", top.path_delay_ms()))
    print(stats("e2e loss (%)", top.path_loss_pct()))
    return 0
