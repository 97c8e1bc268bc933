"""``edgetune data prepare``, ``edgetune pretrain`` and ``edgetune finetune`` (the main job).

``edgetune finetune`` fine-tunes a pre-trained model on a fleet with node elimination (NE) and with all
resources (AR) on the in-process engine (real PyTorch training, virtual clock): one run folder per
policy under ``--out`` (``OUT/ne/``, ``OUT/ar/``), plus ``ne.json``, ``ar.json``, ``summary.md`` and
``fig3.png`` side by side. Its flags are spellings of the run spec (``edgetune run`` takes the same
settings from a file).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from edgetune.cli.flags import FLEET, INPROCESS, NETWORK, POLICY, RUN, TASK, Flag, add_flags

PRETRAIN_FLAGS: tuple[Flag, ...] = tuple(
    f for f in TASK if f.key in ("task.model", "task.pretrain_steps", "task.pretrain_seed")
)
FINETUNE_FLAGS: tuple[Flag, ...] = (
    *RUN,
    *FLEET,
    Flag("--fleet", "fleet.file", "a fleet YAML instead of a generated fleet"),
    *TASK,
    *INPROCESS,
    *POLICY,
    *NETWORK,
)


def register(sub: Any) -> None:
    """Add ``data``, ``pretrain`` and ``finetune``."""
    d = sub.add_parser(
        "data",
        help="prepare the offline corpora and tokenizer",
        description="Prepare corpora and tokenizer from the installed Debian packages (offline).",
    )
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True
    dp = dsub.add_parser(
        "prepare",
        help="extract the Python docs, read fortunes, train the BPE tokenizer",
        description="Build the cached pre-training text, check the fortunes corpus, train the BPE.",
    )
    dp.add_argument("--quiet", action="store_true", help="print nothing on success")
    dp.set_defaults(func=_run_prepare)

    p = sub.add_parser(
        "pretrain",
        help="pre-train the cloud model (cached artifact)",
        description="Pre-train a GPT-2-architecture model on the Python 3.11 docs; reuse the cache.",
    )
    add_flags(p, PRETRAIN_FLAGS, "model and cloud pre-training (cached by config + seed)")
    add_flags(p, [f for f in INPROCESS if f.key == "inprocess.threads"], "host")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_run_pretrain)

    f = sub.add_parser(
        "finetune",
        help="THE MAIN JOB: real fine-tuning on a fleet, NE vs AR, table + run folders + Fig. 3",
        description=(
            "Fine-tune the pre-trained model on the fortunes corpus across a fleet with node elimination and "
            "with all resources (in-process engine: real training, virtual clock). Writes into --out: a run "
            "folder per policy (ne/, ar/), ne.json, ar.json, summary.md and fig3.png."
        ),
    )
    f.add_argument("--out", default="runs/finetune", help="output folder (default runs/finetune)")
    f.add_argument("--tensorboard", action="store_true", help="also write TensorBoard scalars per run folder")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    add_flags(f, RUN, "run (Algorithm 1)")
    add_flags(f, (*FLEET, FINETUNE_FLAGS[len(RUN) + len(FLEET)]), "fleet")
    add_flags(f, TASK, "model and training task")
    add_flags(f, INPROCESS, "in-process engine (virtual clock)")
    add_flags(f, POLICY, "node scoring (Eq. 2-3)")
    add_flags(f, NETWORK, "network and SDN monitor")
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
    from edgetune.cli.flags import build_spec
    from edgetune.training.model import SIZES
    from edgetune.training.pretrain import pretrain

    spec = build_spec(args, (*PRETRAIN_FLAGS, *INPROCESS), {"run": {"engine": "inprocess"}})
    _set_threads(spec.engine.threads)
    if spec.task.model not in SIZES:
        from edgetune.training.sources import resolve_model

        pre = resolve_model(spec.task.model)
        if not args.quiet:
            how = "loaded from cache" if pre.info.get("cached") else "de-quantised and cached"
            print(f"{spec.task.model}: already pre-trained; {how} ({pre.info.get('path', '')})")
        return 0
    cfg = spec.task.pretrain_config()
    bar, update = _pretrain_bar(args.quiet, cfg.steps)
    pre = pretrain(cfg, progress=update)
    bar.close()
    if not args.quiet:
        curve = pre.info.get("loss_curve") or []
        how = "loaded from cache" if pre.info.get("cached") else f"trained in {pre.info.get('seconds', 0):.1f} s"
        last = f", final training loss {curve[-1]:.3f}" if curve else ""
        print(f"{cfg.model}: {how}{last}; {pre.info.get('path', pre.info.get('source', ''))}")
    return 0


def _run_finetune(args: argparse.Namespace) -> int:
    _passive_omp()
    from tqdm import tqdm

    from edgetune.cli.flags import build_spec
    from edgetune.io import check_output
    from edgetune.runs.execute import resolve_fleet
    from edgetune.runs.finetune import run_finetune, summary
    from edgetune.training.model import SIZES
    from edgetune.training.pretrain import pretrain

    # Validate everything before any work, so bad input never leaves an output file behind.
    spec = build_spec(args, FINETUNE_FLAGS, {"run": {"engine": "inprocess"}})
    out = check_output(args.out, "--out", folder=True)
    fleet = resolve_fleet(spec)
    _set_threads(spec.engine.threads)

    t = spec.task
    t.documents()  # a bad --data file fails here, before any output
    if not args.quiet:
        print(
            "preparing corpora, tokenizer and the pre-trained model (cached after the first run) ...", file=sys.stderr
        )
    if t.model in SIZES:
        cfg = t.pretrain_config()
        bar, update = _pretrain_bar(args.quiet, cfg.steps)
        pretrain(cfg, progress=update)
        bar.close()
    else:
        from edgetune.training.sources import resolve_model

        pre = resolve_model(t.model)
        if not args.quiet:
            how = "loaded from cache" if pre.info.get("cached") else "de-quantised and cached"
            print(f"{t.model}: {how} in {pre.info['load_s']:.1f} s ({pre.info.get('path', '')})", file=sys.stderr)
        del pre
    policies = ("ne", "ar")
    bars: list[Any] = []

    def on_epoch(policy: str, ep: Any) -> None:
        if ep is None:  # a policy's run starts: its own bar, so the ETA is that run's
            if bars:
                bars[-1].close()
            bars.append(
                tqdm(
                    total=spec.run.epochs,
                    desc=f"fine-tune {policy.upper()}",
                    unit="epoch",
                    disable=args.quiet,
                    file=sys.stderr,
                )
            )
            return
        bars[-1].update(1)
        bars[-1].set_postfix(
            loss=f"{ep.loss:.3f}" if ep.loss is not None else "-", active=len(ep.active), t=f"{ep.end_s:,.0f}s"
        )

    records = run_finetune(spec, out, policies, progress=on_epoch, tensorboard=args.tensorboard)
    if bars:
        bars[-1].close()
    if not args.quiet:
        print(
            f"Fine-tuning {len(fleet.nodes)} nodes, {fleet.setup} setup, model {t.model} "
            f"({t.aggregator}{', LoRA' if t.lora else ''}; times are virtual seconds)"
        )
        print(summary(records))
        print(f"wrote run folders {', '.join(str(out / n) for n in records)}, {out / 'summary.md'}, {out / 'fig3.png'}")
    return 0
