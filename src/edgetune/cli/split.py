"""Commands of split fine-tuning (JQODI paper 004): ``profile``, ``estimate``, ``finetune-split``.

* ``edgetune profile --out instance.yaml`` — profile real models into a planner instance (+ meta file);
* ``edgetune estimate`` — record loss curves and print the Table VI/VII analog of the epoch estimators;
* ``edgetune finetune-split --plan plan.json --instance instance.yaml`` — execute a plan for real and
  print predicted vs measured energy, time and final loss.

torch and the split package are imported inside the handlers so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edgetune.io import check_output


def _progress(quiet: bool) -> Any:
    if quiet:
        return None
    return lambda msg: print(f"[split] {msg}", file=sys.stderr, flush=True)


def _profile(args: argparse.Namespace) -> int:
    from edgetune.split.instance import instance_from_args, meta_path, write_instance
    from edgetune.split.options import profile_config_from_args

    profile_config_from_args(args)  # every flag checked before the outputs and any work
    check_output(args.out, "--out")
    check_output(meta_path(args.out), "--out")
    instance, meta = instance_from_args(args, _progress(args.quiet))
    path = write_instance(args.out, instance, meta)
    n_var = sum(len(m["variants"]) for m in instance["models"])
    print(f"wrote {path} ({len(instance['models'])} models, {n_var} variants, l_max {instance['l_max']:.4f})")
    return 0


def _estimate(args: argparse.Namespace) -> int:
    import torch

    from edgetune.io import atomic_write_json
    from edgetune.split.estimators.curves import record_curves
    from edgetune.split.estimators.table import estimate_table, format_table, rows_to_json
    from edgetune.split.options import record_config_from_args

    torch.set_num_threads(1)
    rec = record_config_from_args(args)
    if args.json is not None:
        check_output(args.json, "--json")
    curves = record_curves(args.models, args.bits, range(args.seeds), rec, args.cache_dir, _progress(args.quiet))
    curves = [c for c in curves if c.bits in args.bits or c.bits == 32]
    rows = estimate_table(curves, prefix=args.prefix, margin=args.margin)
    n_train, n_val = rec.sizes()
    title = (
        f"Table VI/VII analog ({rec.data}: {n_train}/{n_val} digits images requested, width {rec.width}, "
        f"{args.seeds} seeds, horizon {rec.epochs}, prefix {args.prefix}, L_max = L_a*(1+{args.margin}))"
    )
    print(format_table(rows, title))
    if args.json:
        atomic_write_json(args.json, {"title": title, "rows": rows_to_json(rows)})
    return 0


def _finetune(args: argparse.Namespace) -> int:
    import json

    import torch

    from edgetune.errors import InputError
    from edgetune.io import atomic_write_json
    from edgetune.split.execute import execute_plan, format_result
    from edgetune.split.inputs import check_execution
    from edgetune.split.instance import load_mapping, meta_path

    if not 0 <= args.seed < 2**32:
        raise InputError("--seed", args.seed, "must be in 0..2**32-1")
    if args.out is not None:
        check_output(args.out, "--out")
    torch.set_num_threads(1)
    plan = load_mapping(args.plan, "--plan")
    instance = load_mapping(args.instance, "--instance")
    meta = load_mapping(args.meta or meta_path(args.instance), "--meta")
    check_execution(plan, instance, meta)
    result = execute_plan(plan, instance, meta, seed=args.seed)
    print(format_result(result))
    if args.out:
        atomic_write_json(args.out, json.loads(json.dumps(result, default=float)))
    return 0


def register(subparsers: Any) -> None:
    """Add ``profile``, ``estimate`` and ``finetune-split`` to the top-level parser."""
    from edgetune.split.options import add_profile_arguments, add_record_arguments

    p = subparsers.add_parser("profile", help="profile real models into a planner instance file")
    add_profile_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="instance file (.yaml or .json); meta beside it")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_profile)

    e = subparsers.add_parser("estimate", help="epoch estimators: the Table VI/VII analog")
    add_record_arguments(e)
    e.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    e.add_argument("--quiet", action="store_true", help="no progress lines")
    e.set_defaults(func=_estimate)

    f = subparsers.add_parser("finetune-split", help="execute a plan with real split fine-tuning")
    f.add_argument("--plan", type=Path, required=True, help="plan.json written by `edgetune plan`")
    f.add_argument("--instance", type=Path, required=True, help="the instance the plan was solved on")
    f.add_argument("--meta", type=Path, default=None, help="meta file (default <instance>.meta.json)")
    f.add_argument("--seed", type=int, default=0, help="batch-order seed (0)")
    f.add_argument("--out", type=Path, default=None, help="also write the result as JSON")
    f.set_defaults(func=_finetune)
