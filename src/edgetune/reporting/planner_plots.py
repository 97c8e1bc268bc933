"""Planner figures: the JQODI paper's Fig. 7(c), time taken against energy per method (Agg backend)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from edgetune.io import atomic_write_with
from edgetune.planner.compare import CompareRow
from edgetune.planner.instance import Instance
from edgetune.planner.problem import trajectory

__all__ = ["plot_time_energy"]


def plot_time_energy(inst: Instance, rows: Sequence[CompareRow], path: str | os.PathLike[str]) -> Path:
    """Write Fig. 7(c): cumulative time (x) against energy (y) of each method's expected-case run.

    Each line runs from the quantization (epoch 0) to K̂_exp epochs; a circle marks reaching L_max
    within T_max, a cross a run that misses T_max (deadline-free plan shown), and methods without any
    plan are listed in the legend. The dashed line is T_max.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for row in rows:
        plan = row.plan if (row.plan is not None and row.plan.feasible) else row.relaxed
        traj = trajectory(inst, plan, "expected") if plan is not None else None
        if plan is None or traj is None:
            why = row.error or (row.plan.reason if row.plan is not None else "") or "no plan"
            ax.plot([], [], " ", label=f"{row.method}: no plan ({why[:60]})")
            continue
        xs = [p[1] for p in traj]
        ys = [p[2] for p in traj]
        met = xs[-1] < inst.t_max_s and traj[-1][3] < inst.l_max
        label = f"{row.method}: {plan.model} {plan.bits}-bit, {ys[-1]:.0f} J / {xs[-1]:.1f} s"
        (line,) = ax.plot(xs, ys, "-", lw=1.4, label=label)
        ax.plot(xs[-1], ys[-1], "o" if met else "X", ms=8, color=line.get_color(), mfc="white" if met else None)
    ax.axvline(inst.t_max_s, ls="--", color="grey", lw=1)
    ax.annotate("T_max", (inst.t_max_s, 0), textcoords="offset points", xytext=(3, 5), color="grey", fontsize=8)
    ax.set_xlabel("time taken (s)")
    ax.set_ylabel("energy consumption (J)")
    ax.set_title(f"Time vs energy until L_max ({inst.name or 'instance'}), cf. paper Fig. 7(c)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()

    def _save(tmp: Path) -> None:
        fig.savefig(tmp, dpi=120, format="png")

    try:
        return atomic_write_with(path, _save)
    finally:
        plt.close(fig)
