"""The analog of the JQODI paper's Tables VI/VII: K actual ± std, K̂_exp, K̂_rob per model x bit-width.

For each model, L_max = L_a x (1 + margin) (the paper sets L_max near the full-precision loss L, a bit
above it for ResNet20). For each (model, bits):

* K actual: the per-seed epochs to reach L_max (mean ± std; ∞ if any seed never reaches it);
* power law: each seed's K̂ from its first ``prefix`` epochs; K̂_exp = mean, K̂_rob = mean + 1.2816 std
  (the 90 % quantile of a normal fit across seeds);
* learned: leave-one-seed-out — the γ-DNN and K-LSTM are trained on the other seeds' curves (all models
  and bit-widths) and predict the held-out seed's (K̂_exp, K̂_rob); the row reports their seed means.

Errors: |K̂_exp - K| / K per row (0 if both are ∞, 1 if exactly one is), and the coverage of K̂_rob
(share of seeds whose actual K <= K̂_rob).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgetune.split.estimators.curves import Curve, model_loss
from edgetune.split.estimators.learned import train_learned
from edgetune.split.estimators.powerlaw import predict_epochs


@dataclass(frozen=True)
class EstimateRow:
    """One line of the table."""

    model: str
    l_a: float
    l_max: float
    bits: int
    k_mean: float
    k_std: float
    gamma: float
    powerlaw_exp: float
    powerlaw_rob: float
    learned_exp: float
    learned_rob: float
    learned_gamma: float
    powerlaw_error: float
    learned_error: float
    powerlaw_coverage: float
    learned_coverage: float


def _mean_or_inf(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values and all(math.isfinite(v) for v in values) else math.inf


def _error(estimate: float, actual: float) -> float:
    if math.isinf(actual) and math.isinf(estimate):
        return 0.0
    if math.isinf(actual) or math.isinf(estimate):
        return 1.0
    return abs(estimate - actual) / actual


def _coverage(actual: Sequence[float], robust: float) -> float:
    return float(np.mean([a <= robust for a in actual]))


def targets_for(curves: Sequence[Curve], margin: float) -> tuple[dict[str, float], dict[str, float]]:
    """(L_a, L_max) per model."""
    models = sorted({c.model for c in curves})
    l_a = {m: model_loss(list(curves), m) for m in models}
    return l_a, {m: l_a[m] * (1.0 + margin) for m in models}


def estimate_table(
    curves: Sequence[Curve], prefix: int = 8, margin: float = 0.5, seed: int = 0, steps: int = 400
) -> list[EstimateRow]:
    """Build the Table VI/VII analog from recorded curves (several seeds per (model, bits))."""
    l_a, l_max = targets_for(curves, margin)
    seeds = sorted({c.seed for c in curves})
    learned: dict[tuple[str, int, int], tuple[float, float, float]] = {}
    for held in seeds:
        train = [c for c in curves if c.seed != held] or list(curves)
        est = train_learned(train, l_max, l_a, prefix, seed=seed, steps=steps)
        for c in curves:
            if c.seed == held:
                k_exp, k_rob = est.epochs(c.model, c.bits, c.losses[: prefix + 1], l_max[c.model])
                learned[(c.model, c.bits, held)] = (k_exp, k_rob, est.gamma(c.model, c.bits)[0])
    rows = []
    for model in sorted(l_a):
        for bits in sorted({c.bits for c in curves if c.model == model}):
            cs = [c for c in curves if c.model == model and c.bits == bits]
            actual = [c.epochs_to(l_max[model]) for c in cs]
            k_mean = _mean_or_inf(actual)
            k_std = float(np.std(actual)) if math.isfinite(k_mean) else math.nan
            pl = [predict_epochs(c.losses[: prefix + 1], l_max[model]) for c in cs]
            pl_exp = _mean_or_inf(pl)
            pl_rob = math.ceil(pl_exp + 1.2816 * float(np.std(pl))) if math.isfinite(pl_exp) else math.inf
            le = [learned[(model, bits, c.seed)] for c in cs]
            le_exp = _mean_or_inf([v[0] for v in le])
            le_rob = _mean_or_inf([v[1] for v in le])
            rows.append(
                EstimateRow(
                    model=model,
                    l_a=l_a[model],
                    l_max=l_max[model],
                    bits=bits,
                    k_mean=k_mean,
                    k_std=k_std,
                    gamma=float(np.mean([c.losses[0] - l_a[model] for c in cs])),
                    powerlaw_exp=pl_exp,
                    powerlaw_rob=float(pl_rob),
                    learned_exp=le_exp,
                    learned_rob=le_rob,
                    learned_gamma=float(np.mean([v[2] for v in le])),
                    powerlaw_error=_error(pl_exp, k_mean),
                    learned_error=_error(le_exp, k_mean),
                    powerlaw_coverage=_coverage(actual, float(pl_rob)),
                    learned_coverage=_coverage(actual, le_rob),
                )
            )
    return rows


def _k(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.1f}"


def format_table(rows: Sequence[EstimateRow], title: str = "") -> str:
    """The table as aligned text, with the mean errors underneath."""
    head = (
        f"{'model':9} {'L_a':>6} {'L_max':>6} {'bits':>4} {'K actual':>12} {'γ':>6} "
        f"{'PL K̂exp':>8} {'PL K̂rob':>8} {'NN K̂exp':>8} {'NN K̂rob':>8} {'NN γ̂':>6} {'PL err':>7} {'NN err':>7}"
    )
    lines = [title, head] if title else [head]
    for r in rows:
        k = "∞" if math.isinf(r.k_mean) else f"{r.k_mean:.1f}±{r.k_std:.1f}"
        lines.append(
            f"{r.model:9} {r.l_a:6.3f} {r.l_max:6.3f} {r.bits:4d} {k:>12} {r.gamma:6.2f} "
            f"{_k(r.powerlaw_exp):>8} {_k(r.powerlaw_rob):>8} {_k(r.learned_exp):>8} {_k(r.learned_rob):>8} "
            f"{r.learned_gamma:6.2f} {r.powerlaw_error:7.1%} {r.learned_error:7.1%}"
        )
    pl = np.mean([r.powerlaw_error for r in rows])
    nn_ = np.mean([r.learned_error for r in rows])
    pc = np.mean([r.powerlaw_coverage for r in rows])
    nc = np.mean([r.learned_coverage for r in rows])
    lines.append(
        f"mean |K̂exp-K|/K: power law {pl:.1%}, learned {nn_:.1%}; "
        f"K <= K̂rob coverage: power law {pc:.0%}, learned {nc:.0%}"
    )
    return "\n".join(lines)


def rows_to_json(rows: Sequence[EstimateRow]) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (∞ -> None, NaN -> None)."""
    out = []
    for r in rows:
        d = asdict(r)
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()})
    return out
