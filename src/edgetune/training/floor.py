"""The floor model: an add-k smoothed bigram fitted on the training tokens, scored on the held-out split.

A fine-tuned language model that does not beat a bigram count model on the same split has learned
little; the main job reports this floor beside the loss table. On the same blocks as the model::

    P(b | a) = (c(a, b) + k) / (c(a) + k V)

with counts over consecutive token pairs within the training blocks, ``V`` the vocabulary size and
``k`` chosen from :data:`K_GRID` by fitting on the first 90 % of the training blocks and scoring on
the last 10 % (the held-out split is never used to choose it). The loss is the mean ``-log P`` over
every predicted token of the validation blocks, as the model's loss is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Candidate smoothing constants.
K_GRID: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003)


@dataclass(frozen=True)
class BigramFloor:
    """Held-out losses (nats per token) of the bigram floor and of the add-``k`` unigram, and ``k``.

    With few training tokens and a large vocabulary (SmolLM2: 49,152 ids) most held-out pairs were
    never seen and the unigram is the stronger of the two; both are reported.
    """

    loss: float
    k: float
    unigram_loss: float


def unigram_loss(train: NDArray[np.int64], val: NDArray[np.int64], vocab: int, k: float) -> float:
    """Mean ``-log P(b)`` over the predicted tokens of ``val`` (add-``k`` counts from ``train``)."""
    counts = np.bincount(train[:, 1:].ravel().astype(np.int64), minlength=vocab).astype(np.float64)
    target = val[:, 1:].ravel().astype(np.int64)
    return float(np.mean(-np.log((counts[target] + k) / (counts.sum() + k * vocab))))


def _pairs(blocks: NDArray[np.int64], vocab: int) -> NDArray[np.int64]:
    return (blocks[:, :-1].astype(np.int64) * vocab + blocks[:, 1:].astype(np.int64)).ravel()


def bigram_loss(train: NDArray[np.int64], val: NDArray[np.int64], vocab: int, k: float) -> float:
    """Mean ``-log P(b | a)`` over the pairs of ``val`` with counts from ``train`` (add-``k``)."""
    tr = _pairs(train, vocab)
    keys, counts = np.unique(tr, return_counts=True)
    prev = np.bincount(train[:, :-1].ravel().astype(np.int64), minlength=vocab).astype(np.float64)
    va = _pairs(val, vocab)
    pos = np.searchsorted(keys, va)
    pos_c = np.minimum(pos, len(keys) - 1)
    pair_c = np.where(keys[pos_c] == va, counts[pos_c], 0).astype(np.float64)
    a = val[:, :-1].ravel().astype(np.int64)
    return float(np.mean(-np.log((pair_c + k) / (prev[a] + k * vocab))))


def fit_bigram_floor(train: NDArray[np.int64], val: NDArray[np.int64], vocab: int) -> BigramFloor:
    """The floor of the module docstring: ``k`` chosen on a training hold-out, loss on ``val``."""
    cut = max(1, round(0.9 * len(train)))
    fit, dev = (train[:cut], train[cut:]) if cut < len(train) else (train, train)
    best = min(K_GRID, key=lambda k: bigram_loss(fit, dev, vocab, k))
    best_uni = min(K_GRID, key=lambda k: unigram_loss(fit, dev, vocab, k))
    return BigramFloor(
        loss=bigram_loss(train, val, vocab, best), k=best, unigram_loss=unigram_loss(train, val, vocab, best_uni)
    )
