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

import numpy as np
from numpy.typing import NDArray

from edgetune.selection.base import MetricsTable, SelectionPolicy, register_policy
from edgetune.selection.ids import NodeValues


def elimination_count(n_initial: int, epochs: int) -> int:
    """Eq. 1: nodes to eliminate after each epoch but the last."""
    if epochs <= 1 or n_initial <= 1:
        return 0
    return (n_initial - 1) // (epochs - 1)


def lowest_first(scores: Mapping[int, float]) -> list[int]:
    """Node ids from weakest to strongest; among equal scores the larger id is weaker.

    >>> lowest_first({1: 0.5, 7: 0.2, 3: 0.5, 2: 0.9})
    [7, 3, 1, 2]
    """
    ids, values = _columns(scores)
    return ids[weakest_first(ids, values)].tolist()


def weakest_first(ids: NDArray[np.int64], scores: NDArray[np.float64]) -> NDArray[np.int64]:
    """Positions of ``ids`` from weakest to strongest score; ties: the larger id is weaker.

    The order of ``sorted(ids, key=lambda i: (score[i], -i))`` for finite scores, as one
    :func:`numpy.lexsort` (last key first: by score, then by descending id), or, where the ids ascend,
    one stable sort of the reversed scores (the same order, one sort instead of two).

    >>> weakest_first(np.array([1, 2, 3]), np.array([0.5, 0.1, 0.5])).tolist()
    [1, 2, 0]
    """
    ids = np.asarray(ids, dtype=np.int64)
    n = ids.shape[0]
    if n > 1 and bool(np.all(ids[1:] > ids[:-1])):  # ids ascending (fleet order): one stable sort
        # reversed, ties keep descending-id order under a stable sort
        return np.asarray(n - 1 - np.argsort(np.asarray(scores)[::-1], kind="stable"), dtype=np.int64)
    return np.asarray(np.lexsort((-ids, scores)), dtype=np.int64)


def _columns(scores: Mapping[int, float]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Id and score columns of ``scores`` (handed over by a :class:`NodeValues`)."""
    return NodeValues.from_mapping(scores).arrays()


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
            ids, values = _columns(scores)
            ranked = ids[weakest_first(ids, values)]
            return np.sort(ranked[len(ranked) - keep :]).tolist()  # list slicing semantics, as before
        act = np.asarray(active, dtype=np.int64).reshape(-1)
        table = NodeValues.from_mapping(scores)
        act_scores, scored = table.lookup(act)
        # A node that did not report this epoch (failed, timed out, vanished) has no score and ranks
        # below every scored node: it is eliminated first, within the same budget n. At least one
        # active node always stays, and it is a scored one whenever any node reported.
        gone = np.zeros(act.shape, dtype=bool)
        silent = np.flatnonzero(~scored)
        silent = silent[np.argsort(-act[silent], kind="stable")]  # larger id first, as ties
        drop = silent[: min(n, len(act) - 1)]
        gone[drop] = True
        budget = n - len(drop)
        have = np.flatnonzero(scored)
        if budget > 0 and len(have):
            weakest = have[weakest_first(act[have], act_scores[have])]
            gone[weakest[: min(budget, len(have) - 1)]] = True
        return act[~gone].tolist()
