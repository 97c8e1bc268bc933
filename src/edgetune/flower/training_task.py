"""The Flower task backed by :mod:`edgetune.training`: the in-process engine's model, data and rules.

:class:`TrainingPackageTask` takes the data split and the partitions from
:func:`edgetune.training.partition.derive_job_data`, the derivation the in-process main job
(:func:`edgetune.training.job.run_job`, :func:`edgetune.engines.inprocess.build_inprocess`) uses, so
partition ``k`` is what node ``k`` of the fleet (file order) trains on in-process. A node's local
work is the training package's aggregator (:func:`edgetune.training.aggregate.make_aggregator`):
FedSGD (the gradient over the partition) or FedAvg (``local_steps`` steps of the local optimiser,
the model delta); the server step is the same aggregator's ``apply``. With ``lora`` the model is
wrapped with the training package's adapters (:func:`edgetune.training.lora.apply_lora`, seeded as
the in-process job seeds them) and only adapter tensors train and travel.

FedAvg samples mini-batches from one generator that the in-process engine threads through the
active nodes in order. The server replays that: :meth:`TrainingPackageTask.rng_states` hands each
active node the generator state it would start from in-process (and advances a copy by exactly the
draws that node makes), so the same spec and partitions give the same tensors on Flower.

The server loads the base model as the in-process engine does
(:func:`edgetune.training.sources.resolve_model`: a cached pre-trained preset, SmolLM2, a model
folder); a node with a preset builds the same architecture and takes the weights from the first
message, so it never pre-trains.
:func:`make_task` falls back to :class:`~edgetune.flower.task.SyntheticTask` when the corpora or
caches are missing (``backend = "auto"``).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping, Sequence
from logging import WARNING, getLogger

import numpy as np
from numpy.typing import NDArray

from edgetune.flower.task import LocalResult, NodeTask, State, SyntheticTask, TrainingTask

_log = getLogger(__name__)


def lora_seed(seed: int) -> int:
    """The torch seed of the LoRA adapters' initialisation (as :func:`edgetune.training.job.run_job`)."""
    return int(np.random.default_rng(seed).integers(2**31 - 1))


class TrainingPackageTask(TrainingTask):
    """The training package's model, data and update rule for one :class:`NodeTask`.

    Parameters
    ----------
    spec : NodeTask
    server : bool
        Load the pre-trained weights (the ServerApp) instead of only the architecture (a node).
    """

    backend = "training"

    def __init__(self, spec: NodeTask, server: bool = False) -> None:
        super().__init__(spec)
        import torch

        from edgetune.engines.inprocess import model_for_run
        from edgetune.training.aggregate import make_aggregator
        from edgetune.training.local import trainable
        from edgetune.training.model import SIZES, build_gpt2
        from edgetune.training.partition import derive_job_data, run_streams
        from edgetune.training.pretrain import prepare_tokenizer
        from edgetune.training.sources import hf_tokenizer_of_bpe, resolve_model
        from edgetune.training.tokenizer import HFTokenizer

        task = spec.task
        # The in-process engine's base model (InProcessEngine.build): the same pre-training
        # (task.pretrain_steps 0 = the model's default) and the same tokenizer.
        self.pretrain_config = task.pretrain_config()
        if server or task.model not in SIZES:
            pre = resolve_model(task.model, pretrain_steps=task.pretrain_steps or None, seed=task.pretrain_seed)
            base, tok = pre.model, pre.tokenizer
        else:  # a node: the preset's architecture; its weights come with the first message (it never pre-trains)
            bpe = prepare_tokenizer(self.pretrain_config)
            tok = HFTokenizer(hf_tokenizer_of_bpe(bpe))
            base = build_gpt2(task.model, bpe.vocab_size, np.random.default_rng(0), bpe.eos_id)
        self.model = model_for_run(base, task.lora, lora_seed(spec.seed))
        split = derive_job_data(
            spec.seed, tok, task.data, task.partition, task.partition_kwargs, spec.num_partitions, task.documents()
        )
        self.data, self.partitioner, self.partitions = split.data, split.partitioner, split.partitions
        self._named = trainable(self.model)
        self._aggregator = make_aggregator(
            task.aggregator, optimizer=task.optimizer, local_steps=task.local_steps, micro_batch=task.micro_batch
        )
        # The in-process engine's mini-batch generator (run_streams(run).train), replayed by rng_states.
        self._train_rng = run_streams(copy.deepcopy(split.streams.run)).train
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

    def trainable_names(self) -> tuple[str, ...]:
        """The parameters that train: all of them, or only the LoRA adapters."""
        return tuple(n for n, _ in self._named)

    def rng_states(self, partition_ids: Sequence[int]) -> list[str]:
        """FedAvg: each node's start state of the in-process generator, in the round's order."""
        if self.spec.aggregator != "fedavg":
            return ["" for _ in partition_ids]
        out = []
        for pid in partition_ids:
            out.append(json.dumps(self._train_rng.bit_generator.state))
            n = len(self.partitions[pid])
            for _ in range(self.spec.task.local_steps):  # the draws of training.local.local_steps
                self._train_rng.choice(n, size=min(self.spec.task.micro_batch, n), replace=False)
        return out

    def local(
        self, state: Mapping[str, NDArray[np.generic]], partition_id: int, lr: float, rng_state: str = ""
    ) -> LocalResult:
        """The aggregator's local work (``training.aggregate``) over partition ``partition_id``."""
        import torch

        if not 0 <= partition_id < len(self.partitions):
            raise ValueError(f"partition {partition_id} outside 0..{len(self.partitions) - 1}")
        self._load(state)
        params = [p for _, p in self._named]
        blocks = self._train[torch.from_numpy(self.partitions[partition_id])]
        rng = np.random.default_rng()
        if rng_state:
            rng.bit_generator.state = json.loads(rng_state)
        t0 = time.perf_counter()
        res = self._aggregator.local(self.model, params, blocks, lr, rng)
        wall = time.perf_counter() - t0
        update: State = {
            n: g.detach().cpu().numpy().astype(np.float32) for (n, _), g in zip(self._named, res.update, strict=True)
        }
        return LocalResult(update=update, n_tokens=res.n_tokens, loss=res.train_loss, compute_s=wall)

    def aggregate(
        self,
        state: Mapping[str, NDArray[np.generic]],
        updates: Sequence[Mapping[str, NDArray[np.generic]]],
        lr: float,
        weights: Sequence[float] | None = None,
    ) -> State:
        """Token-weighted mean update, then the aggregator's server step (as the in-process engine)."""
        import torch

        from edgetune.training.aggregate import fedsgd_mean

        if not updates:
            return {k: np.array(v, copy=True) for k, v in state.items()}
        self._load(state)
        tensors = [[torch.from_numpy(np.asarray(g[n])) for n, _ in self._named] for g in updates]
        self._aggregator.apply([p for _, p in self._named], fedsgd_mean(tensors, weights), lr)
        return self._state()

    def evaluate(self, state: Mapping[str, NDArray[np.generic]]) -> float:
        """:func:`edgetune.training.local.mean_loss` on the validation split."""
        from edgetune.training.local import mean_loss

        self._load(state)
        return float(mean_loss(self.model, self._val, micro_batch=4 * self.spec.task.micro_batch))


def make_task(spec: NodeTask, server: bool = False) -> TrainingTask:
    """The task for ``spec``: the training package's (``backend`` ``training``, or ``auto`` when usable).

    ``server`` loads the pre-trained weights (the ServerApp); nodes only build the architecture and
    take the weights from the first message.
    """
    if spec.backend != "synthetic":
        try:
            return TrainingPackageTask(spec, server=server)
        except ImportError:
            if spec.backend == "training":
                raise
        except Exception as exc:  # missing corpora (InputError) or cache: the caller falls back
            if spec.backend == "training":
                raise
            _log.log(WARNING, "training package unusable (%s): falling back to the synthetic task", exc)
    if spec.task.lora or spec.aggregator != "fedsgd":
        raise ValueError("the synthetic task does FedSGD of the full model only (lora, fedavg: training backend)")
    return SyntheticTask(spec)
