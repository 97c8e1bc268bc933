"""Selection policies on the in-process engine (issue 12): paired runs, time-to-target, data fraction.

Every (setup, nodes, seed) cell runs the main job (:func:`edgetune.training.job.run_job`: tiny GPT-2,
real FedSGD fine-tuning on fortunes, virtual clock) once per policy on the same fleet, data split,
partitions and network seed. Clocks are deterministic: ``host_seconds_per_token`` replaces CPU
measurements. Writes ``OUT/runs.json`` (per run: the loss curve, epoch end times, active sets,
final loss, data fraction) and prints the aims' numbers (:func:`summarize`).

    python scripts/policy_sweep.py --nodes 12,24 --seeds 5 --partition iid --out runs/policies-iid
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def compact(rec: Any) -> dict[str, Any]:
    """What the summary needs from one run record."""
    doc = rec.to_json()
    tokens = {int(k): v for k, v in doc["config"]["data"]["tokens_per_node"].items()}
    total = sum(tokens.values()) * len(doc["epochs"])
    used = sum(tokens[i] for e in doc["epochs"] for i in e["active"])
    return {
        "policy": doc["policy"],
        "pre_training_loss": doc["pre_training_loss"],
        "end_s": [e["end_s"] for e in doc["epochs"]],
        "loss": [e["loss"] for e in doc["epochs"]],
        "active": [e["active"] for e in doc["epochs"]],
        "completion_time_s": doc["completion_time_s"],
        "final_loss": doc["final_loss"],
        "data_fraction": used / total if total else 0.0,
    }


def time_to_target(run: dict[str, Any], target: float) -> float | None:
    """Completion time of the first epoch whose loss is at most ``target``."""
    for t, loss in zip(run["end_s"], run["loss"], strict=True):
        if loss is not None and loss <= target:
            return float(t)
    return None


def summarize(cells: Sequence[dict[str, Any]], ours: str = "adaptive") -> dict[str, Any]:
    """Paired statistics of ``ours`` against NE and AR over all cells (the issue's aims)."""
    out: dict[str, Any] = {"cells": len(cells)}
    per_target: dict[str, dict[str, Any]] = {}
    for tname in ("ar_x1.01", "common"):
        vs_ne, vs_ar, reached, later_than_ar = [], [], {p: 0 for p in cells[0]["runs"]}, 0
        for c in cells:
            runs = c["runs"]
            if tname == "ar_x1.01":
                target = runs["ar"]["final_loss"] * 1.01
            else:  # the loosest of the policies' best losses: every policy reaches it
                target = max(min(r["loss"]) for r in runs.values())
            ttt = {p: time_to_target(r, target) for p, r in runs.items()}
            for p, v in ttt.items():
                reached[p] += v is not None
            a, n, r = ttt.get(ours), ttt.get("ne"), ttt.get("ar")
            if a is not None and n is not None:
                vs_ne.append(1 - a / n)
            if a is None or (r is not None and a > r * (1 + 1e-9)):
                later_than_ar += 1
            if a is not None and r is not None:
                vs_ar.append(1 - a / r)
        per_target[tname] = {
            "reached": reached,
            f"{ours}_sooner_than_ne_median_pct": 100 * statistics.median(vs_ne) if vs_ne else None,
            f"{ours}_sooner_than_ar_median_pct": 100 * statistics.median(vs_ar) if vs_ar else None,
            f"{ours}_no_later_than_ar_pct": 100 * (1 - later_than_ar / len(cells)),
        }
    out["targets"] = per_target
    rel = [c["runs"][ours]["final_loss"] / c["runs"]["ar"]["final_loss"] - 1 for c in cells]
    out[f"{ours}_final_loss_vs_ar_pct"] = {"median": 100 * statistics.median(rel), "max": 100 * max(rel)}
    for p in cells[0]["runs"]:
        out.setdefault("per_policy", {})[p] = {
            "final_loss_median": statistics.median(c["runs"][p]["final_loss"] for c in cells),
            "completion_time_s_median": statistics.median(c["runs"][p]["completion_time_s"] for c in cells),
            "data_fraction_median": statistics.median(c["runs"][p]["data_fraction"] for c in cells),
            "final_loss_vs_ar_pct_median": 100
            * statistics.median(c["runs"][p]["final_loss"] / c["runs"]["ar"]["final_loss"] - 1 for c in cells),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="12,24")
    ap.add_argument("--setups", default="normal,limited,prolific")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--policies", default="ne,ar,adaptive")
    ap.add_argument("--partition", default="iid")
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--train-tokens", type=int, default=12_288)
    ap.add_argument("--val-tokens", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--host-seconds-per-token", type=float, default=5e-5)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import torch
    from edgetune.training.job import FinetuneJob, run_job

    from edgetune.training.partition import DataConfig
    from edgetune.training.pretrain import PretrainConfig, pretrain

    torch.set_num_threads(args.threads)
    pcfg = PretrainConfig(model="tiny", steps=args.pretrain_steps)
    pre = pretrain(pcfg)
    cells = []
    t0 = time.perf_counter()
    for setup in args.setups.split(","):
        for n in (int(x) for x in args.nodes.split(",")):
            for seed in range(args.seeds):
                job = FinetuneJob(
                    nodes=n,
                    setup=setup,
                    seed=seed,
                    epochs=args.epochs,
                    partition=args.partition,
                    alpha=args.alpha,
                    policies=tuple(args.policies.split(",")),
                    data=DataConfig(train_tokens=args.train_tokens, val_tokens=args.val_tokens),
                    pretrain=pcfg,
                    host_seconds_per_token=args.host_seconds_per_token,
                )
                recs = run_job(job, pretrained=pre)
                cells.append(
                    {"setup": setup, "nodes": n, "seed": seed, "runs": {p: compact(r) for p, r in recs.items()}}
                )
                print(
                    f"{setup} {n} {seed} "
                    + " ".join(
                        f"{p}:{c['completion_time_s']:.0f}s/{c['final_loss']:.4f}" for p, c in cells[-1]["runs"].items()
                    )
                    + f"  [{time.perf_counter() - t0:.0f}s]",
                    flush=True,
                )
    summary = summarize(cells)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.json").write_text(json.dumps({"args": vars(args), "cells": cells}, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
