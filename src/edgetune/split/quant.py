"""Quantization-aware training (QAT) of weights and activations at 1, 2, 4, 6, 8 bits (32 = full precision).

JQODI paper (004), Section V-A: the models are quantized with quantization-aware training [31]; the
candidate bit-widths are {1, 2, 4, 6, 8} plus the full-precision model (32). Every quantizer here is a
*fake* quantizer: the forward pass rounds to at most ``2**bits`` levels, the backward pass is a
straight-through estimator (STE), so the latent weights stay in float32 and are what the optimizer updates.

Why not ``torch.ao.quantization.FakeQuantize`` modules as such: with ``quant_min/quant_max`` narrowed to
b bits they work for 2-8 bits, but at 1 bit the symmetric scheme has the range [-1, 0] and maps *every*
weight to 0 (one distinct value; checked with torch 2.13), and the affine scheme keeps 0 exactly
representable, so 1-bit weights become {0, s} instead of {-s, +s}. We therefore call the ATen kernel
behind ``FakeQuantize`` (``torch.fake_quantize_per_tensor_affine``, which already implements the
clipped STE) directly with narrowed ranges for 2-8 bits, and use a small documented sign/STE
binarizer (BinaryConnect / XNOR-Net style: ``alpha * sign(w)``, ``alpha = mean |w|``) for 1-bit weights.

Schemes
-------
* Weights, b >= 2: symmetric, narrow range ``[-(2^(b-1)-1), 2^(b-1)-1]`` (``2^b - 1`` levels, e.g. ternary
  at 2 bits), per-tensor scale ``max|w| / (2^(b-1)-1)``.
* Weights, b = 1: ``alpha * sign(w)`` (2 levels), gradient passed where ``|w| <= 1`` (hard-tanh STE).
* Activations (always non-negative here: they follow a ReLU or a max-pool of ReLUs): unsigned
  ``[0, 2^b - 1]``, scale from an exponential moving average of the batch maximum (updated in training,
  frozen in eval); values above the range are clipped and get zero gradient (the kernel's STE mask).
* Biases and batch-norm parameters stay in float32 (they are counted at 32 bits by the profiler).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from edgetune.errors import InputError

FULL_PRECISION_BITS = 32
SUPPORTED_BITS: tuple[int, ...] = (1, 2, 4, 6, 8, 32)


def check_bits(bits: int, field: str = "bits") -> int:
    """Return ``bits`` if it is one of :data:`SUPPORTED_BITS`, else raise :class:`InputError`."""
    if bits not in SUPPORTED_BITS:
        raise InputError(field, bits, f"must be one of {list(SUPPORTED_BITS)}")
    return bits


class _SignSTE(torch.autograd.Function):
    """sign(w) in {-1, +1} forward; identity gradient where |w| <= 1 (hard-tanh STE) backward."""

    @staticmethod
    def forward(ctx: Any, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(w)
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        (w,) = ctx.saved_tensors
        return grads[0] * (w.abs() <= 1).to(grads[0].dtype)


def quantize_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Fake-quantize a weight tensor to ``bits`` bits (at most ``2**bits`` distinct values), STE backward.

    Parameters
    ----------
    w : torch.Tensor
        Latent float32 weights.
    bits : int
        One of :data:`SUPPORTED_BITS`; 32 returns ``w`` unchanged.

    Returns
    -------
    torch.Tensor
        Tensor of ``w``'s shape whose values lie on the b-bit grid.
    """
    if bits >= FULL_PRECISION_BITS:
        return w
    if bits == 1:
        alpha = w.detach().abs().mean().clamp_min(1e-8)
        return _SignSTE.apply(w) * alpha
    qmax = 2 ** (bits - 1) - 1
    scale = (w.detach().abs().max() / qmax).clamp_min(1e-8).reshape(1).float()
    zero = torch.zeros(1, dtype=torch.int32)
    return torch.fake_quantize_per_tensor_affine(w, scale, zero, -qmax, qmax)


class ActQuant(nn.Module):
    """Unsigned fake quantizer for non-negative activations: ``[0, 2^b - 1] * scale``, clipped STE.

    Parameters
    ----------
    bits : int
        Bit-width; 32 makes the module the identity.
    momentum : float
        Weight of the newest batch maximum in the running range (exponential moving average).
    """

    running_max: torch.Tensor

    def __init__(self, bits: int = FULL_PRECISION_BITS, momentum: float = 0.1) -> None:
        super().__init__()
        self.bits = bits
        self.momentum = momentum
        self.register_buffer("running_max", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits >= FULL_PRECISION_BITS:
            return x
        if self.training:
            with torch.no_grad():
                batch_max = x.detach().max().reshape(1).clamp_min(1e-8)
                if float(self.running_max) <= 0.0:
                    self.running_max.copy_(batch_max)
                else:
                    self.running_max.mul_(1 - self.momentum).add_(self.momentum * batch_max)
        levels = 2**self.bits - 1
        scale = (self.running_max / levels).clamp_min(1e-8).float()
        zero = torch.zeros(1, dtype=torch.int32)
        return torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, levels)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


class QConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weight is fake-quantized to ``bits`` bits in every forward pass."""

    def __init__(self, *args: Any, bits: int = FULL_PRECISION_BITS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bits = bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, quantize_weight(self.weight, self.bits), self.bias)


class QLinear(nn.Linear):
    """``nn.Linear`` whose weight is fake-quantized to ``bits`` bits in every forward pass."""

    def __init__(self, *args: Any, bits: int = FULL_PRECISION_BITS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bits = bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, quantize_weight(self.weight, self.bits), self.bias)


def set_bits(model: nn.Module, bits: int) -> nn.Module:
    """Switch every quantizer of ``model`` (weights and activations) to ``bits`` bits, in place."""
    check_bits(bits)
    for module in model.modules():
        if isinstance(module, QConv2d | QLinear | ActQuant):
            module.bits = bits
    return model


def quantized_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights the quantized model M_(a,q) actually uses (fake-quantized), by parameter name."""
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, QConv2d | QLinear):
                out[f"{name}.weight"] = quantize_weight(module.weight, module.bits).clone()
    return out
