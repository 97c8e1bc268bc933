"""What the Flower apps need from the training package: one small adapter, same on both ends.

The ServerApp and every node build the same :class:`TrainingTask` from the same :class:`NodeTask`
(the run spec's ``[task]`` + seed + number of partitions; the server sends it in every message's
config, so a SuperNode needs nothing but its partition from its node config). The task gives the
initial global model, a node's local update (FedSGD: the gradient of its partition; FedAvg: the
delta of ``local_steps`` local steps), the server step and the validation loss.

This module imports only NumPy and the task dataclass (the thin ClientApp imports it); the tasks
import torch when built.
:func:`edgetune.flower.training_task.make_task` builds the training package's task
(:mod:`edgetune.training`: the in-process engine's models, tokenizer, corpora, partitions,
aggregators and LoRA) or falls back to :class:`SyntheticTask`, a tiny GPT-2 on a seeded synthetic
byte corpus (unit tests, hosts without the corpora). The record says which one ran.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgetune.training.spec import TrainingSpec

State = dict[str, NDArray[np.generic]]
#: Task implementations: the training package's, the synthetic one, or the first that works here.
BACKENDS: tuple[str, ...] = ("auto", "training", "synthetic")


@dataclass(frozen=True)
class NodeTask:
    """The fine-tuning task every node must agree on, sent in every message's config.

    It is the run spec's ``[task]`` section (:class:`~edgetune.training.spec.TrainingSpec`, the same
    dataclass the in-process engine trains from), the run's seed (``run.seed``: data split,
    partitions, LoRA initialisation) and the number of partitions (the fleet's size: node ``k`` of the
    fleet file holds partition ``k``), plus which implementation builds it (``flower.backend``:
    ``training`` = the training package, ``synthetic`` = :class:`SyntheticTask`, ``auto``).
    """

    task: TrainingSpec = field(default_factory=TrainingSpec)
    seed: int = 0
    num_partitions: int = 1
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.num_partitions < 1:
            raise ValueError(f"num_partitions must be at least 1, got {self.num_partitions}")
        if self.backend not in BACKENDS:
            raise ValueError(f"task backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")

    @property
    def aggregator(self) -> str:
        """``fedsgd`` (one local step) or ``fedavg`` (``task.local_steps`` > 1)."""
        return self.task.aggregator

    def to_config(self) -> dict[str, int | float | str | bool]:
        """Flat keys for a Flower ``ConfigRecord``: ``task.<field>``, ``seed``, ``num-partitions``, ``backend``."""
        out: dict[str, int | float | str | bool] = {f"task.{k}": v for k, v in asdict(self.task).items()}
        out.update({"seed": self.seed, "num-partitions": self.num_partitions, "backend": self.backend})
        return out

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NodeTask:
        """Inverse of :meth:`to_config` (other keys of the message config are ignored)."""
        names = [f.name for f in fields(TrainingSpec)]
        missing = [n for n in names if f"task.{n}" not in config]
        if missing or "num-partitions" not in config:
            raise ValueError(f"message config lacks the task keys {missing or ['num-partitions']}")
        task = TrainingSpec(**{n: config[f"task.{n}"] for n in names})
        return cls(task, int(config.get("seed", 0)), int(config["num-partitions"]), str(config.get("backend", "auto")))


@dataclass(frozen=True)
class LocalResult:
    """One node's epoch: its update (gradient or model delta) over ``n_tokens`` tokens, timings."""

    update: State
    n_tokens: int
    loss: float
    compute_s: float


class TrainingTask(ABC):
    """The model, data partitions and update rule shared by the server and the nodes."""

    backend: str = "abstract"

    def __init__(self, spec: NodeTask) -> None:
        self.spec = spec

    @abstractmethod
    def initial_state(self) -> State:
        """The global model before fine-tuning (deterministic in ``spec``)."""

    @abstractmethod
    def local(
        self, state: Mapping[str, NDArray[np.generic]], partition_id: int, lr: float, rng_state: str = ""
    ) -> LocalResult:
        """A node's update of ``state`` over partition ``partition_id`` (Algorithm 1 line 6).

        ``rng_state`` (a JSON NumPy bit-generator state, :meth:`rng_states`) seeds FedAvg's
        mini-batch sampling; FedSGD uses no randomness.
        """

    @abstractmethod
    def evaluate(self, state: Mapping[str, NDArray[np.generic]]) -> float:
        """Cross-entropy of ``state`` on the held-out validation split (line 15)."""

    def trainable_names(self) -> tuple[str, ...]:
        """Names of the tensors that train (and travel after distribution); default: all."""
        return tuple(self.initial_state())

    def rng_states(self, partition_ids: Sequence[int]) -> list[str]:
        """Server side: the sampling state each node of one round starts from (default: none)."""
        return ["" for _ in partition_ids]

    def aggregate(
        self,
        state: Mapping[str, NDArray[np.generic]],
        updates: Sequence[Mapping[str, NDArray[np.generic]]],
        lr: float,
        weights: Sequence[float] | None = None,
    ) -> State:
        """Lines 12-13 as FedSGD: ``params - lr * mean(updates)``, the mean weighted by ``weights``."""
        if not updates:
            return {k: np.array(v, copy=True) for k, v in state.items()}
        w = np.ones(len(updates)) if weights is None else np.asarray(weights, dtype=np.float64)
        w = w / w.sum()
        out: State = {}
        for name, value in state.items():
            if name not in updates[0]:
                out[name] = np.array(value, copy=True)
                continue
            mean = np.tensordot(w, np.stack([np.asarray(g[name], dtype=np.float64) for g in updates]), axes=1)
            out[name] = (np.asarray(value, dtype=np.float64) - lr * mean).astype(value.dtype)
        return out


class SyntheticTask(TrainingTask):
    """A tiny GPT-2 (transformers, no download) on a seeded synthetic byte-level corpus.

    For unit tests and hosts without the training corpora: plain SGD (``optimizer`` is ignored),
    ``block_len`` bytes per block, ``micro_batch`` blocks per forward/backward.

    The corpus is sentences of words drawn from a fixed vocabulary with a seeded generator; bytes are
    the tokens (vocabulary 256). Blocks of ``seq_len`` bytes; the last 10 % are the validation
    split; the rest is shuffled with ``seed`` and split equally into ``num_partitions`` (IID).
    """

    backend = "synthetic"
    _WORDS: tuple[str, ...] = (
        "edge",
        "node",
        "model",
        "epoch",
        "gradient",
        "cloud",
        "fleet",
        "train",
        "loss",
        "switch",
        "link",
        "delay",
        "bandwidth",
        "fortune",
        "wisdom",
        "the",
        "a",
        "of",
        "to",
        "and",
        "in",
        "is",
        "it",
        "you",
        "that",
        "he",
        "was",
        "for",
        "on",
        "are",
        "with",
        "as",
        "his",
        "they",
        "be",
        "at",
        "one",
        "have",
    )

    def __init__(self, spec: NodeTask) -> None:
        super().__init__(spec)
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.manual_seed(spec.seed)
        cfg = GPT2Config(
            vocab_size=256,
            n_positions=spec.task.block_len,
            n_embd=64,
            n_layer=2,
            n_head=2,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            tie_word_embeddings=False,
            bos_token_id=0,
            eos_token_id=0,
        )
        self._model = GPT2LMHeadModel(cfg)
        self._init = {k: v.detach().cpu().numpy().copy() for k, v in self._model.state_dict().items()}
        rng = np.random.default_rng(spec.seed)
        words = rng.choice(len(self._WORDS), size=800)
        text = " ".join(self._WORDS[w] for w in words).encode()
        blk = spec.task.block_len
        n_blocks = len(text) // blk
        blocks = np.frombuffer(text[: n_blocks * blk], dtype=np.uint8).reshape(n_blocks, blk).astype(np.int64)
        n_val = max(1, n_blocks // 10)
        self._val = blocks[-n_val:]
        train = blocks[:-n_val][rng.permutation(n_blocks - n_val)]
        self._parts = np.array_split(train, spec.num_partitions)

    def _load(self, state: Mapping[str, NDArray[np.generic]]) -> None:
        import torch

        self._model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})

    def initial_state(self) -> State:
        """Seeded random initialisation."""
        return {k: v.copy() for k, v in self._init.items()}

    def _loss(self, blocks: NDArray[np.int64]) -> Any:
        import torch

        x = torch.from_numpy(blocks)
        out = self._model(input_ids=x, labels=x)
        return out.loss

    def local(
        self, state: Mapping[str, NDArray[np.generic]], partition_id: int, lr: float = 0.0, rng_state: str = ""
    ) -> LocalResult:
        """Mean-loss gradient over the whole partition (batched, sample-weighted; FedSGD only)."""
        if not 0 <= partition_id < len(self._parts):
            raise ValueError(f"partition {partition_id} outside 0..{len(self._parts) - 1}")
        self._load(state)
        self._model.train()
        self._model.zero_grad(set_to_none=True)
        part = self._parts[partition_id]
        t0 = time.perf_counter()
        total = 0.0
        bs = self.spec.task.micro_batch
        for s in range(0, len(part), bs):
            batch = part[s : s + bs]
            loss = self._loss(batch) * (len(batch) / len(part))
            loss.backward()
            total += float(loss.detach())
        compute_s = time.perf_counter() - t0
        names = dict(self._model.named_parameters())
        grads: State = {}
        for k in state:
            p = names.get(k)
            if p is not None and p.grad is not None:
                grads[k] = p.grad.detach().cpu().numpy().astype(np.float32)
        return LocalResult(update=grads, n_tokens=int(part.size), loss=total, compute_s=compute_s)

    def evaluate(self, state: Mapping[str, NDArray[np.generic]]) -> float:
        """Validation cross-entropy (nats per token)."""
        import torch

        self._load(state)
        self._model.eval()
        with torch.no_grad():
            return float(self._loss(self._val))
