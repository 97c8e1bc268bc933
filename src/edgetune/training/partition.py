"""The fine-tuning data set: held-out validation split, fixed-length token blocks, node partitions.

Pipeline (:func:`build_finetune_data`):

1. The domain documents are shuffled with the ``rng`` passed in; whole documents go to the
   validation split until it holds ``val_tokens`` tokens, then to the training split until it holds
   ``train_tokens``. Splitting by document means no text is in both; the validation split is never
   trained on (only :meth:`edgetune.engines.inprocess.InProcessEngine.evaluate` reads it).
2. Within each category, documents are joined with the end-of-text token and cut into blocks of
   ``block_len`` tokens (the tail shorter than a block is dropped). Every block has the same length,
   so the mean loss over blocks is the mean loss over tokens.
3. The training blocks are partitioned over the nodes by a registered :class:`Partitioner`:

   * ``iid`` (the paper's equal sharding, Sec. III-B): shuffle, then ``floor(B / N)`` blocks to every
     node (the remainder, fewer than N blocks, is not used), so partitions are exactly equal;
   * ``dirichlet`` (non-IID, beyond the paper): for every category c, node shares
     ``p_c ~ Dirichlet(alpha * 1_N)`` split that category's blocks; small ``alpha`` gives each node a
     few categories (and unequal sizes). Every node gets at least one block.

The seed tree of a job (:func:`derive_job_data`, the one place that states it)::

    fleet, data, run = default_rng(seed).spawn(3)                    # JobStreams
    network, monitor, partition, train = copy(run).spawn(4)          # RunStreams, one per run
    data split = build_finetune_data(docs, tokenizer, config, data)
    partitions = make_partitioner(kind, **kwargs).split(categories, n_nodes, partition)

Node ``k`` of the fleet (file order) holds ``partitions[k]``. The main job
(:func:`edgetune.training.job.run_job`), the in-process engine
(:func:`edgetune.engines.inprocess.build_inprocess`, which spawns the :class:`RunStreams` of the
``run`` generator it is given) and the Flower task (:mod:`edgetune.flower._training_adapter`) all go
through these functions, so every engine trains on the same split and partitions for the same seed.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from edgetune.errors import InputError
from edgetune.training.corpus import Document, fortune_documents
from edgetune.training.tokenizer import TextTokenizer

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class DataConfig:
    """Sizes of the fine-tuning splits (tokens) and the block length (no defaults: a run's come from its
    ``[task]``, :class:`edgetune.training.spec.TrainingSpec`)."""

    block_len: int
    train_tokens: int
    val_tokens: int

    def __post_init__(self) -> None:
        if self.block_len < 2:
            raise InputError("block_len", self.block_len, "must be at least 2")
        if self.train_tokens < self.block_len:
            raise InputError("train_tokens", self.train_tokens, "must hold at least one block")
        if self.val_tokens < self.block_len:
            raise InputError("val_tokens", self.val_tokens, "must hold at least one block")


@dataclass(frozen=True)
class FinetuneData:
    """Token blocks of the training and validation splits.

    Attributes
    ----------
    train : ndarray of int64, shape (B, block_len)
    train_category : ndarray of int64, shape (B,)
        Category index of each training block (into ``categories``).
    val : ndarray of int64, shape (V, block_len)
    categories : tuple of str
    """

    train: IntArray
    train_category: IntArray
    val: IntArray
    categories: tuple[str, ...]

    @property
    def block_len(self) -> int:
        """Tokens per block."""
        return int(self.train.shape[1])


def _blocks(ids: list[list[int]], eos_id: int, block_len: int) -> IntArray:
    flat: list[int] = []
    for seq in ids:
        flat.extend(seq)
        flat.append(eos_id)
    n = len(flat) // block_len
    return np.asarray(flat[: n * block_len], dtype=np.int64).reshape(n, block_len)


def _take_until(docs: Sequence[Document], lengths: Sequence[int], start: int, budget: int) -> int:
    """Index after the documents from ``start`` whose token count (+1 for EOS) first reaches ``budget``."""
    total, k = 0, start
    while k < len(docs) and total < budget:
        total += lengths[k] + 1
        k += 1
    return k


def build_finetune_data(
    docs: Sequence[Document], tokenizer: TextTokenizer, config: DataConfig, rng: np.random.Generator
) -> FinetuneData:
    """Split ``docs`` into validation and training blocks (see the module docstring)."""
    if not docs:
        raise InputError("fine-tuning corpus", 0, "no documents")
    order = rng.permutation(len(docs))
    shuffled = [docs[int(k)] for k in order]
    ids = tokenizer.encode_batch([d.text for d in shuffled])
    lengths = [len(x) for x in ids]
    # Overshoot by a block per category so the dropped tails do not leave the split short.
    categories = tuple(sorted({d.category for d in docs}))
    slack = config.block_len * len(categories)
    v_end = _take_until(shuffled, lengths, 0, config.val_tokens + slack)
    t_end = _take_until(shuffled, lengths, v_end, config.train_tokens + slack)

    def blocks_of(lo: int, hi: int) -> tuple[IntArray, IntArray]:
        out, cats = [], []
        for ci, cat in enumerate(categories):
            sel = [ids[k] for k in range(lo, hi) if shuffled[k].category == cat]
            b = _blocks(sel, tokenizer.eos_id, config.block_len)
            out.append(b)
            cats.append(np.full(len(b), ci, dtype=np.int64))
        return np.concatenate(out), np.concatenate(cats)

    val, _ = blocks_of(0, v_end)
    train, train_cat = blocks_of(v_end, t_end)
    n_val = max(1, config.val_tokens // config.block_len)
    n_train = max(1, config.train_tokens // config.block_len)
    if len(val) < n_val or len(train) < 1:
        raise InputError("fine-tuning corpus", len(docs), "too small for the requested split sizes")
    vsel = np.sort(rng.permutation(len(val))[:n_val])
    tsel = np.sort(rng.permutation(len(train))[: min(n_train, len(train))])
    return FinetuneData(train=train[tsel], train_category=train_cat[tsel], val=val[vsel], categories=categories)


class Partitioner(ABC):
    """Splits training blocks over nodes."""

    name: str = "abstract"

    @abstractmethod
    def split(self, categories: IntArray, n_nodes: int, rng: np.random.Generator) -> list[IntArray]:
        """Block indices of each node (``n_nodes`` disjoint, non-empty, sorted arrays)."""

    def describe(self) -> dict[str, Any]:
        """For the run record."""
        return {"partition": self.name}


PARTITIONERS: dict[str, type[Partitioner]] = {}


def register_partitioner(cls: type[Partitioner]) -> type[Partitioner]:
    """Class decorator: make a partitioner available under ``cls.name``."""
    PARTITIONERS[cls.name] = cls
    return cls


def make_partitioner(name: str, **kwargs: Any) -> Partitioner:
    """Build a registered partitioner; unknown names raise :class:`InputError`."""
    try:
        cls = PARTITIONERS[name]
    except KeyError:
        choices = ", ".join(sorted(PARTITIONERS))
        raise InputError("--partition", name, f"unknown partition; choose from {choices}") from None
    return cls(**kwargs)


def _check_enough(n_blocks: int, n_nodes: int) -> None:
    if n_nodes < 1:
        raise InputError("nodes", n_nodes, "need at least one node")
    if n_blocks < n_nodes:
        raise InputError("train_tokens", n_blocks, f"fewer training blocks than nodes ({n_nodes})")


@register_partitioner
class IIDPartitioner(Partitioner):
    """Equal random shards: ``floor(B / N)`` blocks per node."""

    name = "iid"

    def split(self, categories: IntArray, n_nodes: int, rng: np.random.Generator) -> list[IntArray]:
        """Shuffle and cut into equal parts."""
        n = len(categories)
        _check_enough(n, n_nodes)
        per = n // n_nodes
        perm = rng.permutation(n)[: per * n_nodes]
        return [np.sort(perm[k * per : (k + 1) * per]).astype(np.int64) for k in range(n_nodes)]


@register_partitioner
class DirichletPartitioner(Partitioner):
    """Label-skewed shards: per category, node shares drawn from ``Dirichlet(alpha)``.

    Parameters
    ----------
    alpha : float
        Concentration (> 0); large values approach IID, small ones give each node few categories.
    """

    name = "dirichlet"

    def __init__(self, alpha: float = 0.5) -> None:
        if not alpha > 0 or not np.isfinite(alpha):
            raise InputError("--alpha", alpha, "must be positive")
        self.alpha = float(alpha)

    def split(self, categories: IntArray, n_nodes: int, rng: np.random.Generator) -> list[IntArray]:
        """Per-category Dirichlet shares, then every empty node takes a block from the largest."""
        _check_enough(len(categories), n_nodes)
        parts: list[list[int]] = [[] for _ in range(n_nodes)]
        for c in np.unique(categories):
            idx = rng.permutation(np.flatnonzero(categories == c))
            share = rng.dirichlet(np.full(n_nodes, self.alpha))
            cuts = (np.cumsum(share)[:-1] * len(idx)).round().astype(np.int64)
            for k, chunk in enumerate(np.split(idx, cuts)):
                parts[k].extend(int(x) for x in chunk)
        for k in range(n_nodes):
            if not parts[k]:
                donor = max(range(n_nodes), key=lambda j: (len(parts[j]), -j))
                parts[k].append(parts[donor].pop())
        return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]

    def describe(self) -> dict[str, Any]:
        """Name and alpha."""
        return {"partition": self.name, "alpha": self.alpha}


def partition_kwargs(partition: str, alpha: float) -> dict[str, Any]:
    """Keyword arguments of :func:`make_partitioner` for a job's ``--partition`` and ``--alpha``."""
    return {"alpha": alpha} if partition == "dirichlet" else {}


class JobStreams(NamedTuple):
    """The generators a job's seed is split into: ``default_rng(seed).spawn(3)``, in this order.

    ``run`` is the parent of every run's :class:`RunStreams`: hand each run a ``copy.deepcopy`` of
    it, so all runs of the job (one per policy) draw the same numbers.
    """

    fleet: np.random.Generator
    data: np.random.Generator
    run: np.random.Generator


class RunStreams(NamedTuple):
    """The generators one run spawns from its ``run`` generator: ``run.spawn(4)``, in this order."""

    network: np.random.Generator
    monitor: np.random.Generator
    partition: np.random.Generator
    train: np.random.Generator


def job_streams(seed: int) -> JobStreams:
    """Split a job's seed into its fleet, data and run generators."""
    fleet, data, run = np.random.default_rng(seed).spawn(3)
    return JobStreams(fleet, data, run)


def run_streams(run_rng: np.random.Generator) -> RunStreams:
    """Spawn one run's network, monitor, partition and training generators from ``run_rng``."""
    network, monitor, partition, train = run_rng.spawn(4)
    return RunStreams(network, monitor, partition, train)


def partition_nodes(
    data: FinetuneData,
    partition: str,
    kwargs: Mapping[str, Any] | None,
    n_nodes: int,
    rng: np.random.Generator,
) -> tuple[Partitioner, list[IntArray]]:
    """The partitioner ``partition`` (with ``kwargs``) and its split of ``data``'s training blocks.

    ``rng`` is the :attr:`RunStreams.partition` generator; entry ``k`` is node ``k``'s blocks.
    """
    partitioner = make_partitioner(partition, **(kwargs or {}))
    return partitioner, partitioner.split(data.train_category, n_nodes, rng)


@dataclass(frozen=True)
class JobData:
    """A job's fine-tuning split and node partitions, and the generators they came from.

    Attributes
    ----------
    data : FinetuneData
    partitioner : Partitioner
    partitions : list of ndarray of int64
        Node ``k`` of the fleet (file order) holds ``data.train[partitions[k]]``.
    streams : JobStreams
        ``streams.run`` is untouched: pass a deep copy of it to each run
        (:func:`edgetune.engines.inprocess.build_inprocess` derives the same partitions from it).
    """

    data: FinetuneData
    partitioner: Partitioner
    partitions: list[IntArray]
    streams: JobStreams


def derive_job_data(
    seed: int,
    tokenizer: TextTokenizer,
    config: DataConfig,
    partition: str,
    kwargs: Mapping[str, Any] | None,
    n_nodes: int,
    docs: Sequence[Document] | None = None,
) -> JobData:
    """The data split and node partitions of a job (the seed tree in the module docstring).

    Parameters
    ----------
    seed : int
        The job's seed.
    tokenizer : TextTokenizer
        The pre-trained model's tokenizer.
    config : DataConfig
        Split sizes and block length.
    partition : str
        Registered partitioner name (``iid``, ``dirichlet``).
    kwargs : mapping or None
        Its keyword arguments (:func:`partition_kwargs`).
    n_nodes : int
        Number of partitions (the fleet's nodes).
    docs : sequence of Document, optional
        The domain corpus; default :func:`~edgetune.training.corpus.fortune_documents`.

    Returns
    -------
    JobData
    """
    streams = job_streams(seed)
    corpus = fortune_documents() if docs is None else docs
    data = build_finetune_data(corpus, tokenizer, config, streams.data)
    part_rng = run_streams(copy.deepcopy(streams.run)).partition
    partitioner, partitions = partition_nodes(data, partition, kwargs, n_nodes, part_rng)
    return JobData(data=data, partitioner=partitioner, partitions=partitions, streams=streams)
