"""The main job: fine-tune one pre-trained model on a fleet with NE and with AR, same everything else.

Steps: corpora + tokenizer (cached) -> cloud pre-training (cached artifact) -> fine-tuning data split
(validation held out, IID or Dirichlet partitions) -> for each policy a fresh copy of the pre-trained
model, the in-process engine on a fresh simulated network seeded identically, and the one
orchestrator loop of Algorithm 1.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.errors import InputError
from edgetune.fleet.generate import SETUPS, generate_fleet
from edgetune.network.monitor import MonitorConfig
from edgetune.network.simulated import NetworkConfig
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.selection.base import PolicyConfig, make_policy
from edgetune.training.lora import LoraSettings
from edgetune.training.partition import DataConfig, derive_job_data, make_partitioner, partition_kwargs
from edgetune.training.pretrain import PretrainConfig, Pretrained, pretrain


@dataclass(frozen=True)
class FinetuneJob:
    """Everything the main job varies (defaults: the README's main job)."""

    nodes: int = 12
    setup: str = "normal"
    seed: int = 0
    epochs: int = 10
    learning_rate: float = 3e-3
    optimizer: str = "adam"
    local_steps: int = 1
    lora: bool = False
    partition: str = "iid"
    alpha: float = 0.5
    policies: tuple[str, ...] = ("ne", "ar")
    data: DataConfig = field(default_factory=DataConfig)
    pretrain: PretrainConfig = field(default_factory=lambda: PretrainConfig(model="tiny", steps=300))
    host_compute: float = 30.0
    host_seconds_per_token: float | None = None
    micro_batch: int = 16

    def validate(self) -> None:
        """Check every field; raise :class:`InputError` naming the flag."""
        if self.nodes < 1:
            raise InputError("--nodes", self.nodes, "must be at least 1")
        if self.setup not in SETUPS:
            raise InputError("--setup", self.setup, f"unknown setup; choose from {', '.join(SETUPS)}")
        if self.epochs < 1:
            raise InputError("--epochs", self.epochs, "must be at least 1")
        if not (self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise InputError("--lr", self.learning_rate, "must be positive")
        if self.local_steps < 1:
            raise InputError("--local-steps", self.local_steps, "must be at least 1")
        if self.host_compute <= 0:
            raise InputError("--host-compute", self.host_compute, "must be positive")
        make_partitioner(self.partition, **self.partition_kwargs)
        from edgetune.training.aggregate import check_optimizer

        check_optimizer(self.optimizer)
        for p in self.policies:
            make_policy(p)
        if self.data.train_tokens // self.data.block_len < self.nodes:
            reason = f"fewer {self.data.block_len}-token blocks than nodes"
            raise InputError("--train-tokens", self.data.train_tokens, reason)

    @property
    def partition_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the partitioner (``alpha`` for ``dirichlet``)."""
        return partition_kwargs(self.partition, self.alpha)

    @property
    def aggregator(self) -> str:
        """``fedsgd`` for one local step (Algorithm 1), ``fedavg`` for several."""
        return "fedsgd" if self.local_steps == 1 else "fedavg"


JobProgress = Callable[[str, EpochRecord], None]


def _model_for_run(base: Any, lora: bool, seed: int) -> Any:
    import torch

    model = copy.deepcopy(base)
    if lora:
        from edgetune.training.lora import apply_lora

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # same adapter initialisation for every policy
            model = apply_lora(model, LoraSettings())
    model.train()
    return model


def run_job(
    job: FinetuneJob,
    policy_config: PolicyConfig | None = None,
    network_config: NetworkConfig | None = None,
    monitor_config: MonitorConfig | None = None,
    pretrained: Pretrained | None = None,
    progress: JobProgress | None = None,
    cache_dir: Path | None = None,
    docs: Sequence[Any] | None = None,
) -> dict[str, RunRecord]:
    """Run every policy of ``job`` and return their records (keyed by policy name).

    Every policy sees the same fleet, the same data split and partitions, the same pre-trained
    weights and an identically seeded network: only the selection policy differs.
    """
    from edgetune.engines.inprocess import InProcessConfig, build_inprocess

    job.validate()
    pre = pretrained or pretrain(job.pretrain, cache_dir)
    split = derive_job_data(job.seed, pre.tokenizer, job.data, job.partition, job.partition_kwargs, job.nodes, docs)
    fleet = generate_fleet(job.nodes, job.setup, split.streams.fleet, seed=job.seed)
    cfg = InProcessConfig(
        host_compute=job.host_compute, aggregator=job.aggregator, optimizer=job.optimizer,
        local_steps=job.local_steps, micro_batch=job.micro_batch, host_seconds_per_token=job.host_seconds_per_token,
    )
    records: dict[str, RunRecord] = {}
    lora_seed = int(np.random.default_rng(job.seed).integers(2**31 - 1))
    for name in job.policies:
        policy = make_policy(name, policy_config)
        model = _model_for_run(pre.model, job.lora, lora_seed)
        run_rng = copy.deepcopy(split.streams.run)
        engine, monitor = build_inprocess(  # partitions split.partitions again from the same run generator
            fleet, run_rng, model, split.data, cfg, job.partition, job.partition_kwargs,
            job.learning_rate, job.pretrain.model, network_config, monitor_config,
        )
        policy_rng = run_rng.spawn(1)[0]  # after build_inprocess's four: the policy's own stream
        t0 = time.perf_counter()
        on_epoch = None
        if progress is not None:
            on_epoch = functools.partial(progress, name)
        orch = Orchestrator(
            engine, policy, monitor, fleet, OrchestratorConfig(epochs=job.epochs, learning_rate=job.learning_rate),
            progress=on_epoch, policy_rng=policy_rng,
        )
        rec = orch.run()
        rec.extra.update({
            "wall_s": time.perf_counter() - t0,
            "job": {**asdict(job), "policies": list(job.policies)},
            "fleet": {"nodes": job.nodes, "setup": job.setup, "seed": job.seed,
                      "compute": {str(n.id): n.compute for n in fleet.nodes}},
            "pretrain": {k: v for k, v in pre.info.items() if k != "loss_curve"},
            "timings_s": dict(engine.timings),
            "trained_tokens": engine.trained_tokens,
        })
        records[name] = rec
    return records


def summary_rows(records: dict[str, RunRecord]) -> list[dict[str, Any]]:
    """One row per policy: the numbers of the side-by-side table."""
    rows = []
    for name, rec in records.items():
        rows.append({
            "policy": name,
            "completion_time_s": rec.completion_time_s,
            "pre_training_loss": rec.pre_training_loss,
            "final_loss": rec.final_loss,
            "energy_j": rec.energy.get("total_j", 0.0),
            "bytes_moved": rec.bytes_moved,
            "active_last_epoch": len(rec.epochs[-1].active) if rec.epochs else 0,
            "wall_s": rec.extra.get("wall_s", 0.0),
        })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown side-by-side table (one column per policy), plus NE-vs-AR ratios when both ran."""
    by = {r["policy"]: r for r in rows}
    names = list(by)
    lines = ["| metric | " + " | ".join(n.upper() for n in names) + " |", "|---|" + "---|" * len(names)]

    def fmt(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    spec = [
        ("completion time (virtual s)", "completion_time_s", ",.1f"),
        ("pre-training loss", "pre_training_loss", ".4f"),
        ("final loss", "final_loss", ".4f"),
        ("energy (kJ)", "energy_j", ",.2f"),
        ("bytes moved (MB)", "bytes_moved", ",.1f"),
        ("nodes in last epoch", "active_last_epoch", "d"),
        ("wall time (s)", "wall_s", ".1f"),
    ]
    for label, key, f in spec:
        vals = []
        for n in names:
            v = by[n][key]
            if key == "energy_j":
                v = v / 1e3
            elif key == "bytes_moved":
                v = v / 1e6
            vals.append(fmt(v, f))
        lines.append(f"| {label} | " + " | ".join(vals) + " |")
    if "ne" in by and "ar" in by:
        ne, ar = by["ne"], by["ar"]
        out = ["", "NE vs AR:"]
        if ar["completion_time_s"]:
            out.append(f"  completion time {100 * (ne['completion_time_s'] / ar['completion_time_s'] - 1):+.1f} %")
        if ne["final_loss"] is not None and ar["final_loss"]:
            out.append(f"  final loss {100 * (ne['final_loss'] / ar['final_loss'] - 1):+.2f} %")
        if ar["energy_j"]:
            out.append(f"  energy {100 * (ne['energy_j'] / ar['energy_j'] - 1):+.1f} %")
        if ar["bytes_moved"]:
            out.append(f"  bytes moved {100 * (ne['bytes_moved'] / ar['bytes_moved'] - 1):+.1f} %")
        lines += out
    return "\n".join(lines)
