"""Retry backoff for nodes that keep failing: a dead node is not asked again every epoch (every policy).

Algorithm 1 (paper 000) says nothing of failures. A policy that keeps every node (All Resources, or
node elimination when Eq. 1 gives n = 0) would otherwise ask a dead node again in every epoch, and
on a real network every such ask costs a round timeout. The rule, applied by the orchestrator loop
for every policy: after a node's ``k``-th failure in a row it sits out the next ``2**(k-1) - 1``
epochs, then is asked again (it stays in the policy's active set all along)::

    failures in a row   1   2   3   4   5   ...
    epochs sat out      0   1   3   7   15  ...

So a node that crashed once is asked again at once; a node down for epochs 4-6 is asked in 4, 5
and 7 and is back from 7; a dead node is asked O(log T) times in T epochs. An epoch it sits out is
recorded in ``failed`` (reason ``"not asked: ..."``), so policies treat it as a node that did not
report (node elimination drops it first); a reply resets its count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


def epochs_out(streak: int) -> int:
    """Epochs a node sits out after its ``streak``-th failure in a row (``2**(streak-1) - 1``)."""
    return (1 << min(max(streak - 1, 0), 30)) - 1


@dataclass
class RetryBackoff:
    """Failure streaks and the epoch each failing node is asked again.

    Attributes
    ----------
    streak : dict
        Node id -> failures in a row (absent: its last ask was answered).
    retry_at : dict
        Node id -> first epoch it is asked again.
    """

    streak: dict[int, int] = field(default_factory=dict)
    retry_at: dict[int, int] = field(default_factory=dict)

    def resting(self, epoch: int, active: Iterable[int]) -> dict[int, str]:
        """The nodes of ``active`` that sit ``epoch`` out, with the reason the record gives."""
        out: dict[int, str] = {}
        if not self.retry_at:
            return out
        for i in active:
            at = self.retry_at.get(i, 0)
            if at > epoch:
                out[i] = f"not asked: failed {self.streak[i]} epochs in a row, asked again in epoch {at}"
        return out

    def update(self, epoch: int, failed: Iterable[int], replied: Iterable[int]) -> None:
        """After ``epoch``: count the failures of the nodes that were asked, forget the ones that replied."""
        for i in replied if self.streak else ():
            self.streak.pop(i, None)
            self.retry_at.pop(i, None)
        for i in failed:
            k = self.streak.get(i, 0) + 1
            self.streak[i] = k
            self.retry_at[i] = epoch + 1 + epochs_out(k)
