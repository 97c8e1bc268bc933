"""Oort-style guided selection (Lai, Zhu, Madhyastha & Chowdhury, "Oort: Efficient Federated Learning via
Guided Participant Selection", OSDI 2021, https://www.usenix.org/conference/osdi21/presentation/lai).

Oort's utility of client ``i`` (paper Sec. 4, Algorithm 1; defaults from its open-source selector):

    Util(i) = |B_i| sqrt( (1/|B_i|) sum_{k in B_i} Loss(k)^2 )          statistical utility
              + sqrt(0.1 ln R / L_i)                                     staleness (R: round, L_i: last round of i)
              x (T / t_i)^(1(T < t_i) alpha)                             system utility, alpha = 2

It exploits the ``(1 - eps) K`` highest utilities (sampling, with probability proportional to
utility, among the clients whose utility is at least ``c = 0.95`` times the K-th highest), explores
``eps K`` untried clients (fastest first; ``eps`` starts at 0.9, decays by 0.98 per round to 0.2), and
its *pacer* relaxes the preferred round duration ``T`` when the exploited utility stops growing:
``T`` is the duration at a percentile of the clients' durations (30 % at start), raised by 10 points
whenever the summed exploited utility of the last ``W`` rounds changed by at most 10 % against the
``W`` before.

edgetune's reading (each choice next to Oort's):

* ``|B_i|`` = the node's partition bytes (:attr:`PolicyContext.data_bytes`). Nodes report only their
  *mean* training loss, so ``sqrt(mean Loss^2)`` is approximated by that mean (a lower bound, by
  Jensen); engines that report no loss (the simulation) give a statistical utility of ``|B_i|``.
  The statistical term is divided by its maximum so that it and the staleness term share a scale.
* ``t_i`` = the predicted round time (:mod:`edgetune.selection.round_time`), Oort's measured
  "duration" of the client's last round refreshed with current network metrics.
* ``K`` = NE's count schedule, ``|N| - t floor((|N|-1)/(T-1))`` after epoch ``t`` (Eq. 1 of paper 000),
  so ``random``, ``ne`` and ``oort`` differ only in *which* nodes train; eliminated nodes are
  candidates again every epoch.
* ``W`` = 2 epochs (Oort: 20 rounds; our runs have ~10 epochs). Every node trains in epoch 1, so
  exploration only concerns nodes that never reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from edgetune.selection.base import MetricsTable, PolicyConfig, PolicyContext, SelectionPolicy, register_policy
from edgetune.selection.elimination import elimination_count
from edgetune.selection.round_time import predicted_round_time_s

ROUND_PENALTY = 2.0  # alpha
CUT_OFF = 0.95  # c
EPSILON_START, EPSILON_DECAY, EPSILON_MIN = 0.9, 0.98, 0.2
PACER_START_PCT, PACER_DELTA_PCT, PACER_WINDOW = 30.0, 10.0, 2


def system_utility(t_s: np.ndarray, preferred_s: float, alpha: float = ROUND_PENALTY) -> np.ndarray:
    """``(T / t_i)^alpha`` for nodes slower than ``T``, 1 otherwise."""
    t = np.maximum(np.asarray(t_s, dtype=np.float64), 1e-12)
    return np.where(t > preferred_s, (preferred_s / t) ** alpha, 1.0)


@register_policy
class Oort(SelectionPolicy):
    """Statistical x system utility, epsilon-exploration of untried nodes, and the pacer."""

    name = "oort"

    def __init__(self, config: PolicyConfig | None = None) -> None:
        super().__init__(config)
        self._last_round: dict[int, int] = {}
        self._epsilon = EPSILON_START
        self._pacer_pct = PACER_START_PCT
        self._history: list[float] = []
        self.preferred_s = math.inf

    @property
    def wants_standby(self) -> bool:
        """Eliminated nodes stay candidates."""
        return True

    def start(self, context: PolicyContext) -> None:
        """Reset the exploration rate, the pacer and the participation history."""
        super().start(context)
        self._last_round = {}
        self._epsilon = EPSILON_START
        self._pacer_pct = PACER_START_PCT
        self._history = []
        self.preferred_s = math.inf

    def utilities(self, epoch: int, metrics: MetricsTable) -> np.ndarray:
        """Oort's utility of every row of ``metrics`` after epoch ``epoch`` (updates the pacer first)."""
        ctx = self.context
        t = predicted_round_time_s(metrics, ctx)
        if len(self._history) >= 2 * PACER_WINDOW and len(self._history) % PACER_WINDOW == 0:
            last = sum(self._history[-2 * PACER_WINDOW : -PACER_WINDOW])
            now = sum(self._history[-PACER_WINDOW:])
            if abs(now - last) <= 0.1 * last:
                self._pacer_pct = min(100.0, self._pacer_pct + PACER_DELTA_PCT)
        self.preferred_s = float(np.percentile(t, self._pacer_pct, method="lower"))
        data = np.asarray([ctx.data_bytes.get(i, 1.0) for i in metrics.ids], dtype=np.float64)
        loss = metrics.losses()
        stat = data * np.where(np.isfinite(loss), loss, 1.0)
        stat = stat / stat.max() if stat.max() > 0 else stat
        for i in metrics.ids:
            self._last_round.setdefault(i, 1)  # every reporting node trained in epoch 1 or later
        seen = np.asarray([self._last_round[i] for i in metrics.ids], dtype=np.float64)
        stale = np.sqrt(0.1 * math.log(max(epoch, 1)) / seen)
        return np.asarray((stat + stale) * system_utility(t, self.preferred_s), dtype=np.float64)

    def select(
        self,
        epoch: int,
        epochs: int,
        n_initial: int,
        active: Sequence[int],
        scores: Mapping[int, float],
        metrics: MetricsTable | None = None,
    ) -> list[int]:
        """Exploit by utility, explore untried nodes, at NE's participation count."""
        if epoch >= epochs or metrics is None or not len(metrics):
            return list(active)
        ctx = self.context
        for i in active:
            if i in scores:
                self._last_round[i] = epoch
        k = max(n_initial - epoch * elimination_count(n_initial, epochs), 1)
        util = self.utilities(epoch, metrics)
        tried = set(metrics.ids)
        untried = [i for i in ctx.node_ids if i not in tried and i not in active]
        n_explore = min(round(self._epsilon * k), len(untried))
        n_exploit = min(k - n_explore, len(metrics.ids))
        order = np.argsort(-util, kind="stable")
        chosen: list[int] = []
        if n_exploit > 0:
            bar = CUT_OFF * util[order[n_exploit - 1]]
            pool = [int(j) for j in order if util[j] >= bar]
            p = util[pool] / util[pool].sum() if util[pool].sum() > 0 else None
            picks = ctx.rng.choice(len(pool), size=n_exploit, replace=False, p=p)
            chosen = [metrics.ids[pool[int(q)]] for q in picks]
            self._history.append(float(util[[pool[int(q)] for q in picks]].sum()))
        chosen += sorted(untried)[:n_explore]  # no duration known: in id order
        self._epsilon = max(EPSILON_MIN, self._epsilon * EPSILON_DECAY)
        return sorted(chosen) if chosen else list(active)

    def describe(self) -> dict[str, object]:
        """Oort's constants for the record."""
        return {
            **super().describe(),
            "oort": {
                "round_penalty": ROUND_PENALTY,
                "cut_off": CUT_OFF,
                "epsilon": [EPSILON_START, EPSILON_DECAY, EPSILON_MIN],
                "pacer": {"start_pct": PACER_START_PCT, "delta_pct": PACER_DELTA_PCT, "window": PACER_WINDOW},
            },
        }
