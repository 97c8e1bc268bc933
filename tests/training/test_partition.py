"""Validation split held out, equal IID shards, Dirichlet non-IID shards."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.training.corpus import Document
from edgetune.training.partition import (
    DataConfig,
    build_finetune_data,
    derive_job_data,
    make_partitioner,
    partition_kwargs,
    run_streams,
)
from tests.training.helpers import CharTokenizer, synthetic_data, synthetic_docs


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
    data = build_finetune_data(
        docs, tok, DataConfig(block_len=16, train_tokens=400, val_tokens=160), np.random.default_rng(3)
    )

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
        DataConfig(block_len=1, train_tokens=640, val_tokens=640)
    with pytest.raises(InputError):
        DataConfig(block_len=64, train_tokens=10, val_tokens=640)
    data = synthetic_data(train_tokens=640, val_tokens=320, block_len=32)
    assert data.train.shape == (20, 32) and data.val.shape == (10, 32)
    assert data.train_category.shape == (20,)


@pytest.mark.parametrize("partition", ["iid", "dirichlet"])
def test_job_data_is_the_seed_tree_and_what_the_inprocess_engine_trains_on(partition: str) -> None:
    import copy

    from edgetune.engines.inprocess import build_inprocess
    from edgetune.fleet.generate import generate_fleet
    from tests.training.helpers import tiny_model

    docs = synthetic_docs(200, np.random.default_rng(1))
    cfg = DataConfig(block_len=16, train_tokens=16 * 20, val_tokens=64)
    kwargs = partition_kwargs(partition, 0.3)
    assert kwargs == ({"alpha": 0.3} if partition == "dirichlet" else {})
    got = derive_job_data(5, CharTokenizer(), cfg, partition, kwargs, 4, docs)
    # by hand: default_rng(seed).spawn(3) -> fleet, data, run; run.spawn(4)[2] -> the partition stream
    _, data_rng, run_rng = np.random.default_rng(5).spawn(3)
    data = build_finetune_data(docs, CharTokenizer(), cfg, data_rng)
    parts = make_partitioner(partition, **kwargs).split(data.train_category, 4, copy.deepcopy(run_rng).spawn(4)[2])
    np.testing.assert_array_equal(got.data.train, data.train)
    np.testing.assert_array_equal(got.data.val, data.val)
    assert len(got.partitions) == 4
    for a, b in zip(got.partitions, parts, strict=True):
        np.testing.assert_array_equal(a, b)
    assert got.partitioner.describe() == make_partitioner(partition, **kwargs).describe()
    # streams.run is left untouched: the in-process engine derives the same partitions from a copy
    assert run_streams(copy.deepcopy(got.streams.run)).train.integers(1 << 30) == run_rng.spawn(4)[3].integers(1 << 30)
    fleet = generate_fleet(4, "normal", got.streams.fleet, seed=5)
    engine = build_inprocess(fleet, copy.deepcopy(got.streams.run), tiny_model(), got.data, None, partition, kwargs)
    for k, nid in enumerate(fleet.node_ids):
        np.testing.assert_array_equal(engine.partitions[nid], got.partitions[k])
