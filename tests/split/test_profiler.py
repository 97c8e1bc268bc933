"""Profiler counts against hand-computed MACs and sizes; loss terms reproduce K by the contract's rule."""

from __future__ import annotations

import math

import pytest
from torch import nn

from edgetune.split.models import ModelConfig, SplitModel, make_model
from edgetune.split.profiler import (
    activation_bits,
    calibrate_host_speed,
    instance_layers,
    loss_terms,
    profile_blocks,
    update_compute,
)
from edgetune.split.quant import QConv2d, QLinear


def _small_net(bits: int) -> SplitModel:
    cfg = ModelConfig(in_channels=1, image_size=8, num_classes=3, bits=bits)
    blocks: list[tuple[str, nn.Module]] = [
        ("2C3-MP2", nn.Sequential(QConv2d(1, 2, 3, padding=1, bits=bits), nn.ReLU(), nn.MaxPool2d(2))),
        ("FC4", nn.Sequential(nn.Flatten(), QLinear(2 * 4 * 4, 4, bits=bits), nn.ReLU())),
        ("FC3", QLinear(4, 3, bits=bits)),
    ]
    return SplitModel("small", blocks, cfg)


def test_small_conv_net_hand_computed() -> None:
    blocks = profile_blocks(_small_net(4))
    # conv: 2 x 8 x 8 outputs, each 1 x 3 x 3 MACs; FC: 32 x 4; FC: 4 x 3
    assert [b.macs_per_sample for b in blocks] == [2 * 8 * 8 * 9, 32 * 4, 4 * 3]
    assert [b.params for b in blocks] == [2 * 9 + 2, 32 * 4 + 4, 4 * 3 + 3]
    assert [b.weight_params for b in blocks] == [18, 128, 12]
    # weights at 4 bits, biases at 32 bits
    assert [b.size_bits for b in blocks] == [18 * 4 + 2 * 32, 128 * 4 + 4 * 32, 12 * 4 + 3 * 32]
    assert [b.out_numel for b in blocks] == [2 * 4 * 4, 4, 3]
    assert blocks[0].out_bits == 32 * 4 + 32


def test_lenet_full_width_hand_computed() -> None:
    blocks = profile_blocks(make_model("lenet", in_channels=3, image_size=32, bits=32))
    assert [b.macs_per_sample for b in blocks] == [
        64 * 32 * 32 * 3 * 9,
        128 * 16 * 16 * 64 * 9,
        128 * 8 * 8 * 128 * 9,
        128 * 4 * 4 * 1024,
        1024 * 10,
    ]
    assert blocks[3].size_bits == (2048 * 1024 + 1024) * 32


def test_instance_layers_compute_per_epoch() -> None:
    blocks = profile_blocks(_small_net(8))
    layers = instance_layers(blocks, n_train=100, n_val=20)
    assert layers[0]["compute"] == 1152 * (3 * 100 + 20)
    assert layers[0]["size_bits"] == 18 * 8 + 64
    assert layers[0]["infer_compute"] == 1152
    assert layers[0]["name"] == "2C3-MP2"


def test_activation_bits() -> None:
    assert activation_bits(10, 32) == 320
    assert activation_bits(10, 2) == 52


def test_update_compute_four_ops_per_parameter() -> None:
    assert update_compute(_small_net(32)) == 4 * (20 + 132 + 15)


def test_calibrate_host_speed_positive() -> None:
    assert calibrate_host_speed(_small_net(32), batch_size=8, steps=2) > 0


@pytest.mark.parametrize(("k_exp", "k_rob"), [(1, 1), (7, 9), (26, 29)])
def test_loss_terms_reproduce_k_with_contract_rule(k_exp: int, k_rob: int) -> None:
    l_a, l_max, g = 0.4, 0.6, 1.5
    terms = loss_terms(l_a, l_max, (g, g + 0.1), (k_exp, k_rob))
    assert terms is not None
    d = terms["epoch_loss_delta"]["expected"]
    least = next(k for k in range(1, 1000) if l_a + g + k * d < l_max)
    assert least == k_exp
    assert terms["epoch_loss_delta"]["robust"] >= d
    assert terms["epochs"] == {"expected": k_exp, "robust": k_rob}


def test_loss_terms_unreachable() -> None:
    assert loss_terms(0.4, 0.6, (1.0, 1.0), (math.inf, math.inf)) is None
