"""``edgetune data prepare``, ``edgetune pretrain`` and ``edgetune finetune`` (the main job).

``edgetune finetune`` fine-tunes a pre-trained model on a generated fleet with node elimination (NE)
and with all resources (AR) on the in-process engine (real PyTorch training, virtual clock), prints a
side-by-side table and writes ``ne.json``, ``ar.json``, ``summary.md`` and ``fig3.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def _add_pretrain_args(p: argparse.ArgumentParser, default_model: str = "small") -> None:
    g = p.add_argument_group("model and cloud pre-training (cached by config + seed)")
    g.add_argument("--model", default=default_model,
                   help="tiny (~1M) | small (~5M) | smollm2-135m (default %(default)s)")
    g.add_argument("--pretrain-steps", type=int, default=None,
                   help="pre-training steps (default 2000 for tiny, 450 for small)")
    g.add_argument("--pretrain-seed", type=int, default=0, help="seed of the cloud pre-training (default 0)")
    g.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")


def _pretrain_config(args: argparse.Namespace) -> Any:
    from edgetune.errors import InputError
    from edgetune.training.model import check_model_name
    from edgetune.training.pretrain import default_pretrain_config

    check_model_name(args.model)
    if args.pretrain_steps is not None and args.pretrain_steps < 1:
        raise InputError("--pretrain-steps", args.pretrain_steps, "must be at least 1")
    if args.threads < 1:
        raise InputError("--threads", args.threads, "must be at least 1")
    return default_pretrain_config(args.model, args.pretrain_steps, args.pretrain_seed)


def register(sub: Any) -> None:
    """Add ``data``, ``pretrain`` and ``finetune``."""
    d = sub.add_parser("data", help="prepare the offline corpora and tokenizer",
                       description="Prepare corpora and tokenizer from the installed Debian packages (offline).")
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True
    dp = dsub.add_parser("prepare", help="extract the Python docs, read fortunes, train the BPE tokenizer",
                         description="Build the cached pre-training text, check the fortunes corpus, train the BPE.")
    dp.add_argument("--quiet", action="store_true", help="print nothing on success")
    dp.set_defaults(func=_run_prepare)

    p = sub.add_parser("pretrain", help="pre-train the cloud model (cached artifact)",
                       description="Pre-train a GPT-2-architecture model on the Python 3.11 docs; reuse the cache.")
    _add_pretrain_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_run_pretrain)

    f = sub.add_parser(
        "finetune",
        help="THE MAIN JOB: real fine-tuning on a fleet, NE vs AR, table + records + Fig. 3",
        description=(
            "Fine-tune the pre-trained model on the fortunes corpus across a generated fleet with node "
            "elimination and with all resources (in-process engine: real training, virtual clock); write "
            "ne.json, ar.json, summary.md and fig3.png into --out."
        ),
    )
    f.add_argument("--nodes", type=int, default=12, help="number of edge nodes (default 12)")
    f.add_argument("--setup", default="normal", help="normal | limited | prolific (Table I; default normal)")
    f.add_argument("--seed", type=int, default=0, help="seed of the fleet, data split, network (default 0)")
    f.add_argument("--epochs", type=int, default=10, help="T, epochs (default 10, as the paper)")
    f.add_argument("--lr", type=float, default=3e-3, help="learning rate (default 3e-3 with Adam)")
    f.add_argument("--optimizer", default="adam", help="adam | sgd (sgd = Algorithm 1 line 13 verbatim)")
    f.add_argument("--local-steps", type=int, default=1,
                   help="1 = FedSGD, one full-partition gradient per epoch (Algorithm 1); K > 1 = FedAvg")
    f.add_argument("--lora", action="store_true", help="LoRA adapters (peft): only adapter tensors travel")
    f.add_argument("--partition", default="iid", help="iid (equal shards) | dirichlet (non-IID by category)")
    f.add_argument("--alpha", type=float, default=0.5, help="Dirichlet concentration (default 0.5)")
    f.add_argument("--train-tokens", type=int, default=24_576, help="training split size in tokens (default 24576)")
    f.add_argument("--val-tokens", type=int, default=4_096, help="validation split size in tokens (default 4096)")
    f.add_argument("--host-compute", type=float, default=30.0,
                   help="compute power of one host core in fleet units (default 30 = the mean node)")
    f.add_argument("--out", default="runs/finetune", help="output folder (default runs/finetune)")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    _add_pretrain_args(f)
    from edgetune.cli.common import add_network_args, add_policy_args

    add_policy_args(f)
    add_network_args(f)
    f.set_defaults(func=_run_finetune)


def _passive_omp() -> None:
    """Idle OpenMP workers sleep instead of spinning (set before torch loads).

    With two threads on a 2-core host that other processes share, spinning workers slowed training
    several-fold; passive waiting keeps two threads about as fast as one under load and ~1.7x faster
    on an idle host.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _run_prepare(args: argparse.Namespace) -> int:
    from edgetune.training.corpus import fortune_documents, pretrain_text
    from edgetune.training.pretrain import PretrainConfig, prepare_tokenizer

    text = pretrain_text()
    docs = fortune_documents()
    tok = prepare_tokenizer(PretrainConfig())
    if not args.quiet:
        print(f"pre-training corpus: {text} ({text.stat().st_size / 1e6:.1f} MB)")
        print(f"fine-tuning corpus: {len(docs)} fortunes in {len({d.category for d in docs})} categories")
        print(f"tokenizer: byte-level BPE, {tok.vocab_size} ids")
    return 0


def _pretrain_bar(quiet: bool, total: int) -> Any:
    from tqdm import tqdm

    bar = tqdm(total=total, desc="pre-train (cloud)", unit="step", disable=quiet, leave=False, file=sys.stderr)

    def update(step: int, steps: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    return bar, update


def _run_pretrain(args: argparse.Namespace) -> int:
    _passive_omp()
    from edgetune.training.pretrain import pretrain

    cfg = _pretrain_config(args)
    _set_threads(args.threads)
    bar, update = _pretrain_bar(args.quiet, cfg.steps)
    pre = pretrain(cfg, progress=update)
    bar.close()
    if not args.quiet:
        curve = pre.info.get("loss_curve") or []
        how = "loaded from cache" if pre.info.get("cached") else f"trained in {pre.info.get('seconds', 0):.1f} s"
        last = f", final training loss {curve[-1]:.3f}" if curve else ""
        print(f"{cfg.model}: {how}{last}; {pre.info.get('path', pre.info.get('source', ''))}")
    return 0


def _job_from_args(args: argparse.Namespace) -> Any:
    from edgetune.errors import InputError
    from edgetune.training.job import FinetuneJob
    from edgetune.training.partition import DataConfig

    try:
        data = DataConfig(train_tokens=args.train_tokens, val_tokens=args.val_tokens)
    except InputError as exc:
        raise InputError("--" + exc.field.replace("_", "-"), exc.value, exc.reason) from None
    job = FinetuneJob(
        nodes=args.nodes, setup=args.setup, seed=args.seed, epochs=args.epochs, learning_rate=args.lr,
        optimizer=args.optimizer, local_steps=args.local_steps, lora=args.lora, partition=args.partition,
        alpha=args.alpha, data=data, pretrain=_pretrain_config(args), host_compute=args.host_compute,
    )
    job.validate()
    return job


def _run_finetune(args: argparse.Namespace) -> int:
    _passive_omp()
    from tqdm import tqdm

    from edgetune.cli.common import network_configs, policy_config
    from edgetune.errors import InputError
    from edgetune.io import atomic_write_text
    from edgetune.reporting.fig3 import plot_fig3
    from edgetune.training.job import format_table, run_job, summary_rows
    from edgetune.training.pretrain import pretrain

    # Validate everything before any work, so bad input never leaves an output file behind.
    job = _job_from_args(args)
    pol_cfg = policy_config(args)
    net_cfg, mon_cfg = network_configs(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out", args.out, "exists and is not a folder")
    _set_threads(args.threads)

    if not args.quiet:
        print("preparing corpora, tokenizer and the pre-trained model (cached after the first run) ...",
              file=sys.stderr)
    bar, update = _pretrain_bar(args.quiet, job.pretrain.steps)
    pre = pretrain(job.pretrain, progress=update)
    bar.close()
    ebar = tqdm(total=job.epochs * len(job.policies), desc="fine-tune", unit="epoch", disable=args.quiet,
                leave=False, file=sys.stderr)

    def on_epoch(policy: str, ep: Any) -> None:
        ebar.set_description(f"fine-tune {policy.upper()}")
        ebar.update(1)
        ebar.set_postfix(loss=f"{ep.loss:.3f}" if ep.loss is not None else "-", active=len(ep.active),
                         t=f"{ep.end_s:,.0f}s")

    records = run_job(job, pol_cfg, net_cfg, mon_cfg, pretrained=pre, progress=on_epoch)
    ebar.close()
    table = format_table(summary_rows(records))
    title = f"{job.nodes} nodes, {job.setup} setup, seed {job.seed}, model {job.pretrain.model}"
    for name, rec in records.items():
        rec.save(out / f"{name}.json")
    plot_fig3({n: r.to_json() for n, r in records.items()}, out / "fig3.png", title)
    atomic_write_text(out / "summary.md", f"# Fine-tuning: NE vs AR ({title})\n\n{table}\n")
    if not args.quiet:
        print(f"Fine-tuning {title} ({job.aggregator}{', LoRA' if job.lora else ''}; times are virtual seconds)")
        print(table)
        print(f"wrote {', '.join(str(out / f'{n}.json') for n in records)}, {out / 'fig3.png'}, {out / 'summary.md'}")
    return 0
