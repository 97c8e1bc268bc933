"""Selection policies over a sweep of fleet sizes, setups and seeds: rows, summaries, CSV/Markdown, figures.

Fig. 2 of the node-elimination paper plots total completion time against the number of edge nodes
(12-40) for NE and AR; we draw one panel per Table I setup, the mean over seeds as a line and the
min-max spread over seeds as a band.

Issue 12 adds, for any list of policies: per run and per cell the completion time, final loss,
time to a target loss and data fraction; two targets computed per paired cell (:func:`cell_targets`:
AR's final loss x 1.01, and the loosest of the policies' best losses, which every policy reaches);
the paired statistics of one policy against NE and AR (:func:`paired_aims`); and the time-to-target
figure (:func:`plot_ttt`: loss against time, one line per policy, one panel per setup).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.io import atomic_write_json, atomic_write_text, atomic_write_with


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
    final_loss: float | None = None
    time_to_target_s: float | None = None  # for the spec's run.target_loss (None without one)
    data_fraction: float | None = None
    end_s: tuple[float, ...] = ()  # completion time of each epoch
    loss: tuple[float | None, ...] = ()  # validation loss after each epoch


#: SweepRow fields written to runs.csv (the curves go to runs.json only).
RUN_FIELDS: tuple[str, ...] = tuple(f for f in SweepRow.__dataclass_fields__ if f not in ("end_s", "loss"))
#: The per-cell targets of :func:`cell_targets`, by column name.
TARGETS: tuple[str, ...] = ("ar_x1.01", "common")


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
    """Every run as CSV, with its time to each per-cell target (:func:`cell_targets`)."""
    buf = io.StringIO()
    ttt_cols = [f"ttt_{t}_s" for t in TARGETS]
    w = csv.DictWriter(buf, fieldnames=[*RUN_FIELDS, *ttt_cols], lineterminator="\n")
    w.writeheader()
    targets = cell_targets(rows)
    for r in rows:
        doc = {k: v for k, v in asdict(r).items() if k in RUN_FIELDS}
        tg = targets.get(cell_key(r), {})
        for t, col in zip(TARGETS, ttt_cols, strict=True):
            target = tg.get(t)
            doc[col] = time_to(r, target) if target is not None else None
        w.writerow(doc)
    return buf.getvalue()


# -- time to target (issue 12) ---------------------------------------------------------------------------
CellKey = tuple[str, int, int]


def cell_key(r: SweepRow) -> CellKey:
    """The paired cell of a run: (setup, nodes, seed)."""
    return (r.setup, r.nodes, r.seed)


def cells(rows: Sequence[SweepRow]) -> dict[CellKey, dict[str, SweepRow]]:
    """Runs grouped by paired cell, then by policy (in sweep order)."""
    out: dict[CellKey, dict[str, SweepRow]] = {}
    for r in rows:
        out.setdefault(cell_key(r), {})[r.policy] = r
    return out


def time_to(r: SweepRow, target: float) -> float | None:
    """Completion time of the first epoch of ``r`` whose loss is at most ``target`` (None: never)."""
    for t, loss in zip(r.end_s, r.loss, strict=True):
        if loss is not None and loss <= target:
            return t
    return None


def cell_targets(rows: Sequence[SweepRow]) -> dict[CellKey, dict[str, float | None]]:
    """The two targets of every cell: ``ar_x1.01`` (AR's final loss x 1.01, None without AR or a loss)
    and ``common`` (the largest of the policies' lowest losses: every policy of the cell reaches it)."""
    out: dict[CellKey, dict[str, float | None]] = {}
    for key, by_pol in cells(rows).items():
        ar = by_pol.get("ar")
        best = [min(v for v in r.loss if v is not None) for r in by_pol.values() if any(v is not None for v in r.loss)]
        out[key] = {
            "ar_x1.01": ar.final_loss * 1.01 if ar is not None and ar.final_loss is not None else None,
            "common": max(best) if best and len(best) == len(by_pol) else None,
        }
    return out


def _geo(xs: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def _median(xs: Sequence[float]) -> float | None:
    return float(statistics.median(xs)) if xs else None


def _loss_vs_pct(r: SweepRow, ar: SweepRow) -> float | None:
    """Final loss of ``r`` against AR's in the same cell, in percent (None without losses)."""
    if r.final_loss is None or not ar.final_loss:
        return None
    return 100 * (r.final_loss / ar.final_loss - 1)


@dataclass(frozen=True)
class PolicyRow:
    """One policy over all paired cells of a sweep (the policy table)."""

    policy: str
    runs: int
    ar_over_policy_geo: float  # AR completion / policy completion, geometric mean over cells
    ne_over_policy_geo: float
    gains_nothing_pct: float  # cells where the policy is not faster than AR (>= AR x 0.999)
    slower_than_ne_pct: float  # cells where it is slower than NE (> NE x 1.001)
    final_loss_median: float | None
    final_loss_vs_ar_pct_median: float | None
    data_fraction_median: float | None
    reached: dict[str, int]  # cells in which it reaches each target
    ttt_median_s: dict[str, float | None]  # median time to each target over cells where it reaches it


def policy_table(rows: Sequence[SweepRow]) -> list[PolicyRow]:
    """Every policy over the paired cells (cells lacking AR or NE leave those ratios out)."""
    by_cell = cells(rows)
    targets = cell_targets(rows)
    policies = list(dict.fromkeys(r.policy for r in rows))
    out: list[PolicyRow] = []
    for p in policies:
        mine = [(k, c) for k, c in by_cell.items() if p in c]
        ar = [c["ar"].completion_time_s / c[p].completion_time_s for _, c in mine if "ar" in c]
        ne = [c["ne"].completion_time_s / c[p].completion_time_s for _, c in mine if "ne" in c]
        nothing = [c[p].completion_time_s >= 0.999 * c["ar"].completion_time_s for _, c in mine if "ar" in c]
        slower = [c[p].completion_time_s > 1.001 * c["ne"].completion_time_s for _, c in mine if "ne" in c]
        losses = [x for _, c in mine if (x := c[p].final_loss) is not None]
        rel = [x for _, c in mine if "ar" in c and (x := _loss_vs_pct(c[p], c["ar"])) is not None]
        reached: dict[str, int] = {}
        ttt: dict[str, float | None] = {}
        for t in TARGETS:
            times = [time_to(c[p], tg) for k, c in mine if (tg := targets[k][t]) is not None]
            hit = [x for x in times if x is not None]
            reached[t] = len(hit)
            ttt[t] = _median(hit)
        out.append(
            PolicyRow(
                policy=p,
                runs=len(mine),
                ar_over_policy_geo=_geo(ar),
                ne_over_policy_geo=_geo(ne),
                gains_nothing_pct=100 * statistics.fmean(nothing) if nothing else float("nan"),
                slower_than_ne_pct=100 * statistics.fmean(slower) if slower else float("nan"),
                final_loss_median=_median(losses),
                final_loss_vs_ar_pct_median=_median(rel),
                data_fraction_median=_median([x for _, c in mine if (x := c[p].data_fraction) is not None]),
                reached=reached,
                ttt_median_s=ttt,
            )
        )
    return out


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or x != x else format(x, spec)


def policy_markdown(table: Sequence[PolicyRow]) -> str:
    """The policy table as Markdown."""
    lines = [
        "| policy | runs | AR/policy (geo) | NE/policy (geo) | gains nothing vs AR | slower than NE | final loss "
        "(median) | vs AR (median) | data fraction (median) | reaches AR x 1.01 | reaches common | "
        "time to AR x 1.01 (median) | time to common (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        lines.append(
            f"| `{r.policy}` | {r.runs} | {_fmt(r.ar_over_policy_geo, '.2f')}x | {_fmt(r.ne_over_policy_geo, '.2f')}x "
            f"| {_fmt(r.gains_nothing_pct, '.1f')} % | {_fmt(r.slower_than_ne_pct, '.1f')} % "
            f"| {_fmt(r.final_loss_median, '.4f')} | {_fmt(r.final_loss_vs_ar_pct_median, '+.2f')} % "
            f"| {_fmt(r.data_fraction_median, '.3f')} | {r.reached['ar_x1.01']} | {r.reached['common']} "
            f"| {_fmt(r.ttt_median_s['ar_x1.01'], ',.0f')} s | {_fmt(r.ttt_median_s['common'], ',.0f')} s |"
        )
    return "\n".join(lines) + "\n"


def _sooner(a: float | None, b: float | None) -> float | None:
    """1 - a/b with "never" as infinity: None when neither reaches the target."""
    if a is None and b is None:
        return None
    if a is None:
        return -math.inf
    if b is None:
        return 1.0
    return 1.0 - a / b if b > 0 else 0.0


def paired_aims(rows: Sequence[SweepRow], ours: str = "adaptive") -> dict[str, Any]:
    """The issue's aims for ``ours``, over the paired cells that ran ``ours``, NE and AR.

    Per target (:data:`TARGETS`): the median over cells of ``1 - ttt_ours / ttt_NE`` (and vs AR),
    counting a policy that never reaches the target as infinitely late (cells where neither does are
    left out); the share of cells where ``ours`` reaches it no later than AR; and the final loss of
    ``ours`` against AR's (median, max, share within 1 % and 2 %).
    """
    by_cell = {k: c for k, c in cells(rows).items() if {ours, "ne", "ar"} <= set(c)}
    targets = cell_targets(rows)
    out: dict[str, Any] = {"ours": ours, "cells": len(by_cell)}
    for t in TARGETS:
        vs_ne: list[float] = []
        vs_ar: list[float] = []
        no_later = 0
        counted = 0
        for k, c in by_cell.items():
            target = targets[k][t]
            if target is None:
                continue
            counted += 1
            a, n, r = (time_to(c[p], target) for p in (ours, "ne", "ar"))
            for acc, b in ((vs_ne, n), (vs_ar, r)):
                x = _sooner(a, b)
                if x is not None:
                    acc.append(x)
            no_later += a is not None and (r is None or a <= r * (1 + 1e-9))
        out[t] = {
            "cells": counted,
            "sooner_than_ne_median_pct": None if not vs_ne else 100 * statistics.median(vs_ne),
            "sooner_than_ar_median_pct": None if not vs_ar else 100 * statistics.median(vs_ar),
            "no_later_than_ar_pct": 100 * no_later / counted if counted else None,
        }
    rel = [x for c in by_cell.values() if (x := _loss_vs_pct(c[ours], c["ar"])) is not None]
    out["final_loss_vs_ar_pct"] = {
        "median": _median(rel),
        "max": max(rel) if rel else None,
        "within_1pct": 100 * statistics.fmean(x <= 1.0 for x in rel) if rel else None,
        "within_2pct": 100 * statistics.fmean(x <= 2.0 for x in rel) if rel else None,
    }
    return out


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


def _step_loss(r: SweepRow, times: np.ndarray, pre: float) -> np.ndarray:
    """Loss of run ``r`` at each of ``times`` (the last finished epoch's loss; ``pre`` before epoch 1 ends)."""
    out = np.full(len(times), pre)
    for t, loss in zip(r.end_s, r.loss, strict=True):
        if loss is not None:
            out[times >= t] = loss
    return out


def plot_ttt(rows: Sequence[SweepRow], path: str | Path, title: str = "") -> Path | None:
    """Time-to-target figure: validation loss against time, one line per policy, one panel per setup.

    Cells differ in time scale and loss, so each run is drawn against time as a fraction of AR's
    completion time in the same cell (or of the cell's slowest run without AR) and its loss relative
    to AR's final loss (or the cell's lowest final loss); the line is the median over the setup's
    cells, the band the interquartile range. The dotted line is the ``ar_x1.01`` target. ``None``
    (no figure) when no run has a loss (the simulated engine).
    """
    if not any(v is not None for r in rows for v in r.loss):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0.0, 1.2, 241)
    setups = list(dict.fromkeys(r.setup for r in rows))
    policies = list(dict.fromkeys(r.policy for r in rows))
    by_cell = cells(rows)
    fig, axes = plt.subplots(1, len(setups), figsize=(4.4 * len(setups), 3.6), squeeze=False)
    for ax, setup in zip(axes[0], setups, strict=True):
        for pol in policies:
            curves = []
            for (st, _n, _s), c in by_cell.items():
                if st != setup or pol not in c or not c[pol].end_s:
                    continue
                ref = c.get("ar")
                t_ref = ref.completion_time_s if ref is not None else max(x.completion_time_s for x in c.values())
                finals = [x.final_loss for x in c.values() if x.final_loss is not None]
                l_ref = ref.final_loss if ref is not None and ref.final_loss else min(finals, default=1.0)
                curves.append(_step_loss(c[pol], grid * t_ref, np.nan) / l_ref)  # no line before epoch 1 ends
            if not curves:
                continue
            arr = np.asarray(curves)
            with warnings.catch_warnings():  # columns before any epoch ended are all NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(arr, axis=0)
                lo, hi = np.nanpercentile(arr, 25, axis=0), np.nanpercentile(arr, 75, axis=0)
            (line,) = ax.plot(grid, med, label=pol, drawstyle="steps-post")
            ax.fill_between(
                grid,
                lo,
                hi,
                color=line.get_color(),
                alpha=0.12,
                step="post",
            )
        ax.axhline(1.01, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{setup}")
        ax.set_xlabel("time / AR's completion time (same cell)")
        ax.set_ylabel("validation loss / AR's final loss")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or "Loss against time per policy (median and IQR over paired cells; dotted: AR x 1.01)")
    fig.tight_layout()
    out = atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return out


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN as null and infinities as the strings "inf" / "-inf" (strict JSON)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if obj != obj else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def rows_json(rows: Sequence[SweepRow]) -> list[dict[str, Any]]:
    """Every run with its loss curve (runs.json)."""
    return [asdict(r) for r in rows]


def rows_from_json(doc: Sequence[Mapping[str, Any]]) -> list[SweepRow]:
    """Rows back from :func:`rows_json` (or runs.jsonl lines)."""
    return [SweepRow(**{**d, "end_s": tuple(d["end_s"]), "loss": tuple(d["loss"])}) for d in doc]


def write_report(rows: Sequence[SweepRow], out_dir: str | Path, ours: str = "adaptive") -> dict[str, Path]:
    """Write runs.csv, runs.json, policies.md/.json; with NE and AR: summary.csv/.md and fig2.png; with
    ``ours`` too: aims.json; with losses: ttt.png."""
    out = Path(out_dir)
    paths = {
        "runs_csv": atomic_write_text(out / "runs.csv", rows_csv(rows)),
        "runs_json": atomic_write_json(out / "runs.json", json_safe(rows_json(rows)), indent=1),
    }
    table = policy_table(rows)
    paths["policies_md"] = atomic_write_text(out / "policies.md", policy_markdown(table))
    paths["policies_json"] = atomic_write_json(out / "policies.json", json_safe([asdict(r) for r in table]))
    summary = summarize(rows)
    if summary:
        paths["summary_csv"] = atomic_write_text(out / "summary.csv", summary_csv(summary))
        paths["summary_md"] = atomic_write_text(out / "summary.md", summary_markdown(summary))
        paths["fig2"] = plot_fig2(summary, rows, out / "fig2.png")
    if any(r.policy == ours for r in rows) and summary:
        paths["aims_json"] = atomic_write_json(out / "aims.json", json_safe(paired_aims(rows, ours)))
    ttt = plot_ttt(rows, out / "ttt.png")
    if ttt is not None:
        paths["ttt"] = ttt
    return paths
