"""Command-line options shared by ``profile``, ``estimate`` and the planner's ``plan --profile``.

Light module (argparse + :mod:`edgetune.split.config` only) so that parsers build without torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
from edgetune.split.config import ProfileConfig, RecordConfig

ESTIMATORS = ("lstm", "powerlaw")


def _csv(kind: Callable[[str], Any]) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            return tuple(kind(t) for t in text.split(",") if t.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad list {text!r}") from None

    return parse


def add_record_arguments(p: argparse.ArgumentParser) -> None:
    """Options of curve recording (shared by ``profile``, ``estimate`` and ``plan --profile``)."""
    d = RecordConfig()
    p.add_argument("--models", type=_csv(str), default=("lenet", "resnet20", "vgg"), help="comma list")
    p.add_argument("--bits", type=_csv(int), default=(1, 2, 4, 6, 8, 32), help="comma list of bit-widths")
    p.add_argument("--seeds", type=int, default=3, help="seeds per (model, bits) (default 3)")
    p.add_argument("--data", default=d.data, choices=["data1", "data2"], help="device data set size")
    p.add_argument("--n-train", type=int, default=d.n_train, help=f"cap on device training images ({d.n_train})")
    p.add_argument("--n-val", type=int, default=d.n_val, help=f"cap on device validation images ({d.n_val})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"fine-tuning horizon ({d.epochs})")
    p.add_argument("--width", type=float, default=d.width, help=f"model width multiplier ({d.width})")
    p.add_argument("--image-size", type=int, default=d.image_size, help=f"input side ({d.image_size})")
    p.add_argument("--prefix", type=int, default=8, help="epochs of the early curve the estimators see (8)")
    p.add_argument("--margin", type=float, default=0.5, help="per-model L_max = L_a * (1 + margin) (0.5)")
    p.add_argument("--cache-dir", type=Path, default=None, help="curve cache (default ~/.cache/edgetune/split)")


def record_config_from_args(args: argparse.Namespace) -> RecordConfig:
    """The :class:`RecordConfig` the shared options describe."""
    import math

    from edgetune.split.inputs import MAX_SEEDS, record_config

    values = {k: getattr(args, k) for k in ("width", "image_size", "data", "n_train", "n_val", "epochs")}
    try:
        rec = record_config(values)
    except InputError as exc:
        raise InputError("--" + exc.field.replace("_", "-"), exc.value, exc.reason) from None
    if not 1 <= args.seeds <= MAX_SEEDS:
        raise InputError("--seeds", args.seeds, f"must be in 1..{MAX_SEEDS}")
    if not args.models:
        raise InputError("--models", ",".join(args.models), "name at least one model")
    from edgetune.split.models import model_names

    for name in args.models:
        if name not in model_names():
            raise InputError("--models", name, f"unknown model (known: {', '.join(model_names())})")
    if not args.bits:
        raise InputError("--bits", "", "name at least one bit-width")
    from edgetune.split.quant import SUPPORTED_BITS

    for b in args.bits:
        if b not in SUPPORTED_BITS:
            raise InputError("--bits", b, f"must be one of {list(SUPPORTED_BITS)}")
    if not 1 <= args.prefix < rec.epochs:
        raise InputError("--prefix", args.prefix, f"must be in 1..{rec.epochs - 1} (below --epochs)")
    if not math.isfinite(args.margin) or not 0 <= args.margin <= 100:
        raise InputError("--margin", args.margin, "must be a finite number in [0, 100]")
    return rec


def add_profile_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``profile`` (and of the planner's ``plan --profile``)."""
    add_record_arguments(p)
    p.add_argument("--estimator", choices=ESTIMATORS, default="lstm", help="K̂ estimator (lstm)")
    p.add_argument("--t-max-s", type=float, default=180.0, help="deadline T_max in seconds (180)")
    p.add_argument("--l-max", type=float, default=None, help="target loss (default: largest per-model target)")
    p.add_argument("--device", default="pi5", help="device profile (pi5)")
    p.add_argument("--servers", type=_csv(str), default=("rtx3090", "rtx4090"), help="edge-server profiles")
    p.add_argument("--cloud", default="a100", help="cloud profile (a100)")
    p.add_argument("--calibrate-device", action="store_true", help="use this host's measured speed for the device")


def profile_config_from_args(args: argparse.Namespace) -> ProfileConfig:
    """The :class:`ProfileConfig` the options of :func:`add_profile_arguments` describe."""
    import math

    record_config_from_args(args)
    if not math.isfinite(args.t_max_s) or not 0 < args.t_max_s <= 1e9:
        raise InputError("--t-max-s", args.t_max_s, "must be a finite number in (0, 1e9]")
    if args.l_max is not None and (not math.isfinite(args.l_max) or args.l_max <= 0):
        raise InputError("--l-max", args.l_max, "must be a finite number > 0")
    if not args.servers:
        raise InputError("--servers", "", "name at least one edge server")
    return ProfileConfig(
        models=tuple(args.models),
        bits=tuple(args.bits),
        device=args.device,
        servers=tuple(args.servers),
        cloud=args.cloud,
        t_max_s=args.t_max_s,
        l_max=args.l_max,
        estimator=args.estimator,
        calibrate_device=args.calibrate_device,
    )
