"""NE against AR over a sweep of fleet sizes, setups and seeds: rows, summary, CSV/Markdown, Fig. 2.

Fig. 2 of the node-elimination paper plots total completion time against the number of edge nodes
(12-40) for NE and AR; we draw one panel per Table I setup, the mean over seeds as a line and the
min-max spread over seeds as a band.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from edgetune.io import atomic_write_text, atomic_write_with


@dataclass(frozen=True)
class SweepRow:
    """One simulated run of the sweep."""

    setup: str
    nodes: int
    seed: int
    policy: str
    completion_time_s: float
    energy_j: float
    bytes_moved: float
    last_epoch_nodes: int


@dataclass(frozen=True)
class SummaryRow:
    """NE vs AR for one (setup, nodes) cell, over seeds."""

    setup: str
    nodes: int
    seeds: int
    ne_mean_s: float
    ne_std_s: float
    ar_mean_s: float
    ar_std_s: float
    speedup: float  # AR mean / NE mean
    reduction_pct: float  # 100 (1 - NE mean / AR mean)
    best_seed_reduction_pct: float  # the largest per-seed reduction (the paper reports "up to")
    ne_energy_j: float
    ar_energy_j: float


def summarize(rows: Sequence[SweepRow]) -> list[SummaryRow]:
    """Pair NE and AR runs per (setup, nodes) over seeds."""
    cells: dict[tuple[str, int], dict[str, dict[int, SweepRow]]] = {}
    for r in rows:
        cells.setdefault((r.setup, r.nodes), {}).setdefault(r.policy, {})[r.seed] = r
    out: list[SummaryRow] = []
    for (setup, n), by_pol in cells.items():
        ne, ar = by_pol.get("ne", {}), by_pol.get("ar", {})
        seeds = sorted(set(ne) & set(ar))
        if not seeds:
            continue
        ne_t = [ne[s].completion_time_s for s in seeds]
        ar_t = [ar[s].completion_time_s for s in seeds]
        ne_m, ar_m = statistics.fmean(ne_t), statistics.fmean(ar_t)
        out.append(
            SummaryRow(
                setup=setup,
                nodes=n,
                seeds=len(seeds),
                ne_mean_s=ne_m,
                ne_std_s=statistics.pstdev(ne_t),
                ar_mean_s=ar_m,
                ar_std_s=statistics.pstdev(ar_t),
                speedup=ar_m / ne_m if ne_m > 0 else float("nan"),
                reduction_pct=100.0 * (1 - ne_m / ar_m) if ar_m > 0 else float("nan"),
                best_seed_reduction_pct=max(100.0 * (1 - a / b) for a, b in zip(ne_t, ar_t, strict=True) if b > 0),
                ne_energy_j=statistics.fmean(ne[s].energy_j for s in seeds),
                ar_energy_j=statistics.fmean(ar[s].energy_j for s in seeds),
            )
        )
    return out


def rows_csv(rows: Sequence[SweepRow]) -> str:
    """Every run as CSV."""
    buf = io.StringIO()
    fields = list(asdict(rows[0]).keys()) if rows else [f for f in SweepRow.__dataclass_fields__]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(asdict(r))
    return buf.getvalue()


def summary_csv(summary: Sequence[SummaryRow]) -> str:
    """The NE-vs-AR summary as CSV."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(SummaryRow.__dataclass_fields__), lineterminator="\n")
    w.writeheader()
    for s in summary:
        w.writerow(asdict(s))
    return buf.getvalue()


def _hours(s: float) -> str:
    return f"{s / 3600:,.1f}"


def summary_markdown(summary: Sequence[SummaryRow]) -> str:
    """The summary as a Markdown table (times in virtual hours) plus per-setup headline numbers."""
    lines = [
        "| setup | nodes | seeds | NE time (h) | AR time (h) | AR/NE | NE saves | best seed saves "
        "| NE energy (MJ) | AR energy (MJ) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        lines.append(
            f"| {s.setup} | {s.nodes} | {s.seeds} | {_hours(s.ne_mean_s)} ± {_hours(s.ne_std_s)} | "
            f"{_hours(s.ar_mean_s)} ± {_hours(s.ar_std_s)} | {s.speedup:.2f}x | {s.reduction_pct:.1f} % | "
            f"{s.best_seed_reduction_pct:.1f} % | {s.ne_energy_j / 1e6:,.2f} | {s.ar_energy_j / 1e6:,.2f} |"
        )
    lines.append("")
    for setup in dict.fromkeys(s.setup for s in summary):
        cell = [s for s in summary if s.setup == setup]
        best = max(cell, key=lambda s: s.speedup)
        lines.append(
            f"- **{setup}**: NE/AR mean speed-up {min(s.speedup for s in cell):.2f}x-{best.speedup:.2f}x "
            f"(largest at {best.nodes} nodes, {best.reduction_pct:.1f} % less time); "
            f"largest single-seed saving {max(s.best_seed_reduction_pct for s in cell):.1f} %."
        )
    return "\n".join(lines) + "\n"


def plot_fig2(summary: Sequence[SummaryRow], rows: Sequence[SweepRow], path: str | Path) -> Path:
    """Fig. 2: completion time against nodes, one panel per setup, mean line + min-max band over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    setups = list(dict.fromkeys(s.setup for s in summary))
    fig, axes = plt.subplots(1, len(setups), figsize=(4.2 * len(setups), 3.6), squeeze=False, sharey=False)
    colors = {"ne": "tab:blue", "ar": "tab:red"}
    labels = {"ne": "Node Elimination (NE)", "ar": "All Resources (AR)"}
    for ax, setup in zip(axes[0], setups, strict=True):
        for pol in ("ne", "ar"):
            sel = sorted({r.nodes for r in rows if r.setup == setup and r.policy == pol})
            if not sel:
                continue
            per = [
                [r.completion_time_s / 3600 for r in rows if r.setup == setup and r.policy == pol and r.nodes == n]
                for n in sel
            ]
            mean = [statistics.fmean(v) for v in per]
            ax.plot(sel, mean, marker="o", color=colors[pol], label=labels[pol])
            ax.fill_between(sel, [min(v) for v in per], [max(v) for v in per], color=colors[pol], alpha=0.15)
        ax.set_title(f"{setup} (Table I)")
        ax.set_xlabel("number of edge nodes")
        ax.set_ylabel("completion time (virtual hours)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Total completion time, NE vs AR (mean, min-max over seeds)")
    fig.tight_layout()
    out = atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return out


def write_report(rows: Sequence[SweepRow], out_dir: str | Path) -> dict[str, Path]:
    """Write runs.csv, summary.csv, summary.md and fig2.png into ``out_dir``."""
    out = Path(out_dir)
    summary = summarize(rows)
    return {
        "runs_csv": atomic_write_text(out / "runs.csv", rows_csv(rows)),
        "summary_csv": atomic_write_text(out / "summary.csv", summary_csv(summary)),
        "summary_md": atomic_write_text(out / "summary.md", summary_markdown(summary)),
        "fig2": plot_fig2(summary, rows, out / "fig2.png"),
    }
