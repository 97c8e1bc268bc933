"""Argument groups shared by several commands (policy weights, network knobs, seeds)."""

from __future__ import annotations

import argparse
import math
from typing import Any

from edgetune.errors import InputError
from edgetune.network.dynamics import VariationConfig
from edgetune.network.monitor import MonitorConfig
from edgetune.network.simulated import NetworkConfig
from edgetune.selection.base import PolicyConfig


def parse_floats(text: str, field: str, n: int | None = None) -> tuple[float, ...]:
    """Parse ``"a,b,c"`` into floats, naming ``field`` in the error."""
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InputError(field, text, "expected comma-separated numbers") from None
    if n is not None and len(values) != n:
        raise InputError(field, text, f"expected {n} numbers, got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise InputError(field, text, "numbers must be finite")
    return values


def positive(field: str, value: float, allow_zero: bool = False) -> float:
    """Check a number is > 0 (or >= 0)."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputError(field, value, "must be " + ("non-negative" if allow_zero else "positive"))
    return value


def add_policy_args(p: argparse.ArgumentParser) -> None:
    """--weights, --utopia, --rejoin (Eq. 2-3 and the rejoin option)."""
    g = p.add_argument_group("node scoring (Eq. 2-3)")
    g.add_argument(
        "--weights",
        default="0.2,0.2,0.2,0.2,0.2",
        help="w for compute,bandwidth,delay,loss,train-time; non-negative, sum 1 (default equal)",
    )
    g.add_argument("--utopia", default="1,1,1,1,1", help="utopia point lambda in [0,1]^5 (default all ones)")
    g.add_argument("--rejoin", action="store_true", help="let eliminated nodes rejoin (beyond the paper)")


def policy_config(args: argparse.Namespace) -> PolicyConfig:
    """PolicyConfig from parsed arguments; errors name the flag."""
    weights = parse_floats(args.weights, "--weights", 5)
    utopia = parse_floats(args.utopia, "--utopia", 5)
    try:
        return PolicyConfig(weights=weights, utopia=utopia, rejoin=bool(args.rejoin))
    except InputError as exc:
        raise InputError(
            "--" + exc.field, args.weights if exc.field == "weights" else args.utopia, exc.reason
        ) from None


def add_run_args(p: argparse.ArgumentParser) -> None:
    """--epochs, --lr, --seed."""
    p.add_argument("--epochs", type=int, default=10, help="T, number of epochs (default 10, as the paper)")
    p.add_argument("--lr", type=float, default=5e-5, help="learning rate (default 5e-5, as the paper)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice in the run (default 0)")


def check_run_args(args: argparse.Namespace) -> None:
    """Validate --epochs and --lr."""
    if args.epochs < 1:
        raise InputError("--epochs", args.epochs, "must be at least 1")
    positive("--lr", args.lr)


def add_network_args(p: argparse.ArgumentParser) -> None:
    """SDN monitor and network-dynamics knobs."""
    g = p.add_argument_group("network and SDN monitor")
    g.add_argument("--poll-interval-s", type=float, default=5.0, help="monitor polling period (default 5 s)")
    g.add_argument("--ewma-alpha", type=float, default=0.3, help="EWMA smoothing weight of a new sample (default 0.3)")
    g.add_argument(
        "--variation",
        type=float,
        default=0.15,
        help="std of the log background bandwidth variation (0 turns variation off; default 0.15)",
    )


def network_configs(args: argparse.Namespace) -> tuple[NetworkConfig, MonitorConfig]:
    """Network and monitor configs from parsed arguments."""
    positive("--poll-interval-s", args.poll_interval_s)
    if not 0 < args.ewma_alpha <= 1:
        raise InputError("--ewma-alpha", args.ewma_alpha, "must be in (0, 1]")
    positive("--variation", args.variation, allow_zero=True)
    var = VariationConfig(bandwidth_sigma=args.variation, delay_sigma=args.variation * 2 / 3)
    return NetworkConfig(variation=var), MonitorConfig(poll_interval_s=args.poll_interval_s, ewma_alpha=args.ewma_alpha)


def tick(bar: Any) -> None:
    """Advance a tqdm bar by one (a typed callback for progress hooks)."""
    bar.update(1)
