"""Speed of the local step on SmolLM2-135M + LoRA against a plain peft + torch loop (the floor).

Setting (issue 11): SmolLM2-135M (``--model``, default ``smollm2-135m``), LoRA r=8 on q/k/v/o, batches
of 4 x 128 tokens of the fortunes corpus, AdamW/Adam on the adapters. Each configuration runs in its
own process (``OMP_WAIT_POLICY`` and the thread count must be set before torch starts) and prints
tokens per CPU-second and per wall second, min / median over ``--steps`` measured steps after one
warm-up step:

* ``plain``: ``loss = model(x, labels=x).loss; loss.backward(); opt.step()`` with peft, nothing else;
* ``edgetune``: the engine's local step (:func:`edgetune.training.local.local_gradient`, micro-batch
  4) plus the FedSGD server step (:class:`edgetune.training.aggregate.FedSGD`), i.e. one node of the
  in-process engine;

for fp32 and bf16 autocast, 1 and 2 threads, passive and active OpenMP waits, packed blocks (the
engine's data: documents joined with end-of-text and cut into full blocks) against padded batches
(one document per row, padded; only real tokens count), and ``torch.compile`` (``--compile``; the
compile time is printed). ``--check-loss`` trains ``--loss-steps`` steps from the same adapter
initialisation in fp32 and in bf16 and prints the held-out loss of both (same batches).

Usage::

    python bench/bench_llm.py                    # the table (several minutes on 2 cores)
    python bench/bench_llm.py --check-loss       # fp32 vs bf16 loss after 10 steps
    python bench/bench_llm.py --compile          # adds torch.compile rows

A configuration alone: ``python bench/bench_llm.py --one edgetune,bf16,2,PASSIVE,packed``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

BATCH, BLOCK = 4, 128


def _setup(args: argparse.Namespace, precision: str, threads: int) -> tuple[Any, Any, Any, Any]:
    import numpy as np
    import torch

    from edgetune.training.corpus import fortune_documents
    from edgetune.training.local import set_precision
    from edgetune.training.lora import apply_lora
    from edgetune.training.partition import DataConfig, build_finetune_data
    from edgetune.training.sources import resolve_model

    torch.set_num_threads(threads)
    pre = resolve_model(args.model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = apply_lora(pre.model)
    set_precision(model, precision)
    cfg = DataConfig(
        block_len=BLOCK, train_tokens=BATCH * BLOCK * (args.steps + 1 + args.loss_steps), val_tokens=args.val_tokens
    )
    data = build_finetune_data(fortune_documents(), pre.tokenizer, cfg, np.random.default_rng(0))
    return model, pre.tokenizer, data, torch


def _padded_batches(tok: Any, n: int, torch: Any) -> list[tuple[Any, Any, int]]:
    import numpy as np

    from edgetune.training.corpus import fortune_documents

    docs = fortune_documents()
    order = np.random.default_rng(1).permutation(len(docs))[: n * BATCH]
    ids = tok.encode_batch([docs[int(k)].text for k in order])
    out = []
    for b in range(n):
        rows = [x[:BLOCK] for x in ids[b * BATCH : (b + 1) * BATCH]]
        width = max(len(r) for r in rows)
        x = torch.full((BATCH, width), tok.eos_id, dtype=torch.long)
        mask = torch.zeros((BATCH, width), dtype=torch.long)
        for k, r in enumerate(rows):
            x[k, : len(r)] = torch.tensor(r)
            mask[k, : len(r)] = 1
        labels = x.masked_fill(mask == 0, -100)
        out.append((x, (mask, labels), int(mask.sum())))
    return out


def run_one(args: argparse.Namespace, spec: str) -> dict[str, Any]:
    """One configuration: ``impl,precision,threads,wait,data[,compile]``."""
    impl, precision, threads, _wait, layout, *rest = spec.split(",")
    model, tok, data, torch = _setup(args, precision, int(threads))
    from edgetune.training.aggregate import FedSGD
    from edgetune.training.local import compute_precision, local_gradient, trainable

    compile_s = None
    fwd = model
    if rest and rest[0] == "compile":
        t0 = time.perf_counter()
        fwd = torch.compile(model)
        with compute_precision(model):
            x0 = torch.from_numpy(data.train[:BATCH])
            fwd(input_ids=x0, labels=x0).loss.backward()
        model.zero_grad(set_to_none=True)
        compile_s = time.perf_counter() - t0
    params = [p for _, p in trainable(model)]
    steps = args.steps + 1
    if layout == "packed":
        batches = [
            (torch.from_numpy(data.train[k * BATCH : (k + 1) * BATCH]), None, BATCH * (BLOCK - 1)) for k in range(steps)
        ]
    else:
        batches = _padded_batches(tok, steps, torch)
    opt = torch.optim.AdamW(params, lr=5e-4)
    server = FedSGD(optimizer="adam", micro_batch=BATCH)
    rates_cpu, rates_wall, losses = [], [], []
    for k, (x, extra, useful) in enumerate(batches):
        c0, w0 = time.process_time(), time.perf_counter()
        if impl == "plain":
            with compute_precision(model):
                if extra is None:
                    loss = fwd(input_ids=x, labels=x, use_cache=False).loss
                else:
                    loss = fwd(input_ids=x, attention_mask=extra[0], labels=extra[1], use_cache=False).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
        else:
            res = local_gradient(model, params, x, micro_batch=BATCH)
            server.apply(params, res.update, 5e-4)
            losses.append(res.train_loss)
        c, w = time.process_time() - c0, time.perf_counter() - w0
        if k > 0:  # the first step warms up allocators and kernels
            rates_cpu.append(useful / c)
            rates_wall.append(useful / w)
    return {
        "config": spec,
        "tok_per_cpu_s_min": min(rates_cpu),
        "tok_per_cpu_s_median": statistics.median(rates_cpu),
        "tok_per_wall_s_min": min(rates_wall),
        "tok_per_wall_s_median": statistics.median(rates_wall),
        "compile_s": compile_s,
        "first_losses": losses[:3],
    }


def check_loss(args: argparse.Namespace, precision: str) -> dict[str, Any]:
    """Held-out loss before and after ``--loss-steps`` steps (batch 4 x 128, Adam 5e-4) in ``precision``."""
    model, _tok, data, _torch = _setup(args, precision, args.threads)
    from edgetune.training.aggregate import FedSGD
    from edgetune.training.local import local_gradient, mean_loss, trainable

    params = [p for _, p in trainable(model)]
    server = FedSGD(optimizer="adam", micro_batch=BATCH)
    before = mean_loss(model, data.val, micro_batch=8)
    c0 = time.process_time()
    for k in range(args.loss_steps):
        res = local_gradient(model, params, data.train[k * BATCH : (k + 1) * BATCH], micro_batch=BATCH)
        server.apply(params, res.update, 5e-4)
    cpu = time.process_time() - c0
    return {
        "precision": precision,
        "before": before,
        "after": mean_loss(model, data.val, micro_batch=8),
        "steps": args.loss_steps,
        "train_cpu_s": cpu,
    }


def _child(args: argparse.Namespace, spec: str, wait: str) -> dict[str, Any]:
    env = {**os.environ, "OMP_WAIT_POLICY": wait}
    cmd = [
        sys.executable,
        __file__,
        "--one",
        spec,
        "--model",
        args.model,
        "--steps",
        str(args.steps),
        "--val-tokens",
        str(args.val_tokens),
        "--loss-steps",
        "0",
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"config": spec, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=5, help="measured steps per configuration (default 5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val-tokens", type=int, default=1024)
    ap.add_argument("--compile", action="store_true", help="add torch.compile rows")
    ap.add_argument("--check-loss", action="store_true", help="fp32 vs bf16 held-out loss after --loss-steps")
    ap.add_argument("--loss-steps", type=int, default=10)
    ap.add_argument("--only", default="", help="comma-free filter: run configurations containing this text")
    ap.add_argument("--one", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args, args.one)))
        return 0
    if args.check_loss:
        for precision in ("fp32", "bf16"):
            print(json.dumps(check_loss(args, precision)), flush=True)
        return 0
    specs = [
        ("plain,fp32,2,PASSIVE,packed", "PASSIVE"),
        ("edgetune,fp32,2,PASSIVE,packed", "PASSIVE"),
        ("plain,bf16,2,PASSIVE,packed", "PASSIVE"),
        ("edgetune,bf16,2,PASSIVE,packed", "PASSIVE"),
        ("edgetune,bf16,1,PASSIVE,packed", "PASSIVE"),
        ("edgetune,bf16,2,ACTIVE,packed", "ACTIVE"),
        ("plain,bf16,2,PASSIVE,padded", "PASSIVE"),
    ]
    if args.compile:
        specs += [
            ("plain,bf16,2,PASSIVE,packed,compile", "PASSIVE"),
            ("plain,fp32,2,PASSIVE,packed,compile", "PASSIVE"),
        ]
    print(
        f"SmolLM2 local step, batch {BATCH}x{BLOCK}, {args.steps} measured steps each; load average "
        f"{os.getloadavg()[0]:.2f} at start"
    )
    print(
        "| impl | precision | threads | OMP wait | data | tok/CPU-s min | median | tok/wall-s min | median "
        "| compile s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec, wait in specs:
        if args.only and args.only not in spec:
            continue
        r = _child(args, spec, wait)
        cols = spec.split(",")[:5]
        if "error" in r:
            print(f"| {' | '.join(cols)} | error: {r['error']} |||||", flush=True)
            continue
        comp = "-" if r["compile_s"] is None else f"{r['compile_s']:.0f}"
        print(
            f"| {' | '.join(cols)} | {r['tok_per_cpu_s_min']:.0f} | {r['tok_per_cpu_s_median']:.0f} | "
            f"{r['tok_per_wall_s_min']:.0f} | {r['tok_per_wall_s_median']:.0f} | {comp} |",
            flush=True,
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
