"""The planner's activation traffic (Eq. 9a-10a) against what split training really sends and charges."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from edgetune.planner.cost import activation_volume_bits
from edgetune.planner.instance import instance_from_mapping
from edgetune.split.data import Split
from edgetune.split.energy import PROFILES, LinkProfile, VirtualClock
from edgetune.split.execute import run_epoch_fully_charged
from edgetune.split.models import make_model
from edgetune.split.profiler import activation_bits, instance_layers, profile_blocks
from edgetune.split.splitrun import SplitTrainer, Topology, Traffic, split_forward_backward


def _doc(layers: list[dict[str, Any]], partitions: list[int], n_train: int, n_val: int) -> dict[str, Any]:
    srv = {
        "name": "es",
        "speed": 1.0,
        "energy_per_unit": 0.0,
        "cloud_rate_bps": 1.0,
        "cloud_energy_per_bit": 0.0,
        "bandwidth_hz": 1.0,
        "snr": 1.0,
        "device_energy_per_bit": 0.0,
    }
    variant = {
        "bits": 8,
        "quantize_time_s": 0.0,
        "quantize_energy_j": 0.0,
        "layers": layers,
        "partitions": partitions,
        "loss_jump": {"expected": 0.1, "robust": 0.1},
        "epoch_loss_delta": {"expected": -0.1, "robust": -0.1},
    }
    return {
        "t_max_s": 1.0,
        "l_max": 1.0,
        "samples_per_epoch": n_train,
        "eval_samples_per_epoch": n_val,
        "cloud": {"speed": 1.0, "energy_per_unit": 0.0},
        "device": {"name": "d", "speed": 1.0, "energy_per_unit": 0.0},
        "edge_servers": [srv],
        "models": [{"name": "m", "loss": 0.5, "update_compute": 0.0, "variants": [variant]}],
    }


@pytest.mark.parametrize("name", ["lenet", "resnet20"])
@pytest.mark.parametrize("bits", [32, 4])
def test_profiled_sizes_match_split_traffic(name: str, bits: int) -> None:
    """Eq. 9a with the profiler's output_bits/output_grad_bits = activation + gradient bits really sent."""
    model = make_model(name, width=0.0625, image_size=16, bits=bits)
    blocks = profile_blocks(model)
    layers = instance_layers(blocks, n_train=7, n_val=0)
    for b, layer in zip(blocks, layers, strict=True):
        assert layer["output_bits"] == activation_bits(b.out_numel, bits)
        assert layer["output_grad_bits"] == 32 * b.out_numel
    inst = instance_from_mapping(_doc(layers, model.partitions, n_train=7, n_val=0))
    x, y = torch.rand(7, 1, 16, 16), torch.randint(0, 10, (7,))
    for j in model.partitions:
        traffic = Traffic()
        split_forward_backward(model, j, x, y, traffic)
        sent = traffic.activation_bits + traffic.gradient_bits
        assert activation_volume_bits(inst, inst.models[0].variants[0], j) == sent


def test_executor_charges_the_validation_pass() -> None:
    """Every bit counted on the device link ends up on the clock: the planner's N_ev·o_j term is real."""
    torch.manual_seed(0)
    model = make_model("lenet", width=0.125, image_size=16, num_classes=4, bits=4)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(96, 1, 16, 16, generator=gen), torch.randint(0, 4, (96,), generator=gen)
    data = Split(x[:64], y[:64], x[64:], y[64:])
    clock = VirtualClock(host_mac_per_s=1e9)
    wifi = LinkProfile.shannon(2e7, 100.0, 5e-8)
    topo = Topology(PROFILES["pi5"], PROFILES["rtx3090"], PROFILES["a100"], wifi, LinkProfile(1e9, 1e-9))
    trainer = SplitTrainer(model, data, clock, batch_size=32)
    j = 2
    extra = run_epoch_fully_charged(trainer, j, topo, np.random.default_rng(0))
    t = trainer.traffic
    assert clock.bits["edge<->device"] == t.activation_bits + t.gradient_bits + t.label_bits + t.shallow_weight_bits
    out_bits = profile_blocks(model)[j - 1].out_bits
    assert extra in (0.0, 32 * out_bits)  # 32 validation samples, forward only (0 once the trainer charges them)
    assert clock.total_time_s == pytest.approx(sum(r.time_s for r in trainer.records))
    assert clock.total_energy_j == pytest.approx(sum(r.energy_j for r in trainer.records))
