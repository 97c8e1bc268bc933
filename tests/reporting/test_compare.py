"""Sweep summary arithmetic."""

from __future__ import annotations

import pytest

from edgetune.reporting.compare import SweepRow, summarize, summary_markdown


def row(policy: str, seed: int, t: float) -> SweepRow:
    return SweepRow(
        setup="normal",
        nodes=12,
        seed=seed,
        policy=policy,
        completion_time_s=t,
        energy_j=10.0,
        bytes_moved=0.0,
        last_epoch_nodes=3,
    )


def test_summary_pairs_ne_and_ar_by_seed() -> None:
    rows = [row("ne", 0, 100.0), row("ar", 0, 200.0), row("ne", 1, 300.0), row("ar", 1, 400.0)]
    (s,) = summarize(rows)
    assert s.ne_mean_s == 200.0 and s.ar_mean_s == 300.0
    assert s.ne_std_s == 100.0
    assert s.speedup == pytest.approx(1.5)
    assert s.reduction_pct == pytest.approx(100 / 3)
    assert s.best_seed_reduction_pct == pytest.approx(50.0)  # seed 0: 1 - 100/200
    assert "1.50x" in summary_markdown([s])
