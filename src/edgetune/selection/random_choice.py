"""Random selection: NE's count schedule (Eq. 1 of the node-elimination paper, 000) with a seeded random choice.

The baseline every client-selection paper starts from: FedAvg (McMahan et al., AISTATS 2017) samples
its clients uniformly at random. To isolate *which* nodes NE removes from *how many*, ``random``
removes exactly Eq. 1's ``n = floor((|N| - 1) / (T - 1))`` nodes after every epoch but the last, as NE
does, but picks them uniformly at random from the active nodes (drawn from the policy's own
generator, :attr:`~edgetune.selection.base.PolicyContext.rng`). Nodes that did not report are removed
first, within the same budget, as under NE; at least one node always stays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edgetune.selection.base import MetricsTable, SelectionPolicy, register_policy
from edgetune.selection.elimination import elimination_count


@register_policy
class RandomChoice(SelectionPolicy):
    """Eq. 1's count, a uniformly random choice of whom."""

    name = "random"

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """Drop the silent nodes, then random ones, ``elimination_count`` in all."""
        if epoch >= epochs:
            return list(active)
        n = elimination_count(n_initial, epochs)
        silent = sorted((i for i in active if i not in scores), reverse=True)
        gone = set(silent[: min(n, len(active) - 1)])
        reported = sorted(i for i in active if i in scores)
        budget = min(n - len(gone), len(reported) - 1)
        if budget > 0:
            picks = self.context.rng.choice(len(reported), size=budget, replace=False)
            gone |= {reported[int(k)] for k in picks}
        return [i for i in active if i not in gone]
