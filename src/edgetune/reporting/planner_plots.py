"""Planner figures (Agg backend): the JQODI paper's Fig. 7(c) (time vs energy) and Fig. 9 (inference)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgetune.io import atomic_write_with
from edgetune.planner.compare import CompareRow
from edgetune.planner.inference import InferenceCost
from edgetune.planner.instance import Instance
from edgetune.planner.problem import trajectory

__all__ = ["LOG_RANGE", "plot_inference", "plot_time_energy"]

LOG_RANGE = 10.0  # energy axis is logarithmic when the final energies span more than this factor


def _short_reason(row: CompareRow) -> str:
    """A legend-sized reason for a method without a plan."""
    if row.error:
        return "search over its bound"
    why = (row.plan.reason if row.plan is not None else "") or "no plan"
    if "reach L_max" in why:
        return "cannot reach L_max"
    if "T_max" in why:
        return "misses T_max"
    return why[:30]


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    import matplotlib.pyplot as plt

    def _write(tmp: Path) -> None:
        fig.savefig(tmp, dpi=120, format="png")

    try:
        return atomic_write_with(path, _write)
    finally:
        plt.close(fig)


def plot_time_energy(inst: Instance, rows: Sequence[CompareRow], path: str | os.PathLike[str]) -> Path:
    """Write Fig. 7(c): cumulative time (x) against energy (y) of each method's expected-case run.

    Each line runs over the epochs of the expected case (K̂_exp); a circle marks reaching L_max within
    T_max, a cross a run that misses T_max (its deadline-free plan), and methods without a plan are
    listed in the legend. The energy axis is logarithmic when the final energies span more than
    :data:`LOG_RANGE` (e.g. Data 2's 295 kJ Minimal Model next to ~6 kJ plans); the legend sits inside
    the axes. The dashed line is T_max.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: list[tuple[str, list[float], list[float], bool]] = []
    missing: list[str] = []
    for row in rows:
        plan = row.plan if (row.plan is not None and row.plan.feasible) else row.relaxed
        traj = trajectory(inst, plan, "expected") if plan is not None else None
        if plan is None or traj is None:
            missing.append(f"{row.method}: no plan ({_short_reason(row)})")
            continue
        xs = [p[1] for p in traj]
        ys = [p[2] for p in traj]
        met = xs[-1] < inst.t_max_s and traj[-1][3] < inst.l_max
        label = f"{row.method}: {plan.model} {plan.bits}-bit, {ys[-1]:.0f} J / {xs[-1]:.1f} s"
        curves.append((label, xs, ys, met))
    finals = [c[2][-1] for c in curves if c[2][-1] > 0]
    log_axis = bool(finals) and max(finals) / min(finals) > LOG_RANGE
    fig, ax = plt.subplots(figsize=(7.0, 4.8), layout="constrained")
    for label, xs, ys, met in curves:
        if log_axis:  # a zero quantization energy (32-bit) cannot sit on a log axis
            pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        (line,) = ax.plot(xs, ys, "-", lw=1.4, label=label)
        ax.plot(xs[-1], ys[-1], "o" if met else "X", ms=8, color=line.get_color(), mfc="white" if met else None)
    for text in missing:
        ax.plot([], [], " ", label=text)
    ax.axvline(inst.t_max_s, ls="--", color="grey", lw=1)
    ax.annotate(
        "T_max",
        (inst.t_max_s, 0.02),
        xycoords=("data", "axes fraction"),
        xytext=(3, 0),
        textcoords="offset points",
        color="grey",
        fontsize=8,
    )
    if log_axis:
        ax.set_yscale("log")
    ax.set_xlabel("time taken (s)")
    ax.set_ylabel("energy consumption (J)" + (", log scale" if log_axis else ""))
    ax.set_title(f"Time vs energy until L_max ({inst.name or 'instance'}), cf. paper Fig. 7(c)", fontsize=9)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)
    ax.grid(alpha=0.3, which="both" if log_axis else "major")
    return _save(fig, path)


def plot_inference(
    inference: Mapping[str, Sequence[InferenceCost]], samples: int, path: str | os.PathLike[str]
) -> Path:
    """Write Fig. 9: inference latency and energy of each setup (device alone, device + each server).

    One group of bars per method's plan (its variant at its most-used partition), one bar per setup.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    methods = list(inference)
    setups = sorted({c.setup for costs in inference.values() for c in costs})
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.8), layout="constrained")
    width = 0.8 / max(1, len(setups))
    x = np.arange(len(methods))
    for s_i, setup in enumerate(setups):
        lat = [next((c.latency_s for c in inference[m] if c.setup == setup), np.nan) for m in methods]
        en = [next((c.energy_j for c in inference[m] if c.setup == setup), np.nan) for m in methods]
        axes[0].bar(x + s_i * width, lat, width, label=setup)
        axes[1].bar(x + s_i * width, en, width, label=setup)
    for ax, ylabel in zip(axes, ("latency (s)", "energy (J)"), strict=True):
        ax.set_xticks(x + width * (len(setups) - 1) / 2, methods, rotation=20, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"Inference of {samples} sample(s) per plan, cf. paper Fig. 9", fontsize=9)
    return _save(fig, path)
