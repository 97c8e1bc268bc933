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

from edgetune.io import atomic_write_text
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.reporting.finetune import format_table, summary_rows
from edgetune.runs.execute import resolve_fleet, run
from edgetune.runs.spec import RunSpec

JobProgress = Callable[[str, EpochRecord], None]


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
        t0 = time.perf_counter()
        rec = run(spec.with_policy(name), out / name, progress=on_epoch, tensorboard=tensorboard, fleet=fleet)
        rec.timings["wall_s"] = time.perf_counter() - t0
        rec.save(out / f"{name}.json")
        records[name] = rec
    t = spec.task
    title = f"{len(fleet.nodes)} nodes, {fleet.setup} setup, seed {spec.run.seed}, model {t.model}"
    plot_fig3({n: r.to_json() for n, r in records.items()}, out / "fig3.png", title)
    atomic_write_text(out / "summary.md", f"# Fine-tuning: NE vs AR ({title})\n\n{summary(records)}\n")
    return records


def summary(records: dict[str, RunRecord]) -> str:
    """The side-by-side table."""
    return format_table(summary_rows(records))
