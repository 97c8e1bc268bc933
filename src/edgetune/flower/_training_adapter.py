"""Bridge to :mod:`edgetune.training`: the in-process engine's model, data split and partitions.

:class:`TrainingPackageTask` takes the data split and the partitions from
:func:`edgetune.training.partition.derive_job_data`, the derivation the in-process main job
(:func:`edgetune.training.job.run_job`, :func:`edgetune.engines.inprocess.build_inprocess`) uses, so
partition ``k`` is what node ``k`` of the fleet (file order) trains on in-process
(``tests/flower/test_task.py`` checks it against ``build_inprocess``). It computes gradients with
:func:`edgetune.training.local.local_gradient` and takes the server step with the training package's
FedSGD aggregator (token-weighted mean, server optimiser ``sgd`` or ``adam``). The server loads the
cached pre-trained model (:func:`edgetune.training.pretrain.pretrain`); a node builds the same
architecture and takes the weights from the message, so it never pre-trains.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from logging import WARNING

import numpy as np
from flwr.supercore import log
from numpy.typing import NDArray

from edgetune.flower.task import LocalResult, State, TaskSpec, TrainingTask


class TrainingPackageTask(TrainingTask):
    """The training package's model, data and update rule for one :class:`TaskSpec`.

    Parameters
    ----------
    spec : TaskSpec
    server : bool
        Load the pre-trained weights (the ServerApp) instead of only the architecture (a node).
    """

    backend = "training"

    def __init__(self, spec: TaskSpec, server: bool = False) -> None:
        super().__init__(spec)
        import torch

        from edgetune.training.aggregate import make_aggregator
        from edgetune.training.local import trainable
        from edgetune.training.model import build_gpt2
        from edgetune.training.partition import DataConfig, derive_job_data, partition_kwargs
        from edgetune.training.pretrain import PretrainConfig, prepare_tokenizer, pretrain

        self.pretrain_config = PretrainConfig(model=spec.model, steps=spec.pretrain_steps)
        if server:
            pre = pretrain(self.pretrain_config)
            model, tok = pre.model, pre.tokenizer
        else:
            tok = prepare_tokenizer(self.pretrain_config)
            model = build_gpt2(spec.model, tok.vocab_size, np.random.default_rng(0), tok.eos_id)
        self.model = model
        self.model.train()
        data_cfg = DataConfig(block_len=spec.block_len, train_tokens=spec.train_tokens, val_tokens=spec.val_tokens)
        split = derive_job_data(
            spec.seed, tok, data_cfg, spec.partition, partition_kwargs(spec.partition, spec.alpha), spec.num_partitions
        )
        self.data, self.partitioner, self.partitions = split.data, split.partitioner, split.partitions
        self._named = trainable(self.model)
        self._aggregator = make_aggregator("fedsgd", optimizer=spec.optimizer, micro_batch=spec.micro_batch)
        self._init = self._state()
        self._train = torch.from_numpy(np.ascontiguousarray(self.data.train))
        self._val = torch.from_numpy(np.ascontiguousarray(self.data.val))

    def _state(self) -> State:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def _load(self, state: Mapping[str, NDArray[np.generic]]) -> None:
        import torch

        self.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})

    def initial_state(self) -> State:
        """The pre-trained model (server) or the seeded architecture (node)."""
        return {k: v.copy() for k, v in self._init.items()}

    def gradient(self, state: Mapping[str, NDArray[np.generic]], partition_id: int) -> LocalResult:
        """:func:`edgetune.training.local.local_gradient` over partition ``partition_id``."""
        import torch

        from edgetune.training.local import local_gradient

        if not 0 <= partition_id < len(self.partitions):
            raise ValueError(f"partition {partition_id} outside 0..{len(self.partitions) - 1}")
        self._load(state)
        params = [p for _, p in self._named]
        blocks = self._train[torch.from_numpy(self.partitions[partition_id])]
        t0 = time.perf_counter()
        res = local_gradient(self.model, params, blocks, self.spec.micro_batch)
        wall = time.perf_counter() - t0
        grads: State = {
            n: g.detach().cpu().numpy().astype(np.float32) for (n, _), g in zip(self._named, res.update, strict=True)
        }
        return LocalResult(grads=grads, n_tokens=res.n_tokens, loss=res.train_loss, compute_s=wall)

    def fedsgd(
        self,
        state: Mapping[str, NDArray[np.generic]],
        grads: Sequence[Mapping[str, NDArray[np.generic]]],
        lr: float,
        weights: Sequence[float] | None = None,
    ) -> State:
        """Token-weighted mean gradient, one step of the training package's FedSGD aggregator."""
        import torch

        from edgetune.training.aggregate import fedsgd_mean

        if not grads:
            return {k: np.array(v, copy=True) for k, v in state.items()}
        self._load(state)
        updates = [[torch.from_numpy(np.asarray(g[n])) for n, _ in self._named] for g in grads]
        self._aggregator.apply([p for _, p in self._named], fedsgd_mean(updates, weights), lr)
        return self._state()

    def evaluate(self, state: Mapping[str, NDArray[np.generic]]) -> float:
        """:func:`edgetune.training.local.mean_loss` on the validation split."""
        from edgetune.training.local import mean_loss

        self._load(state)
        return float(mean_loss(self.model, self._val, micro_batch=4 * self.spec.micro_batch))


def make(spec: TaskSpec, server: bool = False) -> TrainingTask | None:
    """A task backed by the training package, or ``None`` when its corpora or caches are missing."""
    try:
        return TrainingPackageTask(spec, server=server)
    except ImportError:
        return None
    except Exception as exc:  # missing corpora (InputError) or cache: the caller falls back
        if spec.backend == "training":
            raise
        log(WARNING, "training package unusable (%s): falling back to the synthetic task", exc)
        return None
