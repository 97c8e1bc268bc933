"""Shared pieces of the split models: the base config, the block-sequence model and the registry.

A :class:`SplitModel` is a plain sequence of blocks l_1..l_n (JQODI paper 004, Section III-B): partition
point p_j puts blocks 1..j on the end device and j+1..n on the edge server, so the allowed partition points
are 1..n-1 and they are exactly the footnote 4-6 points of each architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from edgetune.errors import InputError
from edgetune.split.quant import FULL_PRECISION_BITS, check_bits


@dataclass(frozen=True)
class ModelConfig:
    """Options every split model takes.

    Parameters
    ----------
    in_channels : int
        Input channels (1 for Fashion-MNIST/digits, 3 for CIFAR).
    image_size : int
        Input height = width in pixels (e.g. 28 or 32); must survive the model's poolings.
    num_classes : int
        Output classes.
    width : float
        Channel/unit multiplier (1.0 = the paper's widths; e.g. 0.125 for fast tests).
    bits : int
        Quantization bit-width of weights and activations (32 = full precision).
    """

    in_channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    width: float = 1.0
    bits: int = FULL_PRECISION_BITS

    def validate(self) -> None:
        """Raise :class:`InputError` on an unusable configuration."""
        if self.in_channels < 1:
            raise InputError("in_channels", self.in_channels, "must be >= 1")
        if self.image_size < 8:
            raise InputError("image_size", self.image_size, "must be >= 8")
        if self.num_classes < 2:
            raise InputError("num_classes", self.num_classes, "must be >= 2")
        if not 0 < self.width <= 4:
            raise InputError("width", self.width, "must be in (0, 4]")
        check_bits(self.bits)

    def ch(self, channels: int) -> int:
        """``channels`` scaled by the width multiplier (at least 1)."""
        return max(1, round(channels * self.width))


class SplitModel(nn.Module):
    """A model as an explicit sequence of blocks whose boundaries are the partition points.

    Parameters
    ----------
    name : str
        Registry name of the architecture.
    blocks : list of (str, nn.Module)
        The blocks l_1..l_n in order with a short label each (e.g. ``"64C3-MP2"``).
    config : ModelConfig
        The configuration the model was built from.
    """

    def __init__(self, name: str, blocks: list[tuple[str, nn.Module]], config: ModelConfig) -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.labels = [label for label, _ in blocks]
        self.blocks = nn.ModuleList([block for _, block in blocks])

    @property
    def n_blocks(self) -> int:
        """Number of blocks n."""
        return len(self.blocks)

    @property
    def partitions(self) -> list[int]:
        """Allowed partition points j = 1..n-1 (blocks 1..j on the device)."""
        return list(range(1, self.n_blocks))

    def forward_range(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Run blocks ``start+1 .. stop`` (1-based, i.e. ``self.blocks[start:stop]``) on ``x``."""
        for block in self.blocks[start:stop]:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_range(x, 0, self.n_blocks)


ModelBuilder = Callable[..., SplitModel]
_MODELS: dict[str, tuple[type[ModelConfig], ModelBuilder]] = {}


def register_model(name: str, config_cls: type[ModelConfig]) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator registering ``build(config) -> SplitModel`` under ``name`` with its config class."""

    def deco(fn: ModelBuilder) -> ModelBuilder:
        _MODELS[name] = (config_cls, fn)
        return fn

    return deco


def model_names() -> list[str]:
    """Registered model names."""
    return sorted(_MODELS)


def make_model(name: str, **options: object) -> SplitModel:
    """Build the registered model ``name`` with config options (``in_channels``, ``width``, ``bits`` ...).

    Raises
    ------
    InputError
        Unknown name or unusable options.
    """
    if name not in _MODELS:
        raise InputError("model", name, f"unknown; choose from {model_names()}")
    config_cls, build = _MODELS[name]
    try:
        config = config_cls(**options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InputError("model options", options, str(exc)) from None
    config.validate()
    return build(config)
