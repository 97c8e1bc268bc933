"""Profiler: per-block compute and size of a quantized model -> the planner instance (issue 4 contract).

JQODI paper (004), Section III-B: block i of M_(a,q) has a computational burden d^i (per epoch) and a
size g^i. Here

* **compute** d^i = forward MACs per sample of the block's conv/linear layers
  x (``train_factor`` x n_train + n_val): training costs about three forward passes (forward, gradient
  w.r.t. the input, gradient w.r.t. the weights) and every epoch ends with an inference pass over the
  validation set (the paper's "learning-inference run"). Element-wise layers (ReLU, BN, pooling,
  fake-quantizers) are not counted. Unit: MAC, the same unit as node speeds (MAC/s).
* **size** g^i = conv/linear weights x b bits + biases and batch-norm parameters x 32 bits.

:func:`build_instance` assembles the whole instance: the testbed nodes (:mod:`edgetune.split.energy`),
the models' variants with layers/partitions, quantization time and energy measured on this host, and the
loss terms (L_a, γ, ℓ, K̂) from :mod:`edgetune.split.estimators`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from edgetune.errors import InputError
from edgetune.split.config import ProfileConfig
from edgetune.split.energy import DEFAULT_BACKHAUL, DEFAULT_WIFI, profile
from edgetune.split.models import SplitModel
from edgetune.split.quant import FULL_PRECISION_BITS, ActQuant, quantized_weights

TRAIN_FACTOR = 3.0
"""Training MACs per forward MAC (forward + input gradient + weight gradient)."""
GRADIENT_BITS = 32
"""Bits per element of the activation gradients the server sends back (float32, not quantized)."""


@dataclass(frozen=True)
class BlockProfile:
    """What the profiler measures for one block, per sample.

    Attributes
    ----------
    label : str
        The block's architecture label (e.g. ``"128C3-MP2"``).
    macs_per_sample : int
        Forward multiply-accumulates of its conv/linear layers for one input sample.
    params : int
        All parameters.
    weight_params : int
        Conv/linear weights (stored at b bits).
    size_bits : int
        g^i: ``weight_params * b + (params - weight_params) * 32``.
    out_numel : int
        Elements of the block's output for one sample (what crosses a partition after it).
    out_bits : int
        Wire size of that output at b bits (plus a 32-bit scale when quantized).
    """

    label: str
    macs_per_sample: int
    params: int
    weight_params: int
    size_bits: int
    out_numel: int
    out_bits: int


def activation_bits(numel: int, bits: int) -> int:
    """Bits on the wire for ``numel`` activations at ``bits`` bits (b-bit codes + one float32 scale)."""
    if bits >= FULL_PRECISION_BITS:
        return numel * 32
    return numel * bits + 32


def _layer_macs(module: nn.Module, out: torch.Tensor) -> int:
    per_sample_out = out[0].numel()
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_sample_out * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_sample_out * module.in_features
    return 0


@torch.no_grad()
def profile_blocks(model: SplitModel, bits: int | None = None) -> list[BlockProfile]:
    """Per-block MACs per sample, parameter counts, size in bits and output size of ``model``.

    Parameters
    ----------
    model : SplitModel
        The model (its quantizers' bit-width is used unless ``bits`` is given).
    bits : int, optional
        Bit-width to size the weights and activations at.
    """
    cfg = model.config
    b = cfg.bits if bits is None else bits
    x = torch.zeros(1, cfg.in_channels, cfg.image_size, cfg.image_size)
    was_training = model.training
    model.eval()
    out: list[BlockProfile] = []
    for label, block in zip(model.labels, model.blocks, strict=True):
        macs = [0]
        hooks = [
            m.register_forward_hook(lambda mod, _inp, res, acc=macs: acc.__setitem__(0, acc[0] + _layer_macs(mod, res)))
            for m in block.modules()
            if isinstance(m, nn.Conv2d | nn.Linear)
        ]
        try:
            x = block(x)
        finally:
            for h in hooks:
                h.remove()
        params = sum(p.numel() for p in block.parameters())
        weights = sum(m.weight.numel() for m in block.modules() if isinstance(m, nn.Conv2d | nn.Linear))
        numel = x[0].numel()
        out.append(
            BlockProfile(
                label=label,
                macs_per_sample=macs[0],
                params=params,
                weight_params=weights,
                size_bits=weights * b + (params - weights) * 32,
                out_numel=numel,
                out_bits=activation_bits(numel, b),
            )
        )
    model.train(was_training)
    return out


def instance_layers(
    blocks: list[BlockProfile], n_train: int, n_val: int, train_factor: float = TRAIN_FACTOR
) -> list[dict[str, Any]]:
    """The instance's ``layers``: d^i per epoch (``compute``, MAC) and g^i (``size_bits``) per block.

    Also the optional per-sample fields: ``name``, ``infer_compute`` (forward MACs per sample, Fig. 9),
    ``output_bits`` (the block output's wire size per sample: b-bit codes + a float32 scale, exactly what
    :func:`edgetune.split.splitrun.split_forward_backward` sends) and ``output_grad_bits`` (the float32
    gradient of that output sent back, 32 bits per element). With the instance's ``samples_per_epoch``
    the planner charges them as the activation traffic of its Eq. 9a-10a.
    """
    samples = train_factor * n_train + n_val
    return [
        {
            "compute": float(b.macs_per_sample * samples),
            "size_bits": float(b.size_bits),
            "name": b.label,
            "infer_compute": float(b.macs_per_sample),
            "output_bits": float(b.out_bits),
            "output_grad_bits": float(GRADIENT_BITS * b.out_numel),
        }
        for b in blocks
    ]


def calibrate_host_speed(model: SplitModel, batch_size: int = 64, steps: int = 4, seed: int = 0) -> float:
    """Training MAC/s of *this* host on ``model``: counted MACs of a step / measured seconds (median).

    The model is trained on random data for ``steps`` steps (after one warm-up step) on a deep copy.
    """
    import copy

    m = copy.deepcopy(model).train()
    cfg = m.config
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch_size, cfg.in_channels, cfg.image_size, cfg.image_size, generator=gen)
    y = torch.randint(0, cfg.num_classes, (batch_size,), generator=gen)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    macs = sum(b.macs_per_sample for b in profile_blocks(m)) * batch_size * TRAIN_FACTOR
    times = []
    for step in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y).backward()
        opt.step()
        if step:
            times.append(time.perf_counter() - t0)
    return float(macs / max(np.median(times), 1e-9))


def measure_quantization(model: SplitModel, calib: torch.Tensor) -> float:
    """Host seconds to produce M_(a,q): quantize every weight and calibrate the activation ranges once."""
    import copy

    m = copy.deepcopy(model).train()
    for q in m.modules():
        if isinstance(q, ActQuant):
            q.running_max.zero_()
    t0 = time.perf_counter()
    quantized_weights(m)
    with torch.no_grad():
        m(calib)
    return time.perf_counter() - t0


def update_compute(model: nn.Module) -> float:
    """F_a: cloud work per epoch updating the full-precision model (MAC-equivalents).

    Our reading: merge the returned weights into the full-precision copy and re-quantize, about four
    operations per parameter (the paper gives no formula).
    """
    return 4.0 * sum(p.numel() for p in model.parameters())


def nodes_section(cfg: ProfileConfig, host_mac_per_s: float) -> dict[str, Any]:
    """The instance's ``cloud``, ``device`` and ``edge_servers`` entries from the node profiles."""
    dev = profile(cfg.device)
    dev_speed = host_mac_per_s if cfg.calibrate_device else dev.mac_per_s
    cloud = profile(cfg.cloud)
    servers = []
    for name in cfg.servers:
        p = profile(name)
        servers.append(
            {
                "name": p.name,
                "speed": p.mac_per_s,
                "energy_per_unit": p.joule_per_mac,
                "cloud_rate_bps": DEFAULT_BACKHAUL["cloud_rate_bps"],
                "cloud_energy_per_bit": DEFAULT_BACKHAUL["cloud_energy_per_bit"],
                "bandwidth_hz": DEFAULT_WIFI["bandwidth_hz"],
                "snr": DEFAULT_WIFI["snr"],
                "device_energy_per_bit": DEFAULT_WIFI["device_energy_per_bit"],
            }
        )
    if not servers:
        raise InputError("servers", cfg.servers, "need at least one edge server")
    return {
        "cloud": {"speed": cloud.mac_per_s, "energy_per_unit": cloud.joule_per_mac},
        "device": {"name": dev.name, "speed": dev_speed, "energy_per_unit": dev.busy_w / dev_speed},
        "edge_servers": servers,
    }


def loss_terms(
    l_a: float, l_max: float, gamma: tuple[float, float], epochs: tuple[float, float]
) -> dict[str, Any] | None:
    """The variant's ``loss_jump``, ``epoch_loss_delta`` and ``epochs`` (None: cannot reach L_max).

    ℓ is chosen so that the contract's default rule (least K with L_a + γ + K·ℓ < L_max) gives back the
    estimated K: ℓ = (L_max - L_a - γ) / (K - 1/2). The robust ℓ is kept >= the expected one (less
    negative: the planner's rule for pessimistic estimates).
    """
    k_exp, k_rob = epochs
    if not (np.isfinite(k_exp) and np.isfinite(k_rob)):
        return None
    k_exp_i, k_rob_i = max(1, round(k_exp)), max(1, round(k_rob))
    k_rob_i = max(k_rob_i, k_exp_i)
    g_exp, g_rob = max(gamma[0], 1e-6), max(gamma[1], gamma[0], 1e-6)

    def delta(g: float, k: int) -> float:
        return min((l_max - l_a - g) / (k - 0.5), -1e-9)

    d_exp = delta(g_exp, k_exp_i)
    return {
        "loss_jump": {"expected": g_exp, "robust": g_rob},
        "epoch_loss_delta": {"expected": d_exp, "robust": max(delta(g_rob, k_rob_i), d_exp)},
        "epochs": {"expected": k_exp_i, "robust": k_rob_i},
    }
