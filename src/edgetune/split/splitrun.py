"""Split fine-tuning between an end device (blocks 1..j) and an edge server (blocks j+1..n).

JQODI paper (004), Sections III-B/C. Per batch:

1. the **device** runs blocks 1..j on its local images and sends the activations (b-bit codes: the block
   output is already fake-quantized) and the labels to the server — raw images never leave the device;
2. the **server** runs blocks j+1..n, computes the cross-entropy loss, back-propagates to its input and
   sends the activation gradients (float32) back, then steps its optimizer;
3. the device back-propagates those gradients through blocks 1..j and steps its optimizer.

Mathematically this is the chain rule cut at p_j, so the parameter gradients equal those of the unsplit
model (tested at every partition point). Each epoch also moves the models as in Eq. 1-2/9-10: the full
model cloud->edge and back (Σ g^i each way), the shallow blocks edge->device and back (Σ_{i<=j} g^i each
way), then the cloud updates the full-precision model (F_a), and the epoch ends with an inference pass on
the device's validation set (split the same way).

Time: each side's compute is measured on this host (``time.perf_counter``) and converted to the node's
virtual time by the speed factor of :class:`edgetune.split.energy.VirtualClock`; transfers take
bits / rate. Energy = rated power x virtual busy time (compute) + bits x J/bit (links). All bits that
cross a link are counted by kind in :class:`Traffic`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from edgetune.errors import InputError
from edgetune.split.data import Split
from edgetune.split.energy import LinkProfile, NodeProfile, VirtualClock
from edgetune.split.models import SplitModel
from edgetune.split.profiler import activation_bits, profile_blocks, update_compute
from edgetune.split.train import LEARNING_RATE, batches, evaluate


@dataclass
class Traffic:
    """Bits exchanged, by kind."""

    activation_bits: float = 0.0
    gradient_bits: float = 0.0
    label_bits: float = 0.0
    shallow_weight_bits: float = 0.0
    full_model_bits: float = 0.0

    @property
    def total_bytes(self) -> float:
        """All kinds together, in bytes."""
        return sum(asdict(self).values()) / 8.0


@dataclass
class SideTimes:
    """Measured host seconds of each side's compute."""

    device_s: float = 0.0
    server_s: float = 0.0


def _check_partition(model: SplitModel, j: int) -> None:
    if j not in model.partitions:
        raise InputError("partition", j, f"{model.name} allows {model.partitions}")


def split_forward_backward(
    model: SplitModel,
    j: int,
    x: torch.Tensor,
    y: torch.Tensor,
    traffic: Traffic | None = None,
    times: SideTimes | None = None,
) -> float:
    """One split forward/backward pass at partition ``j``: fills ``.grad`` of every parameter.

    Returns the loss. Optimizer steps are left to the caller (each side steps its own parameters).
    """
    _check_partition(model, j)
    bits = model.config.bits
    t0 = time.perf_counter()
    # --- device: blocks 1..j on the raw images (never sent) ---
    act = model.forward_range(x, 0, j)  # (B, ...) block-j output, already on the b-bit grid
    t1 = time.perf_counter()
    # --- wire: a detached copy is all the server gets ---
    wire = act.detach().clone().requires_grad_(True)
    labels = y.clone()
    # --- server: blocks j+1..n, loss, backward to its input ---
    loss = F.cross_entropy(model.forward_range(wire, j, model.n_blocks), labels)
    loss.backward()
    assert wire.grad is not None
    grad_back = wire.grad.detach().clone()
    t2 = time.perf_counter()
    # --- device: backward through blocks 1..j with the received gradients ---
    act.backward(grad_back)
    t3 = time.perf_counter()
    if traffic is not None:
        per_sample = act[0].numel()
        traffic.activation_bits += activation_bits(per_sample, bits) * len(y)
        traffic.gradient_bits += 32.0 * grad_back.numel()
        traffic.label_bits += 64.0 * len(y)
    if times is not None:
        times.device_s += (t1 - t0) + (t3 - t2)
        times.server_s += t2 - t1
    return float(loss.detach())


@dataclass(frozen=True)
class Topology:
    """The nodes and links of one split run."""

    device: NodeProfile
    server: NodeProfile
    cloud: NodeProfile
    wifi: LinkProfile
    backhaul: LinkProfile


@dataclass
class EpochRecord:
    """One executed epoch: choices, measured losses, virtual time/energy, traffic."""

    epoch: int
    edge_server: str
    partition: int
    train_loss: float
    val_loss: float
    val_acc: float
    time_s: float
    energy_j: float
    host_device_s: float
    host_server_s: float
    traffic_bytes: float


@dataclass
class SplitTrainer:
    """Runs split fine-tuning epochs of one model on the device's data with a virtual clock.

    Each side owns an Adam optimizer over its own blocks; the per-parameter Adam state is kept in one
    shared table so that a block keeps its state when a later epoch moves the partition point.
    """

    model: SplitModel
    data: Split
    clock: VirtualClock
    batch_size: int = 64
    lr: float = LEARNING_RATE
    traffic: Traffic = field(default_factory=Traffic)
    records: list[EpochRecord] = field(default_factory=list)
    _state: defaultdict[Any, Any] = field(default_factory=lambda: defaultdict(dict))

    def _optimizers(self, j: int) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        dev = torch.optim.Adam([p for b in self.model.blocks[:j] for p in b.parameters()], lr=self.lr)
        srv = torch.optim.Adam([p for b in self.model.blocks[j:] for p in b.parameters()], lr=self.lr)
        dev.state = srv.state = self._state  # disjoint parameter keys: each side touches only its own
        return dev, srv

    def run_epoch(self, j: int, topo: Topology, rng: np.random.Generator) -> EpochRecord:
        """Execute one fine-tuning epoch at partition ``j`` with edge server ``topo.server``."""
        _check_partition(self.model, j)
        clock, model = self.clock, self.model
        t_start, e_start = clock.total_time_s, clock.total_energy_j
        bytes_start = self.traffic.total_bytes
        sizes = [b.size_bits for b in profile_blocks(model)]
        full, shallow = float(sum(sizes)), float(sum(sizes[:j]))
        # Eq. 1-2: cloud -> edge (full model), edge -> device (shallow blocks)
        clock.transfer("cloud<->edge", topo.backhaul, full)
        clock.transfer("edge<->device", topo.wifi, shallow)
        self.traffic.full_model_bits += full
        self.traffic.shallow_weight_bits += shallow
        dev_opt, srv_opt = self._optimizers(j)
        model.train()
        times = SideTimes()
        losses = []
        x, y = self.data.x_train, self.data.y_train
        for idx in batches(rng, len(y), self.batch_size):
            ib = torch.as_tensor(idx)
            dev_opt.zero_grad(set_to_none=True)
            srv_opt.zero_grad(set_to_none=True)
            before = Traffic(**asdict(self.traffic))
            losses.append(split_forward_backward(model, j, x[ib], y[ib], self.traffic, times))
            t0 = time.perf_counter()
            srv_opt.step()
            t1 = time.perf_counter()
            dev_opt.step()
            t2 = time.perf_counter()
            times.server_s += t1 - t0
            times.device_s += t2 - t1
            sent = self.traffic.activation_bits - before.activation_bits + self.traffic.label_bits - before.label_bits
            back = self.traffic.gradient_bits - before.gradient_bits
            clock.transfer("edge<->device", topo.wifi, sent + back)
        # inference pass on the validation set, split the same way (forward only)
        val_loss, val_acc = self._split_eval(j, times)
        clock.compute(topo.device, times.device_s)
        clock.compute(topo.server, times.server_s)
        # Eq. 2/9-10 return trip: device -> edge (shallow), edge -> cloud (full), then the cloud update F_a
        clock.transfer("edge<->device", topo.wifi, shallow)
        clock.transfer("cloud<->edge", topo.backhaul, full)
        self.traffic.full_model_bits += full
        self.traffic.shallow_weight_bits += shallow
        clock.work(topo.cloud, update_compute(model))
        rec = EpochRecord(
            epoch=len(self.records) + 1,
            edge_server=topo.server.name,
            partition=j,
            train_loss=float(np.mean(losses)),
            val_loss=val_loss,
            val_acc=val_acc,
            time_s=clock.total_time_s - t_start,
            energy_j=clock.total_energy_j - e_start,
            host_device_s=times.device_s,
            host_server_s=times.server_s,
            traffic_bytes=self.traffic.total_bytes - bytes_start,
        )
        self.records.append(rec)
        return rec

    @torch.no_grad()
    def _split_eval(self, j: int, times: SideTimes, batch_size: int = 512) -> tuple[float, float]:
        model = self.model
        model.eval()
        total, correct = 0.0, 0
        x, y = self.data.x_val, self.data.y_val
        for i in range(0, len(y), batch_size):
            t0 = time.perf_counter()
            act = model.forward_range(x[i : i + batch_size], 0, j)
            t1 = time.perf_counter()
            out = model.forward_range(act.clone(), j, model.n_blocks)
            t2 = time.perf_counter()
            times.device_s += t1 - t0
            times.server_s += t2 - t1
            total += float(F.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
            correct += int((out.argmax(1) == y[i : i + batch_size]).sum())
            self.traffic.activation_bits += activation_bits(act[0].numel(), model.config.bits) * len(act)
        model.train()
        return total / len(y), correct / len(y)


def images_per_second(
    model: SplitModel, x: torch.Tensor, y: torch.Tensor, j: int | None, steps: int = 10, batch_size: int = 64
) -> float:
    """Training throughput (images/s) on this host, split at ``j`` or unsplit (``j=None``)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    n = 0
    t0 = 0.0
    for step in range(steps + 1):
        if step == 1:
            t0, n = time.perf_counter(), 0
        lo = (step * batch_size) % max(1, len(y) - batch_size)
        xb, yb = x[lo : lo + batch_size], y[lo : lo + batch_size]
        opt.zero_grad(set_to_none=True)
        if j is None:
            F.cross_entropy(model(xb), yb).backward()
        else:
            split_forward_backward(model, j, xb, yb, Traffic())
        opt.step()
        n += len(yb)
    return n / (time.perf_counter() - t0)


def unsplit_loss(model: SplitModel, data: Split) -> float:
    """Validation loss of ``model`` (unsplit, eval mode)."""
    return evaluate(model, data.x_val, data.y_val)[0]
