"""Fake quantization: at most 2^b distinct values, STE gradients, full precision untouched."""

from __future__ import annotations

import pytest
import torch

from edgetune.errors import InputError
from edgetune.split.models import make_model
from edgetune.split.quant import ActQuant, QConv2d, check_bits, quantize_weight, quantized_weights, set_bits


@pytest.mark.parametrize("bits", [1, 2, 4, 6, 8])
def test_weight_distinct_values_at_most_2_pow_b(bits: int) -> None:
    w = torch.randn(4096, generator=torch.Generator().manual_seed(bits))
    q = quantize_weight(w, bits)
    assert q.shape == w.shape
    assert 1 < len(torch.unique(q)) <= 2**bits


@pytest.mark.parametrize("bits", [1, 2, 4, 6, 8])
def test_activation_distinct_values_at_most_2_pow_b(bits: int) -> None:
    x = torch.rand(8, 16, 5, 5, generator=torch.Generator().manual_seed(bits)) * 3
    q = ActQuant(bits).train()(x)
    assert 1 < len(torch.unique(q)) <= 2**bits
    assert float(q.min()) >= 0.0


def test_one_bit_weights_are_plus_minus_mean_abs() -> None:
    w = torch.tensor([-2.0, -0.5, 0.5, 1.0])
    q = quantize_weight(w, 1)
    alpha = w.abs().mean()
    assert torch.allclose(q, torch.tensor([-1.0, -1.0, 1.0, 1.0]) * alpha)


def test_two_bit_weights_are_ternary() -> None:
    w = torch.tensor([-1.0, -0.4, 0.1, 0.6, 1.0])
    assert torch.allclose(quantize_weight(w, 2), torch.tensor([-1.0, 0.0, 0.0, 1.0, 1.0]))


def test_full_precision_is_identity() -> None:
    w = torch.randn(10)
    assert quantize_weight(w, 32) is w
    assert ActQuant(32)(w) is w


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_straight_through_gradient(bits: int) -> None:
    w = (torch.rand(100) - 0.5).requires_grad_(True)
    quantize_weight(w, bits).sum().backward()
    assert w.grad is not None
    # inside the range the STE passes the gradient unchanged (1-bit: scaled by the detached alpha)
    expected = w.detach().abs().mean() if bits == 1 else torch.tensor(1.0)
    assert torch.allclose(w.grad, expected.expand_as(w.grad))


def test_activation_ste_clips_above_range() -> None:
    q = ActQuant(4).train()
    q(torch.ones(4))  # running max = 1
    x = torch.tensor([0.5, 2.0], requires_grad=True)
    q.eval()(x).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == [1.0, 0.0]


def test_model_weights_and_activations_quantized_at_every_layer() -> None:
    torch.manual_seed(0)
    model = make_model("lenet", width=0.125, image_size=16, bits=2)
    for name, q in quantized_weights(model).items():
        assert len(torch.unique(q)) <= 4, name
    set_bits(model, 8)
    assert all(m.bits == 8 for m in model.modules() if isinstance(m, QConv2d | ActQuant))


def test_check_bits_rejects_unsupported() -> None:
    with pytest.raises(InputError, match="bits"):
        check_bits(3)
