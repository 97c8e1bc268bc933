"""The main job's side-by-side table (one column per policy) and its NE-vs-AR ratios."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgetune.orchestrator.record import RunRecord


def summary_rows(records: Mapping[str, RunRecord]) -> list[dict[str, Any]]:
    """One row per policy: the numbers of the side-by-side table."""
    rows = []
    for name, rec in records.items():
        rows.append(
            {
                "policy": name,
                "completion_time_s": rec.completion_time_s,
                "pre_training_loss": rec.pre_training_loss,
                "final_loss": rec.final_loss,
                "energy_j": rec.energy.get("total_j", 0.0),
                "bytes_moved": rec.bytes_moved,
                "active_last_epoch": len(rec.epochs[-1].active) if rec.epochs else 0,
                "wall_s": rec.timings.get("wall_s", 0.0),
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown side-by-side table (one column per policy), plus NE-vs-AR ratios when both ran."""
    by = {r["policy"]: r for r in rows}
    names = list(by)
    lines = ["| metric | " + " | ".join(n.upper() for n in names) + " |", "|---|" + "---|" * len(names)]

    def fmt(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    spec = [
        ("completion time (virtual s)", "completion_time_s", ",.1f", 1.0),
        ("pre-training loss", "pre_training_loss", ".4f", 1.0),
        ("final loss", "final_loss", ".4f", 1.0),
        ("energy (kJ)", "energy_j", ",.2f", 1e3),
        ("bytes moved (MB)", "bytes_moved", ",.1f", 1e6),
        ("nodes in last epoch", "active_last_epoch", "d", 1.0),
        ("wall time (s)", "wall_s", ".1f", 1.0),
    ]
    for label, key, f, div in spec:
        vals = [fmt(by[n][key] / div if div != 1.0 and by[n][key] is not None else by[n][key], f) for n in names]
        lines.append(f"| {label} | " + " | ".join(vals) + " |")
    if "ne" in by and "ar" in by:
        ne, ar = by["ne"], by["ar"]
        out = ["", "NE vs AR:"]
        if ar["completion_time_s"]:
            out.append(f"  completion time {100 * (ne['completion_time_s'] / ar['completion_time_s'] - 1):+.1f} %")
        if ne["final_loss"] is not None and ar["final_loss"]:
            out.append(f"  final loss {100 * (ne['final_loss'] / ar['final_loss'] - 1):+.2f} %")
        if ar["energy_j"]:
            out.append(f"  energy {100 * (ne['energy_j'] / ar['energy_j'] - 1):+.1f} %")
        if ar["bytes_moved"]:
            out.append(f"  bytes moved {100 * (ne['bytes_moved'] / ar['bytes_moved'] - 1):+.1f} %")
        lines += out
    return "\n".join(lines)
