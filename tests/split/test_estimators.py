"""Estimators on synthetic curves: power-law recovery, learned predictors, the Table VI/VII analog."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgetune.split.estimators.curves import Curve, loss_jump, model_loss
from edgetune.split.estimators.learned import train_learned
from edgetune.split.estimators.powerlaw import fit_power_law, observed_epochs, predict_epochs
from edgetune.split.estimators.table import estimate_table, format_table, rows_to_json


def _law_curve(a: float, alpha: float, c: float, jump: float, epochs: int = 30) -> list[float]:
    return [c + a + jump] + [c + a * k ** (-alpha) for k in range(1, epochs + 1)]


def test_power_law_recovers_parameters_and_k() -> None:
    losses = _law_curve(2.0, 0.8, 0.3, 1.0)
    a, alpha, c = fit_power_law(losses[:9])
    assert (a, alpha, c) == pytest.approx((2.0, 0.8, 0.3), rel=1e-3)
    target = 0.5
    true_k = next(k for k in range(1, 1000) if 0.3 + 2.0 * k**-0.8 < target)
    assert predict_epochs(losses[:9], target) == true_k


def test_power_law_observed_and_unreachable() -> None:
    losses = _law_curve(2.0, 0.8, 0.3, 1.0)
    assert observed_epochs(losses, 1.5) == 2.0  # L(1) = 2.3, L(2) = 1.45
    assert predict_epochs(losses[:9], 1.5) == 2.0  # already visible in the prefix
    assert predict_epochs(losses[:9], 0.2) == math.inf  # below the asymptote


def _curves(seeds: int = 3) -> list[Curve]:
    rng = np.random.default_rng(0)
    out = []
    for model, base in (("m1", 0.3), ("m2", 0.5)):
        for bits, alpha in ((32, 1.0), (4, 0.7), (1, 0.05)):
            for seed in range(seeds):
                a = 2.0 * (1 + 0.05 * rng.standard_normal())
                losses = _law_curve(a, alpha, base if bits != 1 else 2.0, 1.0 + 4 / bits)
                out.append(Curve(model, bits, seed, losses, [0.0] * len(losses), [0.0] * 30, 0.0))
    return out


def test_model_loss_and_jump() -> None:
    curves = _curves()
    l_a = model_loss(curves, "m1")
    assert l_a == pytest.approx(min(np.mean([c.losses for c in curves if c.model == "m1" and c.bits == 32], 0)))
    c = next(c for c in curves if c.model == "m1" and c.bits == 4)
    assert loss_jump(c, l_a) == pytest.approx(c.losses[0] - l_a)


def test_learned_estimators_train_and_predict() -> None:
    curves = _curves()
    l_a = {"m1": model_loss(curves, "m1"), "m2": model_loss(curves, "m2")}
    targets = {m: v * 1.5 for m, v in l_a.items()}
    est = train_learned(curves, targets, l_a, prefix=5, steps=120)
    g_exp, g_rob = est.gamma("m1", 4)
    assert g_rob >= g_exp
    c = next(c for c in curves if c.model == "m2" and c.bits == 4)
    k_exp, k_rob = est.epochs("m2", 4, c.losses[:6], targets["m2"])
    assert 6 <= k_exp <= k_rob
    one_bit = next(c for c in curves if c.model == "m1" and c.bits == 1)
    assert est.epochs("m1", 1, one_bit.losses[:6], targets["m1"])[0] == math.inf


def test_table_rows() -> None:
    curves = _curves()
    rows = estimate_table(curves, prefix=5, margin=0.5, steps=80)
    assert len(rows) == 6
    by = {(r.model, r.bits): r for r in rows}
    assert by[("m1", 1)].k_mean == math.inf and by[("m1", 1)].powerlaw_exp == math.inf
    r = by[("m2", 4)]
    assert math.isfinite(r.k_mean) and r.powerlaw_error < 0.2
    text = format_table(rows, "title")
    assert "∞" in text and "coverage" in text
    assert rows_to_json(rows)[0]["model"] == "m1"
