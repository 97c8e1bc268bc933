"""VGG-like model of the JQODI paper (004), footnotes 3 and 6.

    128C3 - p1 - 128C3 - MP2 - p2 - 256C3 - p3 - 256C3 - p4 - MP2 - 1024FC - p5 - 10SVM

i.e. 2x128C3 - MP2 - 2x256C3 - MP2 - 1024FC - 10SVM with six blocks and partition points p1..p5.
C3 is a 3x3 ReLU convolution (padding 1), MP2 a 2x2 max-pooling; "10SVM" is the 10-way output layer
trained with cross entropy. Shapes below for a 3x32x32 input at width 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgetune.split.models.base import ModelConfig, SplitModel, register_model
from edgetune.split.quant import ActQuant, QConv2d, QLinear


@dataclass(frozen=True)
class VGGConfig(ModelConfig):
    """VGG-like widths (before the width multiplier)."""

    conv_channels: tuple[int, int, int, int] = (128, 128, 256, 256)
    fc_hidden: int = 1024


def _conv(c_in: int, c_out: int, bits: int) -> list[nn.Module]:
    return [QConv2d(c_in, c_out, 3, padding=1, bits=bits), nn.ReLU(), ActQuant(bits)]


@register_model("vgg", VGGConfig)
def build(cfg: VGGConfig) -> SplitModel:
    """Build the VGG-like model as six blocks."""
    c1, c2, c3, c4 = (cfg.ch(c) for c in cfg.conv_channels)
    hidden = cfg.ch(cfg.fc_hidden)
    side = cfg.image_size // 2 // 2
    b = cfg.bits
    blocks: list[tuple[str, nn.Module]] = [
        ("128C3", nn.Sequential(*_conv(cfg.in_channels, c1, b))),  # (B,3,32,32) -> (B,128,32,32)
        ("128C3-MP2", nn.Sequential(*_conv(c1, c2, b), nn.MaxPool2d(2))),  # -> (B,128,16,16)
        ("256C3", nn.Sequential(*_conv(c2, c3, b))),  # -> (B,256,16,16)
        ("256C3", nn.Sequential(*_conv(c3, c4, b))),  # -> (B,256,16,16)
        (
            "MP2-1024FC",
            nn.Sequential(
                nn.MaxPool2d(2),
                nn.Flatten(),
                QLinear(c4 * side * side, hidden, bits=b),
                nn.ReLU(),
                ActQuant(b),
            ),
        ),  # -> (B,256,8,8) -> (B,1024)
        ("10SVM", QLinear(hidden, cfg.num_classes, bits=b)),  # -> (B,10) logits
    ]
    return SplitModel("vgg", blocks, cfg)
