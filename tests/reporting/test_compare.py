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


# -- issue 12: per-cell targets, time to target, the policy table and the paired aims -------------------
from edgetune.reporting.compare import (  # noqa: E402
    cell_targets,
    json_safe,
    paired_aims,
    policy_table,
    rows_csv,
    rows_from_json,
    rows_json,
    time_to,
)


def run(policy: str, seed: int, end_s: tuple[float, ...], loss: tuple[float | None, ...]) -> SweepRow:
    return SweepRow(
        setup="normal",
        nodes=12,
        seed=seed,
        policy=policy,
        completion_time_s=end_s[-1],
        energy_j=1.0,
        bytes_moved=0.0,
        last_epoch_nodes=1,
        final_loss=loss[-1],
        data_fraction=0.5,
        end_s=end_s,
        loss=loss,
    )


# Seed 0: AR ends at 5.0 (target AR x 1.01 = 5.05); NE never gets below 5.2; adaptive reaches 5.05 at 30 s.
# Seed 1: AR 4.0 (target 4.04) at 100 s; NE reaches it at 60 s; adaptive at 90 s.
CELLS = [
    run("ar", 0, (50.0, 100.0), (5.5, 5.0)),
    run("ne", 0, (40.0, 80.0), (5.6, 5.2)),
    run("adaptive", 0, (30.0, 60.0), (5.04, 5.06)),
    run("ar", 1, (50.0, 100.0), (4.5, 4.0)),
    run("ne", 1, (30.0, 60.0), (4.3, 4.03)),
    run("adaptive", 1, (45.0, 90.0), (4.6, 4.03)),
]


def test_time_to_is_the_first_epoch_at_or_below() -> None:
    r = CELLS[0]
    assert time_to(r, 5.5) == 50.0 and time_to(r, 5.0) == 100.0 and time_to(r, 4.9) is None
    assert time_to(run("x", 0, (1.0, 2.0), (None, 3.0)), 10.0) == 2.0  # an epoch without a loss never counts


def test_cell_targets_by_hand() -> None:
    t = cell_targets(CELLS)
    assert t[("normal", 12, 0)]["ar_x1.01"] == pytest.approx(5.05)
    # common: the largest of the policies' best losses: max(5.0, 5.2, 5.04) = 5.2 (every policy reaches it)
    assert t[("normal", 12, 0)]["common"] == 5.2
    assert t[("normal", 12, 1)]["common"] == 4.03
    no_loss = [run("ar", 0, (1.0,), (None,))]
    assert cell_targets(no_loss)[("normal", 12, 0)] == {"ar_x1.01": None, "common": None}


def test_paired_aims_by_hand() -> None:
    a = paired_aims(CELLS)
    assert a["cells"] == 2
    # AR x 1.01: seed 0 adaptive 30 s, NE never (infinitely late: 100 % sooner), AR 100 s (70 % sooner);
    # seed 1 (target 4.04): adaptive 90 s, NE 60 s (-50 %), AR 100 s (10 % sooner).
    t = a["ar_x1.01"]
    assert t["sooner_than_ne_median_pct"] == pytest.approx((100 - 50) / 2)
    assert t["sooner_than_ar_median_pct"] == pytest.approx((70 + 10) / 2)
    assert t["no_later_than_ar_pct"] == 100.0
    # final loss vs AR: +1.2 % and +0.75 %
    fl = a["final_loss_vs_ar_pct"]
    assert fl["median"] == pytest.approx((1.2 + 0.75) / 2) and fl["max"] == pytest.approx(1.2)
    assert fl["within_1pct"] == 50.0 and fl["within_2pct"] == 100.0


def test_policy_table_by_hand() -> None:
    table = {r.policy: r for r in policy_table(CELLS)}
    ne = table["ne"]
    assert ne.runs == 2
    # AR/NE completion: 100/80 and 100/60 -> geometric mean sqrt(1.25 * 1.6667)
    assert ne.ar_over_policy_geo == pytest.approx((1.25 * 100 / 60) ** 0.5)
    assert ne.gains_nothing_pct == 0.0 and table["ar"].gains_nothing_pct == 100.0
    assert table["adaptive"].slower_than_ne_pct == 50.0  # seed 1: 90 s > 60 s
    assert ne.reached == {"ar_x1.01": 1, "common": 2}
    assert ne.ttt_median_s["common"] == pytest.approx((80 + 60) / 2)


def test_rows_round_trip_and_csv_columns() -> None:
    assert rows_from_json(rows_json(CELLS)) == CELLS
    header, first, *_ = rows_csv(CELLS).splitlines()
    assert header.endswith("ttt_ar_x1.01_s,ttt_common_s") and "end_s" not in header
    assert first.endswith(",100.0,100.0")  # AR seed 0: 5.05 and 5.2 both first met at 100 s
    assert json_safe({"a": [float("nan"), float("-inf")]}) == {"a": [None, "-inf"]}
