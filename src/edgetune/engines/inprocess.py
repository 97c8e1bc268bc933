"""The in-process engine: Algorithm 1 with *real* PyTorch fine-tuning on every node, on a virtual clock.

Every active node really runs forward/backward over its partition of the domain corpus
(:mod:`edgetune.training.local`); the orchestrator really averages the replies and steps the global
model (:mod:`edgetune.training.aggregate`) and really measures the validation cross-entropy. Only
*time* is virtual, so a 40-node heterogeneous fleet runs on a 2-core host:

* **Virtual clock.** A node's training time is its measured compute time (process CPU seconds of its
  forward/backward on the host) scaled by its compute power relative to the host::

      train_time_s(i) = measured_cpu_s(i) * host_compute / C_i

  with ``host_compute = 30`` by default: one host core counts as a node of the fleet's mean compute
  power (Sec. IV-A draws C with mean 30). Orchestrator work (averaging, the optimiser step, the
  validation loss) advances the clock by its measured CPU time (the cloud server is the host).
  ``host_seconds_per_token`` replaces measurements by a fixed cost per token (deterministic clocks
  for tests and reproducible records).
* **Traffic.** Sizes are real: ``torch.save`` of the model, of each node's token blocks, of every
  gradient (or LoRA adapter gradient / FedAvg delta). They move through the same
  :class:`~edgetune.engines.virtual.VirtualCluster` (network model + SDN monitor) as the simulation
  engine: model + partition before epoch 1, an update upload per active node per epoch, the updated
  trainable weights broadcast to every node (eliminated ones included) after every epoch.
* **Nodes' models.** A broadcast hands every receiving node a snapshot of the global trainable
  tensors (one clone per broadcast, shared by its receivers); :meth:`InProcessEngine.node_state`
  returns what a node holds, so tests can check an eliminated node's model equals the global one.

The run record's times are therefore *virtual seconds* (``time_base = "virtual"``).
"""

from __future__ import annotations

import hashlib
import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgetune.engines.base import BuildContext, RegisteredEngine
from edgetune.engines.inprocess_settings import InProcessConfig
from edgetune.engines.virtual import VirtualCluster
from edgetune.fleet.faults import FaultSpec, InjectedCrash, split_round
from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import MonitorConfig, NorthboundAPI, SimulatedMonitor
from edgetune.network.simulated import NetworkConfig, SimulatedNetwork
from edgetune.orchestrator.engine import EngineReport, NodeReport, Payloads, RoundResult
from edgetune.orchestrator.loop import OrchestratorConfig
from edgetune.training.aggregate import Aggregator, GradientSum, make_aggregator
from edgetune.training.local import mean_loss, trainable
from edgetune.training.lora import LoraSettings, payload_bytes
from edgetune.training.partition import (
    FinetuneData,
    IntArray,
    Partitioner,
    derive_job_data,
    partition_nodes,
    run_streams,
)
from edgetune.training.spec import TrainingSpec


def _digest(tensors: Sequence[torch.Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _block_dtype(vocab_size: int) -> torch.dtype:
    return torch.int16 if vocab_size <= 32_767 else torch.int32


class InProcessEngine(RegisteredEngine):
    """Real fine-tuning on a :class:`VirtualCluster`.

    Parameters
    ----------
    fleet : Fleet
    cluster : VirtualCluster
    model : torch.nn.Module
        The global (pre-trained) model, possibly LoRA-wrapped; trained in place.
    data : FinetuneData
        Training blocks (partitioned) and the held-out validation blocks.
    partitions : dict
        Node id -> indices into ``data.train``.
    rng : numpy.random.Generator
        Mini-batch sampling of FedAvg local steps.
    config : InProcessConfig, optional
    learning_rate : float
        Local optimiser learning rate (FedAvg); FedSGD takes the orchestrator's rate in
        :meth:`apply_update`.
    model_name : str
        For the record.
    """

    name = "inprocess"
    time_base = "virtual"
    config_cls = InProcessConfig

    def __init__(
        self,
        fleet: Fleet,
        cluster: VirtualCluster,
        model: Any,
        data: FinetuneData,
        partitions: dict[int, IntArray],
        rng: np.random.Generator,
        config: InProcessConfig | None = None,
        learning_rate: float = OrchestratorConfig.learning_rate,
        model_name: str = "custom",
        partitioner: Partitioner | None = None,
        task: TrainingSpec | None = None,
    ) -> None:
        self.fleet = fleet
        self.cluster = cluster
        self.model = model
        self.data = data
        self.partitions = partitions
        self.rng = rng
        self.config = config or InProcessConfig()
        self.learning_rate = learning_rate
        self.model_name = model_name
        self.partitioner = partitioner
        self.task = task or TrainingSpec()
        self.faults = FaultSpec()  # injected faults (build() sets the spec's [faults])
        self.tokenizer: Any = None  # set by build(): what save_model writes beside the weights
        self.model_source: dict[str, Any] = {}
        self.aggregator: Aggregator = make_aggregator(
            self.task.aggregator,
            optimizer=self.task.optimizer,
            local_steps=self.task.local_steps,
            micro_batch=self.task.micro_batch,
        )
        self._ids = fleet.node_ids
        self._compute = {n.id: n.compute for n in fleet.nodes}
        self._named = trainable(model)
        self._params = [p for _, p in self._named]
        self._train_blocks = torch.from_numpy(np.ascontiguousarray(data.train))
        self._val_blocks = torch.from_numpy(np.ascontiguousarray(data.val))
        self._snapshot: tuple[torch.Tensor, ...] = tuple(p.detach().clone() for p in self._params)
        self._held: dict[int, tuple[torch.Tensor, ...]] = {}
        self._distributed = False
        self.version = 0
        self.timings: dict[str, float] = {
            "local_compute_wall_s": 0.0,
            "local_compute_cpu_s": 0.0,
            "aggregate_s": 0.0,
            "evaluate_s": 0.0,
            "train_round_wall_s": 0.0,
        }
        self.trained_tokens = 0
        self.pretrain_info: dict[str, Any] = {}
        vocab = int(getattr(model.config, "vocab_size", 65_536))
        self._bdtype = _block_dtype(vocab)
        self.update_bytes = payload_bytes(self._named)
        self.model_bytes = payload_bytes(list(model.state_dict().items()))
        self._partition_bytes = {
            i: payload_bytes([("blocks", torch.empty(len(self.partitions[i]), data.block_len, dtype=self._bdtype))])
            for i in self._ids
        }

    # -- Engine interface ------------------------------------------------------------------------------
    @classmethod
    def build(cls, ctx: BuildContext) -> InProcessEngine:
        """Pre-trained model (cached), the job's data split and partitions, the virtual cluster."""
        from edgetune.training.floor import fit_bigram_floor
        from edgetune.training.sources import resolve_model
        from edgetune.training.textgen import chars_per_token

        torch.set_num_threads(ctx.config.threads)
        task = ctx.task
        pre = resolve_model(task.model, pretrain_steps=task.pretrain_steps or None, seed=task.pretrain_seed)
        split = derive_job_data(
            ctx.seed,
            pre.tokenizer,
            task.data,
            task.partition,
            task.partition_kwargs,
            len(ctx.fleet.nodes),
            task.documents(),
        )
        lora_seed = int(np.random.default_rng(ctx.seed).integers(2**31 - 1))
        model = model_for_run(pre.model, task.lora, lora_seed)
        engine = build_inprocess(
            ctx.fleet,
            split.streams.run,
            model,
            split.data,
            ctx.config,
            task.partition,
            task.partition_kwargs,
            ctx.learning_rate,
            task.model,
            ctx.network,
            ctx.monitor,
            task,
        )
        floor = fit_bigram_floor(split.data.train, split.data.val, pre.tokenizer.vocab_size)
        engine.pretrain_info = {
            **{k: v for k, v in pre.info.items() if k not in ("loss_curve", "seconds", "cached", "load_s")},
            "floor": {"bigram_loss": floor.loss, "bigram_k": floor.k, "unigram_loss": floor.unigram_loss},
            "val_chars_per_token": chars_per_token(split.data.val, pre.tokenizer),  # type: ignore[arg-type]
        }
        engine.tokenizer = pre.tokenizer
        engine.model_source = pre.info["source"]
        engine.faults = ctx.faults
        return engine

    def save_model(self, folder: Path) -> Path:
        """The fine-tuned model (LoRA adapter or whole model), tokenizer and manifest into ``folder``."""
        from edgetune.training.finetuned import save_finetuned

        training = {
            "model": self.model_name,
            "version": self.version,
            "trained_tokens": int(self.trained_tokens),
            "corpus": self.task.corpus,
        }
        return save_finetuned(self.model, self.tokenizer, folder, self.model_source, training)

    @property
    def northbound(self) -> NorthboundAPI:
        """The simulated SDN monitor of this run's network."""
        return self.cluster.monitor

    def now_s(self) -> float:
        """Virtual seconds since distribution started."""
        return self.cluster.clock_s

    def distribute(self, node_ids: Sequence[int]) -> Payloads:
        """Model (all weights) + each node's token blocks, concurrently from t = 0 (lines 3-4)."""
        sizes = np.asarray([self.model_bytes + self._partition_bytes[i] for i in node_ids], dtype=np.float64)
        self.cluster.send_down(node_ids, sizes)
        for i in node_ids:
            self._held[i] = self._snapshot
        self._distributed = True
        # The data each node brings, in bytes of token ids (tokens x bytes per token): proportional to its
        # tokens, unlike the serialised size above, which adds a fixed header per partition.
        per_token = torch.empty((), dtype=self._bdtype).element_size()
        data = {i: float(len(self.partitions[i]) * self.data.block_len * per_token) for i in self._ids}
        return Payloads(data, float(self.update_bytes), float(self.update_bytes))

    def _host_seconds(self, tokens: int, measured_s: float, share: float = 1.0) -> float:
        spt = self.config.host_seconds_per_token
        return measured_s if not spt else tokens * spt * share

    def train_round(self, epoch: int, active: Sequence[int]) -> RoundResult:
        """Every active node trains on its partition for real; uploads its update (lines 5-7).

        Each node's work is isolated: any exception it raises (an injected ``crash`` fault or a real
        error in the training code) makes that node ``failed`` with the exception as the reason, puts
        the global trainable weights back as they were, and the round goes on with the others. A
        ``down`` node is not asked; a ``slow`` node's compute time is multiplied by its factor on the
        virtual clock (no real sleeping).
        """
        w0 = time.perf_counter()
        acc = GradientSum()
        asked, down, slow = split_round(self.faults, epoch, active)
        crash = {i for i, ev in self.faults.at(epoch).items() if ev.kind == "crash"} if self.faults else set()
        failed: dict[int, str] = {i: ev.reason() for i, ev in down.items()}
        done: list[int] = []
        compute_s: list[float] = []
        losses: dict[int, float] = {}
        for i in asked:
            if self._held.get(i) is not self._snapshot:
                raise RuntimeError(f"node {i} does not hold the current global model")
            c0 = time.perf_counter()
            try:
                if i in crash:
                    raise InjectedCrash(self.faults.at(epoch)[i].reason())
                res = self.aggregator.local(
                    self.model,
                    self._params,
                    self._train_blocks[torch.from_numpy(self.partitions[i])],
                    self.learning_rate,
                    self.rng,
                )
            except Exception as exc:  # the node's failure, not the run's
                failed[i] = str(exc) if isinstance(exc, InjectedCrash) else f"{type(exc).__name__}: {exc}"
                self._reset_trainable()
                continue
            finally:
                self.timings["local_compute_wall_s"] += time.perf_counter() - c0
            self.timings["local_compute_cpu_s"] += res.compute_s
            acc.add(res.update, float(res.n_tokens))
            self.trained_tokens += res.n_tokens
            host_s = self._host_seconds(res.n_tokens, res.compute_s)
            done.append(i)
            compute_s.append(host_s * self.config.host_compute / self._compute[i] * slow.get(i, 1.0))
            losses[i] = res.train_loss
        arrivals = self.cluster.compute_and_upload(done, np.asarray(compute_s), float(self.update_bytes))
        reports = {
            int(i): NodeReport(
                node_id=int(i),
                train_time_s=float(c),
                upload_bytes=self.update_bytes,
                arrived_s=float(a),
                train_loss=float(losses[int(i)]),
            )
            for i, c, a in zip(done, compute_s, arrivals, strict=True)
        }
        self.timings["train_round_wall_s"] += time.perf_counter() - w0
        return RoundResult(reports=reports, failed=failed, payload={"sum": acc, "train_loss": losses})

    @torch.no_grad()
    def _reset_trainable(self) -> None:
        """Put the global trainable weights back to the snapshot (after a node's work failed midway)."""
        for p, v in zip(self._params, self._snapshot, strict=True):
            p.copy_(v)
            p.grad = None

    def apply_update(self, result: RoundResult, learning_rate: float) -> None:
        """Token-weighted mean of the received updates, then the server step (lines 12-13)."""
        acc: GradientSum = result.payload["sum"]
        c0, w0 = time.process_time(), time.perf_counter()
        self.aggregator.apply(self._params, acc.mean(), learning_rate)
        self._snapshot = tuple(p.detach().clone() for p in self._params)
        self.version += 1
        self.timings["aggregate_s"] += time.perf_counter() - w0
        self.cluster.advance(self._host_seconds(0, time.process_time() - c0))

    def evaluate(self) -> float | None:
        """Cross-entropy of the global model on the validation split (line 15; PRE_TRAINING_LOSS first)."""
        c0, w0 = time.process_time(), time.perf_counter()
        loss = mean_loss(self.model, self._val_blocks, micro_batch=4 * self.task.micro_batch)
        self.timings["evaluate_s"] += time.perf_counter() - w0
        if self._distributed:  # the clock starts with distribution (completion time, Sec. IV-B)
            self.cluster.advance(self._host_seconds(int(self._val_blocks.numel()), time.process_time() - c0, 1 / 3))
        return loss

    def broadcast(self, node_ids: Sequence[int]) -> None:
        """Updated trainable weights to ``node_ids`` (all weights, or only LoRA adapters; lines 16-17)."""
        self.cluster.send_down(node_ids, float(self.update_bytes))
        for i in node_ids:
            self._held[i] = self._snapshot

    def finish(self) -> EngineReport:
        """Usage per node; model, data and payload facts; wall-clock timings."""
        n_total = sum(p.numel() for p in self.model.parameters())
        per_node = {str(i): int(len(self.partitions[i]) * self.data.block_len) for i in self._ids}
        info = {
            "time_unit": "virtual seconds: node time = host CPU seconds (or tokens x host_seconds_per_token) "
            "* host_compute / compute",
            "model": self.model_name,
            "parameters": int(n_total),
            "trainable_parameters": int(sum(p.numel() for p in self._params)),
            "model_bytes": int(self.model_bytes),
            "update_bytes": int(self.update_bytes),
            "trained_tokens": int(self.trained_tokens),
            **self.aggregator.describe(),
            **(self.partitioner.describe() if self.partitioner else {}),
            "data": {
                "block_len": self.data.block_len,
                "train_blocks": len(self.data.train),
                "val_blocks": len(self.data.val),
                "tokens_per_node": per_node,
            },
            "pretrain": self.pretrain_info,
        }
        return EngineReport(usage=self.cluster.usage(), info=info, timings=dict(self.timings))

    # -- checkpoints -------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Trainable weights, server optimiser, generators, the virtual timeline, counters."""
        return {
            "trainable": [p.detach().clone() for p in self._params],
            "server_optimizer": self.aggregator.server_state(),
            "rng": self.rng.bit_generator.state,
            "cluster": pickle.dumps(self.cluster, protocol=pickle.HIGHEST_PROTOCOL),
            "version": self.version,
            "trained_tokens": self.trained_tokens,
            "timings": dict(self.timings),
            "distributed": self._distributed,
        }

    def restore(self, state: Any) -> None:
        """Put back what :meth:`state` returned (into an engine built from the same spec)."""
        with torch.no_grad():
            for p, v in zip(self._params, state["trainable"], strict=True):
                p.copy_(v)
        self.aggregator.load_server_state(self._params, self.learning_rate, state["server_optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.cluster = pickle.loads(state["cluster"])
        self.version = state["version"]
        self.trained_tokens = state["trained_tokens"]
        self.timings = dict(state["timings"])
        self._distributed = state["distributed"]
        self._snapshot = tuple(p.detach().clone() for p in self._params)
        self._held = dict.fromkeys(self._ids, self._snapshot)  # every epoch ends with a broadcast to all

    # -- inspection --------------------------------------------------------------------------------------
    def node_state(self, node_id: int) -> tuple[torch.Tensor, ...]:
        """The trainable tensors node ``node_id`` holds (the last model it received)."""
        return self._held[node_id]

    def global_state(self) -> tuple[torch.Tensor, ...]:
        """The global model's trainable tensors now."""
        return tuple(p.detach() for p in self._params)

    def node_digest(self, node_id: int) -> str:
        """Short hash of what node ``node_id`` holds."""
        return _digest(self._held[node_id])

    def global_digest(self) -> str:
        """Short hash of the global trainable tensors."""
        return _digest(self.global_state())


def build_inprocess(
    fleet: Fleet,
    rng: np.random.Generator,
    model: Any,
    data: FinetuneData,
    config: InProcessConfig | None = None,
    partition: str = "iid",
    partition_kwargs: dict[str, Any] | None = None,
    learning_rate: float = OrchestratorConfig.learning_rate,
    model_name: str = "custom",
    network_config: NetworkConfig | None = None,
    monitor_config: MonitorConfig | None = None,
    task: TrainingSpec | None = None,
) -> InProcessEngine:
    """Wire the simulated network, its SDN monitor and the in-process engine for one run.

    ``rng`` is a job's run generator: :func:`edgetune.training.partition.run_streams` spawns from it
    the network variation, monitor noise, partition and mini-batch sampling generators, and
    :func:`~edgetune.training.partition.partition_nodes` splits ``data`` over the fleet (node ``k`` in
    file order gets partition ``k``), as :func:`~edgetune.training.partition.derive_job_data` does.
    ``model`` is trained in place: pass a copy per run.
    """
    streams = run_streams(rng)
    network = SimulatedNetwork(fleet, streams.network, network_config)
    monitor = SimulatedMonitor(network, streams.monitor, monitor_config)
    cluster = VirtualCluster(network, monitor)
    partitioner, parts = partition_nodes(data, partition, partition_kwargs, len(fleet.nodes), streams.partition)
    partitions = {nid: parts[k] for k, nid in enumerate(fleet.node_ids)}
    return InProcessEngine(
        fleet, cluster, model, data, partitions, streams.train, config, learning_rate, model_name, partitioner, task
    )


def model_for_run(base: Any, lora: bool, seed: int) -> Any:
    """A copy of ``base`` to fine-tune (LoRA-wrapped with adapters initialised from ``seed``)."""
    import copy

    model = copy.deepcopy(base)
    if lora:
        from edgetune.training.lora import apply_lora

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # same adapter initialisation for every policy
            model = apply_lora(model, LoraSettings())
    model.train()
    return model
