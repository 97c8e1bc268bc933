"""The bigram / unigram floor on hand-computed counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgetune.training.floor import bigram_loss, fit_bigram_floor, unigram_loss


def test_bigram_by_hand() -> None:
    train = np.array([[0, 1, 0, 1]])  # pairs 0->1 twice, 1->0 once; c(0)=2, c(1)=1
    val = np.array([[0, 1, 1]])  # pairs 0->1, 1->1
    k, v = 0.5, 3
    p01 = (2 + k) / (2 + k * v)
    p11 = (0 + k) / (1 + k * v)
    assert bigram_loss(train, val, v, k) == pytest.approx(-(math.log(p01) + math.log(p11)) / 2)


def test_unigram_by_hand() -> None:
    train = np.array([[9, 1, 1, 2]])  # predicted tokens 1, 1, 2 (the first of a block is not predicted)
    val = np.array([[0, 1, 0]])
    k, v = 1.0, 10
    p1, p0 = (2 + k) / (3 + k * v), (0 + k) / (3 + k * v)
    assert unigram_loss(train, val, v, k) == pytest.approx(-(math.log(p1) + math.log(p0)) / 2)


def test_floor_learns_a_repeating_text() -> None:
    rng = np.random.default_rng(0)
    cycle = np.tile(np.arange(8), 64).reshape(32, 16)
    fl = fit_bigram_floor(cycle, cycle[:4], vocab=100)
    assert fl.loss < 0.1 < math.log(8) - 0.5 < fl.unigram_loss  # bigram knows the cycle, unigram does not
    noise = rng.integers(0, 100, size=(32, 16))
    assert fit_bigram_floor(noise, noise[:4], vocab=100).loss > 3.0
