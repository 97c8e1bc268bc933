"""``edgetune controller serve``: the simulated SDN controller's northbound API over HTTP."""

from __future__ import annotations

import argparse
import time
from typing import Any

from edgetune.cli.flags import NETWORK, add_flags, build_spec, check_limit


def register(sub: Any) -> None:
    """Add ``controller serve``."""
    p = sub.add_parser("controller", help="run the (simulated) SDN controller's northbound API")
    csub = p.add_subparsers(dest="controller_command", metavar="ACTION")
    csub.required = True
    s = csub.add_parser(
        "serve",
        help="measure a fleet's simulated network in real time and serve /v1/metrics over HTTP",
        description="Poll the fleet's simulated network every --poll-interval-s seconds of wall-clock time "
        "(times --speed), smooth with EWMA, and serve the northbound JSON API on --host:--port.",
    )
    s.add_argument("--fleet", required=True, help="fleet YAML")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8181, help="port (default 8181; 0 picks a free one)")
    s.add_argument("--seed", type=int, default=0, help="seed of the network variation and measurement noise")
    s.add_argument("--speed", type=float, default=1.0, help="virtual seconds per wall-clock second (default 1)")
    s.add_argument("--duration-s", type=float, default=0.0, help="stop after this many seconds (0: run until Ctrl-C)")
    add_flags(s, NETWORK, "network and SDN monitor")
    s.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import numpy as np

    from edgetune.cli.common import positive
    from edgetune.errors import InputError
    from edgetune.fleet.schema import load_fleet
    from edgetune.network.monitor import SimulatedMonitor
    from edgetune.network.northbound import NorthboundServer
    from edgetune.network.simulated import SimulatedNetwork

    positive("--speed", args.speed)
    positive("--duration-s", args.duration_s, allow_zero=True)
    check_limit("--seed", args.seed, "seed")
    if not 0 <= args.port <= 65535:
        raise InputError("--port", args.port, "must be in 0..65535")
    spec = build_spec(args, NETWORK)
    net_cfg, mon_cfg = spec.network, spec.monitor
    fleet = load_fleet(args.fleet)
    net_rng, mon_rng = np.random.default_rng(args.seed).spawn(2)
    monitor = SimulatedMonitor(SimulatedNetwork(fleet, net_rng, net_cfg), mon_rng, mon_cfg)
    t0 = time.monotonic()
    monitor.clock = lambda: (time.monotonic() - t0) * args.speed
    monitor.advance_to(0.0)
    try:
        server = NorthboundServer(monitor, args.host, args.port).start()
    except OSError as exc:
        raise InputError("--port", args.port, f"cannot bind {args.host}:{args.port}: {exc.strerror}") from None
    print(f"northbound API for {len(fleet.nodes)} nodes at {server.url}/v1/metrics", flush=True)
    try:
        while args.duration_s <= 0 or time.monotonic() - t0 < args.duration_s:
            monitor.advance_to(monitor.clock())  # keep polling even when nobody reads
            time.sleep(min(mon_cfg.poll_interval_s / args.speed, 0.5))
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
