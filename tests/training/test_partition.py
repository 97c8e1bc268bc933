"""Validation split held out, equal IID shards, Dirichlet non-IID shards."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.training.corpus import Document
from edgetune.training.partition import DataConfig, build_finetune_data, make_partitioner
from tests.training.helpers import CharTokenizer, synthetic_data


def test_iid_equal_disjoint_shards() -> None:
    cats = np.zeros(50, dtype=np.int64)
    parts = make_partitioner("iid").split(cats, 12, np.random.default_rng(0))
    assert [len(p) for p in parts] == [4] * 12  # floor(50 / 12); 2 blocks unused
    flat = np.concatenate(parts)
    assert len(np.unique(flat)) == len(flat)


def test_dirichlet_covers_every_block_and_skews_categories() -> None:
    rng = np.random.default_rng(0)
    cats = np.repeat(np.arange(5), 40)
    parts = make_partitioner("dirichlet", alpha=0.1).split(cats, 8, rng)
    flat = np.sort(np.concatenate(parts))
    assert np.array_equal(flat, np.arange(200))
    assert all(len(p) > 0 for p in parts)
    # small alpha: most nodes are dominated by one category
    dominant = [np.bincount(cats[p], minlength=5).max() / len(p) for p in parts]
    assert np.median(dominant) > 0.6
    iidish = make_partitioner("dirichlet", alpha=1000.0).split(cats, 8, np.random.default_rng(0))
    assert max(len(p) for p in iidish) - min(len(p) for p in iidish) <= 4


def test_bad_partitions() -> None:
    with pytest.raises(InputError):
        make_partitioner("shuffle")
    with pytest.raises(InputError):
        make_partitioner("dirichlet", alpha=0.0)
    with pytest.raises(InputError):
        make_partitioner("iid").split(np.zeros(3, dtype=np.int64), 4, np.random.default_rng(0))


def test_validation_documents_never_in_training_blocks() -> None:
    # every document is one repeated unique letter pair, so blocks reveal which documents they hold
    letters = "abcdefghijklmnopqrstuvwxyz"
    docs = [Document("c", (letters[k % 26] + letters[k // 26]) * 10) for k in range(26 * 4)]
    tok = CharTokenizer()
    data = build_finetune_data(docs, tok, DataConfig(block_len=16, train_tokens=400, val_tokens=160),
                               np.random.default_rng(3))

    def pairs(blocks: np.ndarray) -> set[tuple[int, int]]:
        out = set()
        for row in blocks:
            for a, b in itertools.pairwise(row):
                if a and b:
                    out.add((int(a), int(b)))
        return out

    assert data.val.shape == (10, 16) and data.train.shape == (25, 16)
    shared = pairs(data.val) & pairs(data.train)
    # the only pairs in common would come from a document in both splits (each doc has 2 unique pairs)
    assert not {(a, b) for a, b in shared if (b, a) in shared}


def test_data_config_checks() -> None:
    with pytest.raises(InputError):
        DataConfig(block_len=1)
    with pytest.raises(InputError):
        DataConfig(block_len=64, train_tokens=10)
    data = synthetic_data(train_tokens=640, val_tokens=320, block_len=32)
    assert data.train.shape == (20, 32) and data.val.shape == (10, 32)
    assert data.train_category.shape == (20,)
