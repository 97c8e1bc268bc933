"""``edgetune plan``: JQODI planning (paper 004) of model, bit-width, partition points and edge servers.

``edgetune plan INSTANCE_OR_SCENARIO --method M [--out plan.json]`` makes one plan (JSON contract:
``docs/planner.md``; ``--out`` is that file, stdout without it). ``edgetune plan SCENARIO --compare
[--out FOLDER]`` runs every method side by side and writes the folder: ``table.md`` (each number
marked predicted / calibrated / by construction, the paper's figures beside it), ``fig7c.png``, and
with ``--inference`` ``fig9.png`` and ``inference.json``. An infeasible instance gives
``feasible: false`` and exit 0; a malformed one a single line naming the field and exit 2; a bounded
search (``jqodi-literal``, ``jqodi-stationary``, ``brute``) that exceeds its bound a single line and
exit 1. No output is written unless everything succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgetune.errors import InputError

_TREE_METHODS = ("jqodi-literal", "jqodi-stationary")
MAX_LABELS_LIMIT = 1_000_000
MAX_VERTICES_LIMIT = 50_000_000


def register(subparsers: Any) -> None:
    """Add the ``plan`` command to ``subparsers``."""
    from edgetune.planner.scenarios import scenario_help

    p = subparsers.add_parser(
        "plan",
        help="plan model, bit-width, partitions and edge servers (JQODI paper)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument(
        "instance",
        metavar="INSTANCE_OR_SCENARIO",
        nargs="?",
        help=f"instance file (YAML/JSON) or a shipped scenario ({scenario_help()}); with --profile, "
        "where the profiled instance is written (default runs/profile/instance.yaml)",
    )
    p.add_argument(
        "--method",
        default="exact",
        help="jqodi (approximate DP over the layered time-energy graph), jqodi-literal (Algorithms 1-4 "
        "as written, bounded), jqodi-stationary, exact (default), optimum, full, minimal, brute",
    )
    p.add_argument(
        "--out",
        help="one method: the plan JSON file (default: print it); --compare: the output folder "
        "(default runs/plan/<instance name>) for table.md, fig7c.png (+ fig9.png, inference.json)",
    )
    p.add_argument("--compare", action="store_true", help="run all methods side by side, write the folder")
    p.add_argument(
        "--inference", action="store_true", help="also give per-sample collaborative inference cost (Fig. 9)"
    )
    p.add_argument("--samples", type=int, default=1, help="samples for --inference (default 1)")
    p.add_argument("--inference-out", help="one method: write the --inference rows as JSON to this file")
    p.add_argument(
        "--jqodi-max-vertices",
        type=int,
        default=None,
        help=f"bound on the jqodi-literal / jqodi-stationary tree (default 200000, at most {MAX_VERTICES_LIMIT})",
    )
    p.add_argument(
        "--jqodi-max-labels",
        type=int,
        default=None,
        help=f"jqodi: labels kept per layer before ε-merging (default 512, at most {MAX_LABELS_LIMIT})",
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


def _method_options(args: argparse.Namespace, method: str) -> dict[str, Any]:
    if method in _TREE_METHODS and args.jqodi_max_vertices is not None:
        return {"max_vertices": args.jqodi_max_vertices}
    if method == "jqodi" and args.jqodi_max_labels is not None:
        return {"max_labels": args.jqodi_max_labels}
    return {}


def _check(args: argparse.Namespace) -> None:
    """All flag checks before any work (exit 2, nothing written)."""
    if args.samples < 1:
        raise InputError("--samples", args.samples, "must be >= 1")
    if args.jqodi_max_vertices is not None and not 1 <= args.jqodi_max_vertices <= MAX_VERTICES_LIMIT:
        raise InputError("--jqodi-max-vertices", args.jqodi_max_vertices, f"must be in 1..{MAX_VERTICES_LIMIT}")
    if args.jqodi_max_labels is not None and not 2 <= args.jqodi_max_labels <= MAX_LABELS_LIMIT:
        raise InputError("--jqodi-max-labels", args.jqodi_max_labels, f"must be in 2..{MAX_LABELS_LIMIT}")
    if args.inference_out and not args.inference:
        raise InputError("--inference-out", args.inference_out, "needs --inference")
    if args.inference_out and args.compare:
        raise InputError("--inference-out", args.inference_out, "with --compare, inference.json goes into --out")
    if args.compare and args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError("--out", args.out, "with --compare, --out is a folder (this is a file)")
    if not args.compare and args.out and Path(args.out).is_dir():
        raise InputError("--out", args.out, "without --compare, --out is the plan file (this is a folder)")
    from edgetune.io import check_output

    if args.out:
        check_output(args.out, "--out", folder=args.compare)
    if args.inference_out:
        check_output(args.inference_out, "--inference-out")
    if args.profile:
        check_output(args.instance or "runs/profile/instance.yaml", "INSTANCE_OR_SCENARIO")
    from edgetune.planner.methods import METHODS

    if not args.compare and args.method not in METHODS:
        raise InputError("--method", args.method, f"unknown planner method (known: {', '.join(METHODS)})")


def _compare(args: argparse.Namespace, inst: Any) -> int:
    from edgetune.io import OutputSet, atomic_write_json, atomic_write_text, check_output
    from edgetune.planner.compare import compare_methods, format_table
    from edgetune.planner.inference import plan_inference
    from edgetune.planner.scenarios import SCENARIOS, paper_reference
    from edgetune.reporting.planner_plots import plot_inference, plot_time_energy

    name = args.instance if args.instance in SCENARIOS else None
    default_name = name or inst.name or (Path(args.instance).stem if args.instance else "profile")
    folder = Path(args.out) if args.out else Path("runs/plan") / default_name
    check_output(folder, "--out", folder=True)
    rows = compare_methods(inst, max_vertices=args.jqodi_max_vertices, max_labels=args.jqodi_max_labels)
    text = format_table(inst, rows, paper_reference(name) if name else None)
    inference: dict[str, Any] = {}
    if args.inference:
        lines: list[str] = [""]
        for r in rows:
            if r.plan is not None and r.plan.feasible:
                inference[r.method] = plan_inference(inst, r.plan, args.samples)
                title = f"Inference of {args.samples} sample(s), {r.method}: {r.plan.model} {r.plan.bits}-bit"
                lines += [*_inference_lines(title, inference[r.method]), ""]
        text += "\n".join(lines)
    print(text, end="")
    with OutputSet() as outs, outs.capture():  # table, figures and inference.json together or not at all
        written = [atomic_write_text(folder / "table.md", text), plot_time_energy(inst, rows, folder / "fig7c.png")]
        if args.inference:
            written.append(plot_inference(inference, args.samples, folder / "fig9.png"))
            payload = {m: [x.to_json() for x in costs] for m, costs in inference.items()}
            written.append(atomic_write_json(folder / "inference.json", payload))
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Handler of ``edgetune plan``."""
    from edgetune.io import OutputSet, atomic_write_json
    from edgetune.planner.inference import plan_inference
    from edgetune.planner.methods import make_method
    from edgetune.planner.plan import SearchLimitExceeded

    _check(args)
    if args.profile:
        inst = _profile(args)
    elif args.instance is None:
        raise InputError("INSTANCE_OR_SCENARIO", None, "required unless --profile")
    else:
        inst = _resolve(args.instance)
    if args.compare:
        return _compare(args, inst)

    method = make_method(args.method, **_method_options(args, args.method))
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
    with OutputSet() as outs, outs.capture():  # --out and --inference-out together or not at all
        if args.out:
            atomic_write_json(args.out, plan.to_json())
        if args.inference_out:
            atomic_write_json(args.inference_out, [x.to_json() for x in inference])
    print(summary if args.out else json.dumps(plan.to_json(), indent=2))
    if args.inference:
        if plan.feasible:
            print("\n".join(_inference_lines(f"Inference of {args.samples} sample(s)", inference)))
        else:
            print("inference: no plan")
    return 0
