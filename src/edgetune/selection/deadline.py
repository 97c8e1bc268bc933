"""Deadline-based selection in the style of FedCS (Nishio & Yonetani, IEEE ICC 2019).

FedCS "selects the maximum possible number of clients who can complete the FL's download, update,
and upload steps within a certain deadline"; the operator fixes the deadline ``T_round`` for the
whole training and the server estimates each client's time from its resource information.

edgetune's version:

* **Predicted round time** ``t_i`` of every node from the northbound metrics and its last measured
  training time (:func:`~edgetune.selection.round_time.predicted_round_time_s`, N1-N2).
* **The deadline** (FedCS leaves it to the operator; we derive it from the fleet): after epoch 1,
  when every node has trained once, ``deadline = factor * median_i t_i`` over the nodes that
  reported, with ``factor = 2`` -- a node may take up to twice the typical node's round. It is then
  fixed for the run, as FedCS's ``T_round`` is.
* **Selection** after every epoch but the last: every node, active or eliminated (FedCS picks from
  all clients each round), whose current prediction fits the deadline trains next. If none fits, the
  fastest one does. FedCS's greedy ordering of sequential uploads does not apply: our uploads run in
  parallel, so "fits the deadline" is a per-node test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgetune.selection.base import MetricsTable, PolicyConfig, PolicyContext, SelectionPolicy, register_policy
from edgetune.selection.round_time import predicted_round_time_s

#: deadline = DEADLINE_FACTOR x the median predicted round time after epoch 1.
DEADLINE_FACTOR = 2.0


@register_policy
class Deadline(SelectionPolicy):
    """FedCS-style: keep every node whose predicted round time fits a fleet-derived deadline."""

    name = "deadline"

    def __init__(self, config: PolicyConfig | None = None) -> None:
        super().__init__(config)
        self.deadline_s: float | None = None

    @property
    def wants_standby(self) -> bool:
        """Eliminated nodes are candidates every epoch (their links may have recovered)."""
        return True

    def start(self, context: PolicyContext) -> None:
        """Forget the previous run's deadline."""
        super().start(context)
        self.deadline_s = None

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """Nodes whose predicted round time is at most the deadline."""
        if epoch >= epochs or metrics is None or not len(metrics):
            return list(active)
        t = predicted_round_time_s(metrics, self.context)
        if self.deadline_s is None:
            self.deadline_s = DEADLINE_FACTOR * float(np.median(t))
        keep = [i for i, ti in zip(metrics.ids, t.tolist(), strict=True) if ti <= self.deadline_s]
        if not keep:
            keep = [metrics.ids[int(np.argmin(t))]]
        return sorted(keep)

    def describe(self) -> dict[str, object]:
        """Deadline rule for the record."""
        return {**super().describe(), "deadline_factor": DEADLINE_FACTOR}
