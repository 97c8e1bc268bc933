"""LeNet-like model of the JQODI paper (004), footnotes 2 and 4.

    64C3 - MP2 - p1 - 128C3 - MP2 - p2 - 128C3 - MP2 - p3 - 1024FC - p4 - 10SVM

C3 is a 3x3 ReLU convolution (padding 1), MP2 a 2x2 max-pooling, 1024FC a ReLU fully-connected layer and
"10SVM" the 10-way output layer (a linear layer trained with cross entropy, as the paper's footnote says).
Five blocks, partition points p1..p4 between them. Shapes below for a 1x28x28 input at width 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgetune.split.models.base import ModelConfig, SplitModel, register_model
from edgetune.split.quant import ActQuant, QConv2d, QLinear


@dataclass(frozen=True)
class LeNetConfig(ModelConfig):
    """LeNet-like widths (before the width multiplier)."""

    conv_channels: tuple[int, int, int] = (64, 128, 128)
    fc_hidden: int = 1024


def _conv_pool(c_in: int, c_out: int, bits: int) -> nn.Sequential:
    return nn.Sequential(QConv2d(c_in, c_out, 3, padding=1, bits=bits), nn.ReLU(), nn.MaxPool2d(2), ActQuant(bits))


@register_model("lenet", LeNetConfig)
def build(cfg: LeNetConfig) -> SplitModel:
    """Build the LeNet-like model as five blocks."""
    c1, c2, c3 = (cfg.ch(c) for c in cfg.conv_channels)
    hidden = cfg.ch(cfg.fc_hidden)
    side = cfg.image_size // 2 // 2 // 2
    b = cfg.bits
    blocks: list[tuple[str, nn.Module]] = [
        ("64C3-MP2", _conv_pool(cfg.in_channels, c1, b)),  # (B,1,28,28) -> (B,64,14,14)
        ("128C3-MP2", _conv_pool(c1, c2, b)),  # -> (B,128,7,7)
        ("128C3-MP2", _conv_pool(c2, c3, b)),  # -> (B,128,3,3)
        (
            "1024FC",
            nn.Sequential(nn.Flatten(), QLinear(c3 * side * side, hidden, bits=b), nn.ReLU(), ActQuant(b)),
        ),  # -> (B,1024)
        ("10SVM", QLinear(hidden, cfg.num_classes, bits=b)),  # -> (B,10) logits
    ]
    return SplitModel("lenet", blocks, cfg)
