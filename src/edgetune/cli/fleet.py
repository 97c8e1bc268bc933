"""``edgetune fleet``: generate and inspect fleet files."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    """Add ``fleet generate`` and ``fleet show``."""
    p = sub.add_parser("fleet", help="generate or inspect fleet files", description="Fleet files (YAML).")
    fsub = p.add_subparsers(dest="fleet_command", metavar="ACTION")
    fsub.required = True
    g = fsub.add_parser(
        "generate",
        help="draw a fleet following Sec. IV-A / Table I of the node-elimination paper",
        description="Draw compute power ~ N(30, 15) (kept positive) and exponential end-to-end bandwidth, "
        "delay and loss with the means of Table I for the chosen setup.",
    )
    g.add_argument("--nodes", type=int, required=True, help="number of edge nodes")
    g.add_argument("--setup", default="normal", help="normal | limited | prolific (Table I)")
    g.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    g.add_argument("--nodes-per-gateway", type=int, default=4, help="edge nodes per gateway switch (default 4)")
    g.add_argument("--out", required=True, help="output YAML path")
    g.set_defaults(func=_generate)
    s = fsub.add_parser("show", help="validate a fleet file and print a summary")
    s.add_argument("fleet", help="fleet YAML")
    s.set_defaults(func=_show)


def _generate(args: argparse.Namespace) -> int:
    import numpy as np

    from edgetune.errors import InputError
    from edgetune.fleet.generate import GeneratorConfig, generate_fleet
    from edgetune.fleet.schema import save_fleet

    if args.nodes_per_gateway < 1:
        raise InputError("--nodes-per-gateway", args.nodes_per_gateway, "must be at least 1")
    fleet = generate_fleet(
        args.nodes,
        args.setup,
        np.random.default_rng(args.seed),
        GeneratorConfig(nodes_per_gateway=args.nodes_per_gateway),
        seed=args.seed,
    )
    save_fleet(fleet, args.out)
    print(f"wrote {args.out}: {len(fleet.nodes)} nodes, {len(fleet.gateways)} gateways, setup {args.setup}")
    return 0


def _show(args: argparse.Namespace) -> int:
    import numpy as np

    from edgetune.fleet.schema import load_fleet
    from edgetune.network.model import Topology

    fleet = load_fleet(args.fleet)
    top = Topology.from_fleet(fleet)
    compute = np.array([n.compute for n in fleet.nodes])

    def stats(name: str, v: np.ndarray) -> str:
        return f"{name:<22} mean {v.mean():9.3f}  min {v.min():9.3f}  max {v.max():9.3f}"

    print(f"{args.fleet}: setup {fleet.setup}, {len(fleet.nodes)} nodes, {len(fleet.gateways)} gateways")
    print(stats("compute", compute))
    print(stats("e2e bandwidth (Mbps)", top.path_bandwidth_mbps()))
    print(stats("e2e delay (ms)", top.path_delay_ms()))
    print(stats("e2e loss (%)", top.path_loss_pct()))
    return 0
