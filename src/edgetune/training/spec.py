"""The training task: what every engine that really trains (in-process, Flower) must agree on.

One frozen dataclass, the ``[task]`` section of a run spec (:mod:`edgetune.runs.spec`). The
in-process engine and the Flower apps build the same model, data split and partitions from it, so the
same spec and seed train the same thing on every engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
from edgetune.training.partition import PARTITIONERS, DataConfig, partition_kwargs

#: Most tokens ``edgetune generate`` may produce (read by the CLI without importing torch).
MAX_NEW_TOKENS = 1024
#: Most tokens ``edgetune evaluate`` may score.
MAX_EVAL_TOKENS = 1_000_000

#: Optimisers by name (``training.aggregate.OPTIMIZERS`` builds them): ``sgd`` is Algorithm 1 line 13.
OPTIMIZER_NAMES: tuple[str, ...] = ("sgd", "adam")


@dataclass(frozen=True)
class TrainingSpec:
    """The fine-tuning task (defaults: the README's main job).

    Attributes
    ----------
    model : str
        ``smollm2-135m`` (the real SmolLM2-135M, GGUF), ``small`` (~5 M) or ``tiny`` (~1 M, GPT-2
        architecture, pre-trained here), a local Hugging Face model folder or a ``.gguf`` file
        (:func:`edgetune.training.sources.resolve_model`).
    corpus : str
        The fine-tuning text (``--data``): empty = the Debian fortunes; else a ``.txt`` (documents separated by
        blank lines), a ``.jsonl`` (``"text"`` field) or a folder of them
        (:func:`edgetune.training.userdata.load_documents`; category = file name).
    pretrain_steps : int
        Cloud pre-training steps; 0 = the model's default (``training.pretrain.DEFAULT_STEPS``).
    pretrain_seed : int
        Seed of the cloud pre-training (part of its cache key).
    lora : bool
        LoRA adapters (peft): only adapter tensors train and travel.
    partition : str
        ``iid`` (equal shards, the paper) or ``dirichlet`` (non-IID by domain category).
    alpha : float
        Dirichlet concentration.
    block_len, train_tokens, val_tokens : int
        Sequence length and the sizes of the training and held-out splits, in tokens.
    optimizer : str
        ``adam`` or ``sgd`` (server optimiser of FedSGD; local optimiser of FedAvg).
    local_steps : int
        1 = FedSGD, one full-partition gradient per epoch (Algorithm 1); K > 1 = FedAvg with K local steps.
    micro_batch : int
        Blocks per forward/backward.
    """

    model: str = "smollm2-135m"
    corpus: str = ""
    pretrain_steps: int = 0
    pretrain_seed: int = 0
    lora: bool = True
    partition: str = "iid"
    alpha: float = 0.5
    block_len: int = 128
    train_tokens: int = 3_072
    val_tokens: int = 2_048
    optimizer: str = "adam"
    local_steps: int = 1
    micro_batch: int = 4

    def __post_init__(self) -> None:
        from edgetune.training.model import MODEL_NAMES

        if self.model not in MODEL_NAMES:
            path = Path(self.model)
            if not (path.is_dir() or (path.suffix == ".gguf" and path.is_file())):
                names = ", ".join(MODEL_NAMES)
                raise InputError("model", self.model, f"unknown model; choose {names}, a model folder or a .gguf file")
        if self.corpus and not Path(self.corpus).exists():
            raise InputError("corpus", self.corpus, "no such file or folder")
        if self.partition not in PARTITIONERS:
            raise InputError("partition", self.partition, f"choose from {', '.join(sorted(PARTITIONERS))}")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise InputError("alpha", self.alpha, "must be positive")
        if self.optimizer not in OPTIMIZER_NAMES:
            raise InputError("optimizer", self.optimizer, f"choose from {', '.join(OPTIMIZER_NAMES)}")
        for name in ("local_steps", "micro_batch"):
            if getattr(self, name) < 1:
                raise InputError(name, getattr(self, name), "must be at least 1")
        if self.pretrain_steps < 0:
            raise InputError("pretrain_steps", self.pretrain_steps, "must be non-negative (0 = the model's default)")
        self.data  # noqa: B018  (DataConfig checks the split sizes)

    @property
    def data(self) -> DataConfig:
        """Split sizes and block length."""
        return DataConfig(block_len=self.block_len, train_tokens=self.train_tokens, val_tokens=self.val_tokens)

    @property
    def aggregator(self) -> str:
        """``fedsgd`` for one local step (Algorithm 1), ``fedavg`` for several."""
        return "fedsgd" if self.local_steps == 1 else "fedavg"

    @property
    def partition_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the partitioner (``alpha`` for ``dirichlet``)."""
        return partition_kwargs(self.partition, self.alpha)

    def documents(self) -> list[Any]:
        """The fine-tuning documents: :attr:`corpus`, or the fortunes when it is empty."""
        from edgetune.training.corpus import fortune_documents
        from edgetune.training.userdata import load_documents

        return load_documents(self.corpus) if self.corpus else fortune_documents()

    def pretrain_config(self) -> Any:
        """The cloud pre-training of :attr:`model` (a ``PretrainConfig``)."""
        from edgetune.training.pretrain import default_pretrain_config

        return default_pretrain_config(self.model, self.pretrain_steps or None, self.pretrain_seed)
