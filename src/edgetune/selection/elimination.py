"""Node Elimination (NE), Algorithm 1 lines 8-11 with Eq. 1 of the node-elimination paper (000).

Eq. 1: after every epoch but the last, eliminate

    n = floor((|N| - 1) / (T - 1))

nodes, where |N| is the number of nodes at the start and T the number of epochs; the n lowest
PerfScores go (ties: the larger node id goes first), and at least one node always stays active.

The paper assumes |N| > T. With |N| < T, Eq. 1 gives n = 0 and NE trains every node in every epoch,
exactly like All Resources; with |N| = T it gives n = 1 and one node remains for the last epoch. We
keep the formula as written in both cases (docs/selection.md). With T = 1 nothing is eliminated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edgetune.selection.base import MetricsTable, SelectionPolicy, register_policy


def elimination_count(n_initial: int, epochs: int) -> int:
    """Eq. 1: nodes to eliminate after each epoch but the last."""
    if epochs <= 1 or n_initial <= 1:
        return 0
    return (n_initial - 1) // (epochs - 1)


def lowest_first(scores: Mapping[int, float]) -> list[int]:
    """Node ids from weakest to strongest; among equal scores the larger id is weaker."""
    return sorted(scores, key=lambda i: (scores[i], -i))


@register_policy
class NodeElimination(SelectionPolicy):
    """The paper's policy: drop the ``elimination_count`` weakest scorers after each epoch.

    With ``rejoin`` (beyond the paper, off by default) eliminated nodes are scored alongside the
    active ones on their latest network metrics and last measured training time, and the best
    ``|active| - n`` of all of them train next: a node whose conditions improved can come back.
    """

    name = "ne"

    @property
    def wants_standby(self) -> bool:
        """Eliminated nodes are candidates again only with ``rejoin``."""
        return self.config.rejoin

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """Active set of the next epoch."""
        if epoch >= epochs:
            return list(active)
        n = elimination_count(n_initial, epochs)
        if self.config.rejoin:
            keep = max(len(active) - n, 1)
            ranked = lowest_first(scores)
            best = set(ranked[len(ranked) - keep :])
            return sorted(best)
        scored = {i: scores[i] for i in active if i in scores}
        # A node that did not report this epoch (failed, timed out, vanished) has no score and ranks
        # below every scored node: it is eliminated first, within the same budget n. At least one
        # active node always stays, and it is a scored one whenever any node reported.
        failed = sorted((i for i in active if i not in scores), reverse=True)  # larger id first, as ties
        eliminated = set(failed[: min(n, len(active) - 1)])
        budget = n - len(eliminated)
        if budget > 0 and scored:
            eliminated |= set(lowest_first(scored)[: min(budget, len(scored) - 1)])
        return [i for i in active if i not in eliminated]
