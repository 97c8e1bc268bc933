"""``edgetune controller serve``: the simulated SDN controller's northbound API over HTTP."""

from __future__ import annotations

import argparse
import math
import os
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
    s.add_argument(
        "--token",
        default=None,
        help="bearer token every request must carry (default $EDGETUNE_NORTHBOUND_TOKEN; "
        "required when --host is not loopback; prefer the variable: flags show in `ps`)",
    )
    s.add_argument("--allow-no-token", action="store_true", help="serve off loopback without a token (anyone may read)")
    s.add_argument(
        "--read-timeout-s", type=float, default=10.0, help="close a connection silent this long (default 10)"
    )
    s.add_argument(
        "--max-connections", type=int, default=64, help="connections served at once; more get 503 (default 64)"
    )
    add_flags(s, NETWORK, "network and SDN monitor")
    s.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import numpy as np

    from edgetune.cli.common import positive
    from edgetune.errors import InputError
    from edgetune.fleet.schema import load_fleet
    from edgetune.network.monitor import SimulatedMonitor
    from edgetune.network.northbound import TOKEN_ENV, NorthboundServer, is_loopback
    from edgetune.network.simulated import SimulatedNetwork

    positive("--speed", args.speed)
    positive("--duration-s", args.duration_s, allow_zero=True)
    check_limit("--seed", args.seed, "seed")
    if not 0 <= args.port <= 65535:
        raise InputError("--port", args.port, "must be in 0..65535")
    if not (math.isfinite(args.read_timeout_s) and 0 < args.read_timeout_s <= 3600):
        raise InputError("--read-timeout-s", args.read_timeout_s, "must be in (0, 3600]")
    if not 1 <= args.max_connections <= 10_000:
        raise InputError("--max-connections", args.max_connections, "must be in 1..10000")
    if args.token is not None and not (
        0 < len(args.token) <= 4096 and args.token.isascii() and args.token.isprintable()
    ):
        raise InputError("--token", "***", "must be 1 to 4096 printable ASCII characters")
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV, "")
    if not is_loopback(args.host) and not token and not args.allow_no_token:
        raise InputError("--host", args.host, f"not loopback: set --token (or ${TOKEN_ENV}), or --allow-no-token")
    spec = build_spec(args, NETWORK)
    net_cfg, mon_cfg = spec.network, spec.monitor
    fleet = load_fleet(args.fleet)
    net_rng, mon_rng = np.random.default_rng(args.seed).spawn(2)
    monitor = SimulatedMonitor(SimulatedNetwork(fleet, net_rng, net_cfg), mon_rng, mon_cfg)
    t0 = time.monotonic()
    monitor.clock = lambda: (time.monotonic() - t0) * args.speed
    monitor.advance_to(0.0)
    try:
        server = NorthboundServer(
            monitor,
            args.host,
            args.port,
            token=token,
            read_timeout_s=args.read_timeout_s,
            max_connections=args.max_connections,
            allow_no_token=args.allow_no_token,
        ).start()
    except OSError as exc:
        raise InputError("--port", args.port, f"cannot bind {args.host}:{args.port}: {exc.strerror}") from None
    auth = " (bearer token required)" if token else ""
    print(f"northbound API for {len(fleet.nodes)} nodes at {server.url}/v1/metrics{auth}", flush=True)
    try:
        while args.duration_s <= 0 or time.monotonic() - t0 < args.duration_s:
            monitor.advance_to(monitor.clock())  # keep polling even when nobody reads
            time.sleep(min(mon_cfg.poll_interval_s / args.speed, 0.5))
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
