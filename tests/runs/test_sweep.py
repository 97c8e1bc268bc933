"""The policy sweep of ``edgetune compare``: paired cells, every run through runs.execute.run."""

from __future__ import annotations

import dataclasses

import pytest

from edgetune.reporting.compare import SweepRow, cell_targets, paired_aims
from edgetune.runs.spec import spec_from_dict
from edgetune.runs.sweep import run_sweep

SIM = {"run": {"engine": "simulated", "epochs": 4}}
INPROC = {
    "run": {"engine": "inprocess", "epochs": 3, "target_loss": 100.0},
    "task": {"model": "tiny", "pretrain_steps": 2, "train_tokens": 1280, "val_tokens": 256},
    "inprocess": {"host_seconds_per_token": 1e-4, "threads": 1},
}


def test_simulated_sweep_pairs_policies_on_one_fleet_and_seed() -> None:
    seen: list[SweepRow] = []
    rows = run_sweep(spec_from_dict(SIM), [6, 9], ["limited"], [0, 1], ("ne", "ar", "adaptive"), on_row=seen.append)
    assert seen == rows and len(rows) == 2 * 2 * 3
    assert [(r.nodes, r.seed, r.policy) for r in rows[:4]] == [
        (6, 0, "ne"),
        (6, 0, "ar"),
        (6, 0, "adaptive"),
        (6, 1, "ne"),
    ]
    for r in rows:
        assert len(r.end_s) == 4 and r.end_s[-1] == r.completion_time_s
        assert r.loss == (None,) * 4 and r.final_loss is None and r.time_to_target_s is None
    ar = [r for r in rows if r.policy == "ar"]
    ne = [r for r in rows if r.policy == "ne"]
    assert all(r.data_fraction == pytest.approx(1.0) for r in ar)
    # Eq. 1 with 6 nodes, T = 4: n = floor(5/3) = 1 after epochs 1-3: 6 + 5 + 4 + 3 = 18 of 24 node-epochs
    assert [r.data_fraction for r in ne if r.nodes == 6] == pytest.approx([18 / 24] * 2)
    # Paired: NE and AR train the same nodes in epoch 1 on the same fleet, network and seed, so epoch 1
    # lasts exactly as long for both.
    for a, n in zip(ar, ne, strict=True):
        assert a.end_s[0] == n.end_s[0]
    assert all(t == {"ar_x1.01": None, "common": None} for t in cell_targets(rows).values())


@pytest.mark.slow
def test_inprocess_sweep_records_loss_target_and_data(offline_corpora: object) -> None:
    base = spec_from_dict(INPROC)
    rows = run_sweep(base, [4], ["normal"], [0], ("ar", "ne"))
    ar, ne = rows
    assert ar.final_loss is not None and ar.loss[-1] == ar.final_loss
    assert ar.time_to_target_s == ar.end_s[0]  # loss 100 is met by the first epoch
    assert ar.data_fraction == 1.0 and ne.data_fraction == pytest.approx((4 + 3 + 2) / 12)  # n = floor(3/2) = 1
    aims = paired_aims(rows, "ne")
    assert aims["cells"] == 1 and aims["ar_x1.01"]["cells"] == 1
    # the same seed gives the same rows (deterministic clock)
    again = run_sweep(dataclasses.replace(base), [4], ["normal"], [0], ("ar",))
    assert again[0] == ar
