"""``adaptive`` (ours, beyond the paper): keep the nodes that bring the most data per second of epoch time.

NE ranks nodes by an equal-weight PerfScore (Eq. 2-3) and removes Eq. 1's fixed count. Two things
follow that cost time (docs/selection.md): a near-dead link moves a node's score by at most one
weight (0.2), so it can rank mid-table and hold up every epoch; and the count is the same whether
the slowest node costs a second or an hour. ``adaptive`` instead reasons in seconds and bytes:

1. **Predicted round time** ``t_i`` of every node that has trained at least once, active or not,
   from the northbound metrics and its last measured training time through the simulator's own
   transfer model (N1-N2, :mod:`edgetune.selection.round_time`). An epoch lasts about as long as its
   slowest node: a set ``S`` costs ``tau(S) = max_{i in S} t_i``.
2. **Contribution per second.** A set brings ``D(S) = sum_{i in S} |B_i|`` bytes of training data
   (:attr:`PolicyContext.data_bytes`). Sort by ``t_i``; among the prefixes ``S_k`` (the k fastest)
   whose data is at least ``min_data_fraction`` of the fleet's, choose the one that maximises
   ``D(S_k) / tau(S_k)``. Comparing neighbours, the slowest node of ``S_k`` goes exactly when the
   fraction of the epoch time it saves, ``(tau_k - tau_{k-1}) / tau_k``, exceeds the fraction of the
   data it takes away, ``|B_k| / D(S_k)``: how many go follows from the time saved, not from Eq. 1.
   The floor (default three quarters of the fleet's data; one half cost ~1 % of final loss in our
   in-process runs, docs/results.md) bounds what elimination can cost in accuracy, which matters
   most when partitions are not IID.
3. **Rejoining.** Eliminated nodes are candidates every epoch on their current network metrics, so a
   node whose link recovered comes back.
4. **Honest under noise (hysteresis).** A node outside the current set counts with ``t_i (1 + m)``
   (``m = 0.2``): it displaces a member only when clearly faster, so measurement noise on two nodes
   of similar speed does not make them swap every epoch. The SDN monitor already smooths its
   metrics (EWMA); nodes that did not report have no metrics and are not chosen.

A node is therefore dropped after the first epoch in which its round time is known, i.e. after
epoch 1 (every node trains in epoch 1 under Algorithm 1), whenever dropping it pays for itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgetune.errors import InputError
from edgetune.selection.base import MetricsTable, PolicyConfig, SelectionPolicy, register_policy
from edgetune.selection.round_time import predicted_round_time_s

#: Floor on the share of the fleet's training data an epoch keeps.
MIN_DATA_FRACTION = 0.75
#: Hysteresis margin m: a node outside the current set counts as (1 + m) times slower.
HYSTERESIS = 0.2


def best_prefix(t_s: np.ndarray, data: np.ndarray, min_data: float) -> int:
    """Size ``k`` of the prefix (rows already sorted by ``t_s`` ascending) maximising ``D_k / tau_k``.

    Only prefixes with ``D_k >= min_data`` count; if none reaches it, all rows are kept.

    >>> best_prefix(np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 1.0]), 1.0)
    2
    """
    n = len(t_s)
    if n == 0:
        return 0
    cum = np.cumsum(data)
    ok = cum >= min_data * (1 - 1e-12)
    if not ok.any():
        return n
    rate = np.where(ok, cum / np.maximum(t_s, 1e-12), -np.inf)
    return int(np.argmax(rate)) + 1  # first maximum: the smallest set among equals


@register_policy
class Adaptive(SelectionPolicy):
    """Contribution per second with a time-saved elimination count, rejoining and hysteresis.

    Parameters
    ----------
    config : PolicyConfig, optional
        Eq. 2-3 settings, used only for the recorded PerfScores.
    min_data_fraction : float
        Floor on the fraction of the fleet's data that trains each epoch, in (0, 1].
    hysteresis : float
        Margin ``m`` >= 0 (see the module docstring).
    """

    name = "adaptive"

    def __init__(
        self,
        config: PolicyConfig | None = None,
        min_data_fraction: float = MIN_DATA_FRACTION,
        hysteresis: float = HYSTERESIS,
    ) -> None:
        super().__init__(config)
        if not 0 < min_data_fraction <= 1:
            raise InputError("min_data_fraction", min_data_fraction, "must be in (0, 1]")
        if not hysteresis >= 0:
            raise InputError("hysteresis", hysteresis, "must be non-negative")
        self.min_data_fraction = min_data_fraction
        self.hysteresis = hysteresis

    @property
    def wants_standby(self) -> bool:
        """Eliminated nodes are candidates every epoch (rejoining)."""
        return True

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """The prefix of nodes by predicted round time that brings the most data per second."""
        if epoch >= epochs or metrics is None or not len(metrics):
            return list(active)
        ctx = self.context
        t = predicted_round_time_s(metrics, ctx)
        current = set(active)
        outside = np.asarray([i not in current for i in metrics.ids])
        t_eff = np.where(outside, t * (1 + self.hysteresis), t)
        data = np.asarray([ctx.data_bytes.get(i, 0.0) for i in metrics.ids], dtype=np.float64)
        total = float(sum(ctx.data_bytes.values())) or float(data.sum())
        order = np.lexsort((np.asarray(metrics.ids), t_eff))  # by time, ties by id
        k = best_prefix(t_eff[order], data[order], self.min_data_fraction * total)
        return sorted(metrics.ids[int(j)] for j in order[:k])

    def describe(self) -> dict[str, object]:
        """Knobs for the record."""
        return {**super().describe(), "min_data_fraction": self.min_data_fraction, "hysteresis": self.hysteresis}
