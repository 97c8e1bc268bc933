"""All Resources (AR): the paper's baseline, the same in every respect but without elimination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edgetune.selection.base import MetricsTable, SelectionPolicy, register_policy


@register_policy
class AllResources(SelectionPolicy):
    """Every node trains every epoch; scores are still computed and recorded for comparison."""

    name = "ar"

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """Everyone stays."""
        return list(active)
