"""``edgetune plan``: JQODI planning (paper 004) of model, bit-width, partition points and edge servers.

``edgetune plan INSTANCE_OR_SCENARIO --method M --out plan.json`` writes one plan (JSON contract of
issue 4); ``edgetune plan SCENARIO --compare [--plot fig7c.png] [--out table.md]`` runs jqodi,
jqodi-stationary, exact, optimum, full and minimal side by side. ``--inference`` adds the per-sample
collaborative inference cost (Fig. 9). An infeasible instance gives ``feasible: false`` and exit 0; a
malformed one a single line naming the field and exit 2; a search that exceeds its enumeration bound
a single line and exit 1. No output file is written unless everything succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgetune.errors import InputError


def register(subparsers: Any) -> None:
    """Add the ``plan`` command to ``subparsers``."""
    p = subparsers.add_parser(
        "plan",
        help="plan model, bit-width, partitions and edge servers (JQODI paper)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument(
        "instance",
        metavar="INSTANCE_OR_SCENARIO",
        nargs="?",
        help="instance file (YAML/JSON) or scenario name (jqodi-data1, jqodi-data2); with --profile, "
        "where the profiled instance is written (default runs/profile/instance.yaml)",
    )
    p.add_argument(
        "--method",
        default="exact",
        help="jqodi, jqodi-stationary, exact (default), optimum, full, minimal, brute",
    )
    p.add_argument("--out", help="plan JSON (single method) or Markdown table (--compare)")
    p.add_argument("--compare", action="store_true", help="run all methods side by side")
    p.add_argument("--plot", help="with --compare: write Fig. 7(c) (time vs energy) as PNG")
    p.add_argument(
        "--inference", action="store_true", help="also print per-sample collaborative inference cost (Fig. 9)"
    )
    p.add_argument("--samples", type=int, default=1, help="samples for --inference (default 1)")
    p.add_argument("--inference-out", help="write the --inference rows as JSON")
    p.add_argument(
        "--jqodi-max-vertices",
        type=int,
        default=None,
        help="bound on the jqodi time-energy tree (default 200000)",
    )
    from edgetune.split.options import add_profile_arguments  # torch-free

    g = p.add_argument_group(
        "--profile: build the instance from real models, profiles and estimators (edgetune profile)"
    )
    g.add_argument("--profile", action="store_true", help="profile real models into the instance, then plan")
    add_profile_arguments(g)  # an argument group takes the same add_argument calls
    p.set_defaults(func=run)


def _resolve(arg: str) -> Any:
    from edgetune.planner.instance import load_instance
    from edgetune.planner.scenarios import SCENARIOS, build_scenario

    path = Path(arg)
    if path.is_file():
        return load_instance(path)
    if arg in SCENARIOS:
        return build_scenario(arg)
    raise InputError("instance", arg, f"no such file or scenario (scenarios: {', '.join(SCENARIOS)})")


def _inference_lines(title: str, rows: list[Any]) -> list[str]:
    out = [
        f"{title}",
        "| setup | partition | device (s) | transfer (s) | server (s) | latency (s) | energy (J) |",
        "|---|---|---|---|---|---|---|",
    ]
    out += [
        f"| {r.setup} | {r.partition} | {r.device_s:.4g} | {r.transfer_s:.4g} | {r.server_s:.4g} "
        f"| {r.latency_s:.4g} | {r.energy_j:.4g} |"
        for r in rows
    ]
    return out


def _profile(args: argparse.Namespace) -> Any:
    """``--profile``: record/profile real models, write the instance (+ meta for finetune-split), load it."""
    from edgetune.planner.instance import instance_from_mapping
    from edgetune.split.instance import instance_from_args, write_instance

    target = Path(args.instance or "runs/profile/instance.yaml")
    instance, meta = instance_from_args(args, lambda msg: print(msg, file=sys.stderr))
    write_instance(target, instance, meta)
    print(f"profiled instance: {target}", file=sys.stderr)
    return instance_from_mapping(instance)


def run(args: argparse.Namespace) -> int:
    """Handler of ``edgetune plan``."""
    from edgetune.io import atomic_write_json, atomic_write_text
    from edgetune.planner.inference import plan_inference
    from edgetune.planner.methods import make_method
    from edgetune.planner.plan import SearchLimitExceeded

    if args.samples < 1:
        raise InputError("--samples", args.samples, "must be >= 1")
    if args.jqodi_max_vertices is not None and args.jqodi_max_vertices < 1:
        raise InputError("--jqodi-max-vertices", args.jqodi_max_vertices, "must be >= 1")
    if args.plot and not args.compare:
        raise InputError("--plot", args.plot, "needs --compare")
    if args.inference_out and not args.inference:
        raise InputError("--inference-out", args.inference_out, "needs --inference")
    if args.profile:
        inst = _profile(args)
    elif args.instance is None:
        raise InputError("INSTANCE_OR_SCENARIO", None, "required unless --profile")
    else:
        inst = _resolve(args.instance)
    opts = {} if args.jqodi_max_vertices is None else {"max_vertices": args.jqodi_max_vertices}

    if args.compare:
        from edgetune.planner.compare import compare_methods, format_table

        rows = compare_methods(inst, max_vertices=args.jqodi_max_vertices)
        text = format_table(inst, rows)
        inf_json: dict[str, Any] = {}
        if args.inference:
            lines: list[str] = [""]
            for r in rows:
                if r.plan is not None and r.plan.feasible:
                    inf = plan_inference(inst, r.plan, args.samples)
                    inf_json[r.method] = [x.to_json() for x in inf]
                    title = f"Inference of {args.samples} sample(s), {r.method}: "
                    title += f"{r.plan.model} {r.plan.bits}-bit"
                    lines += [*_inference_lines(title, inf), ""]
            text += "\n".join(lines)
        print(text, end="")
        if args.plot:
            from edgetune.reporting.planner_plots import plot_time_energy

            plot_time_energy(inst, rows, args.plot)
        if args.inference_out:
            atomic_write_json(args.inference_out, inf_json)
        if args.out:
            atomic_write_text(args.out, text)
        return 0

    method = make_method(args.method, **(opts if args.method.startswith("jqodi") else {}))
    try:
        plan = method.plan(inst)
    except SearchLimitExceeded as exc:
        print(f"edgetune: {exc}", file=sys.stderr)
        return 1
    inference: list[Any] = []
    if args.inference and plan.feasible:
        inference = plan_inference(inst, plan, args.samples)
    if plan.feasible:
        summary = (
            f"{plan.method}: {plan.model} {plan.bits}-bit, K={plan.epochs} ({plan.schedule_summary()}), "
            f"{plan.energy_j:.1f} J, {plan.time_s:.2f} s, loss {plan.final_loss:.5g}"
        )
    else:
        summary = f"{plan.method}: infeasible: {plan.reason}"
    if args.out:
        atomic_write_json(args.out, plan.to_json())
        print(summary)
    else:
        print(json.dumps(plan.to_json(), indent=2))
    if args.inference:
        if plan.feasible:
            print("\n".join(_inference_lines(f"Inference of {args.samples} sample(s)", inference)))
        else:
            print("inference: no plan")
    if args.inference_out:
        atomic_write_json(args.inference_out, [x.to_json() for x in inference])
    return 0
