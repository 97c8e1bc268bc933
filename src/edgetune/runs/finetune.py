"""The main job: fine-tune one model on a fleet with each policy (NE and AR), same everything else.

Every policy runs the same :class:`~edgetune.runs.spec.RunSpec` but for ``run.policy``: the same fleet,
data split, partitions, pre-trained weights and identically seeded network. Each run is a run folder
``OUT/<policy>/`` (streamed epochs, checkpoints, resume); ``OUT/<policy>.json``, ``OUT/summary.md`` and
``OUT/fig3.png`` put them side by side.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from edgetune.io import OutputSet, atomic_write_text
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.reporting.finetune import format_table, summary_rows
from edgetune.runs.execute import resolve_fleet, run
from edgetune.runs.spec import RunSpec

#: Called with (policy, None) when a policy's run starts, then (policy, epoch) after each epoch.
JobProgress = Callable[[str, EpochRecord | None], None]


def run_finetune(
    spec: RunSpec,
    out: str | Path,
    policies: Sequence[str] = ("ne", "ar"),
    progress: JobProgress | None = None,
    tensorboard: bool = False,
    base_dir: Path | None = None,
) -> dict[str, RunRecord]:
    """Run ``spec`` once per policy into ``out/<policy>/``; write the side-by-side outputs."""
    from edgetune.reporting.fig3 import plot_fig3

    out = Path(out)
    fleet = resolve_fleet(spec, base_dir)
    records: dict[str, RunRecord] = {}
    for name in policies:
        on_epoch = functools.partial(progress, name) if progress is not None else None
        if progress is not None:
            progress(name, None)  # the policy's run starts
        t0 = time.perf_counter()
        rec = run(spec.with_policy(name), out / name, progress=on_epoch, tensorboard=tensorboard, fleet=fleet)
        rec.timings["wall_s"] = time.perf_counter() - t0
        records[name] = rec
    t = spec.task
    title = f"{len(fleet.nodes)} nodes, {fleet.setup} setup, seed {spec.run.seed}, model {t.model}"
    samples = completions(spec, out, records)
    text = f"# Fine-tuning: NE vs AR ({title})\n\n{summary(records)}\n\n{losses_md(records)}\n"
    # The side-by-side outputs (<policy>.json, fig3.png, summary.md) appear together or not at all.
    with OutputSet() as outs, outs.capture():
        for name, rec in records.items():
            rec.save(out / f"{name}.json")
        plot_fig3({n: r.to_json() for n, r in records.items()}, out / "fig3.png", title)
        atomic_write_text(out / "summary.md", text + (f"\n{samples}\n" if samples else ""))
    return records


#: Prompts whose completions summary.md shows for the base model and each fine-tuned one.
PROMPTS: tuple[str, ...] = ("A wise man once said", "The secret of happiness is", "Q: Why did the chicken")
SAMPLE_TOKENS = 32


def summary(records: dict[str, RunRecord]) -> str:
    """The side-by-side table."""
    return format_table(summary_rows(records))


def losses_md(records: dict[str, RunRecord]) -> str:
    """Loss before/after per token and per character, beside the bigram / unigram floor on the same split."""
    lines = ["| held-out loss | nats/token | nats/char |", "|---|---|---|"]
    any_rec = next(iter(records.values()), None)
    info = any_rec.engine_info if any_rec is not None else {}
    pre = info.get("pretrain") or {}
    cpt = float(pre.get("val_chars_per_token") or 0.0)

    def row(label: str, loss: float | None) -> str:
        if loss is None:
            return f"| {label} | - | - |"
        return f"| {label} | {loss:.4f} | {loss / cpt:.4f} |" if cpt else f"| {label} | {loss:.4f} | - |"

    if any_rec is not None:
        lines.append(row("before fine-tuning", any_rec.pre_training_loss))
    for name, rec in records.items():
        lines.append(row(f"after, {name.upper()}", rec.final_loss))
    floor = pre.get("floor") or {}
    if floor:
        lines.append(row("floor: bigram (add-k, same training tokens)", floor.get("bigram_loss")))
        lines.append(row("floor: unigram (add-k)", floor.get("unigram_loss")))
    if cpt:
        lines.append(f"\n{cpt:.3f} characters per token on the held-out text.")
    return "\n".join(lines)


def completions(spec: RunSpec, out: Path, records: dict[str, RunRecord]) -> str:
    """Greedy completions of :data:`PROMPTS` by the base model and each saved fine-tuned model."""
    from edgetune.training.finetuned import load_finetuned
    from edgetune.training.sources import resolve_model
    from edgetune.training.textgen import generate_text

    models: dict[str, Path | None] = {"base": None}
    models.update({n: out / n / "model" for n in records if (out / n / "model").is_dir()})
    if len(models) == 1:
        return ""
    t = spec.task
    rows: dict[str, dict[str, str]] = {p: {} for p in PROMPTS}
    for name, path in models.items():
        m = (
            load_finetuned(path)
            if path is not None
            else resolve_model(t.model, None, t.pretrain_steps or None, t.pretrain_seed)
        )
        for prompt in PROMPTS:
            text = generate_text(m.model, m.tokenizer, prompt, SAMPLE_TOKENS, seed=0, temperature=0)  # type: ignore[arg-type]
            rows[prompt][name] = " ".join(text.split())
        del m
    lines = [f"## Completions (greedy, {SAMPLE_TOKENS} new tokens)", ""]
    for prompt, by in rows.items():
        lines.append(f"**{prompt}** ...")
        lines += [f"- {name}: {by[name]!r}" for name in models]
        lines.append("")
    return "\n".join(lines)
