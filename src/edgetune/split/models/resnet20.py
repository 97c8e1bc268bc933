"""ResNet20 of the JQODI paper (004), footnotes 1 and 5 (He et al., CIFAR variant).

    16C3 - p1 - Block(16, 3, 1) - p2 - Block(32, 3, 1) - p3 - Block(64, 3, 1) - p4 - FC

Reading of the footnote: ``Block(c, 3, .)`` is a *stage* of three basic residual blocks with c channels
(each basic block = two 3x3 conv + batch-norm layers and an identity/1x1 shortcut), which gives the
1 + 3*3*2 + 1 = 20 weighted layers of ResNet20. The footnote writes stride 1 for every stage; we keep
He et al.'s strides (1, 2, 2) because with stride 1 everywhere the network is not ResNet20 and the FC
input would be 64x32x32. The strides are a config field. Five blocks, partition points p1..p4.
Shapes below for a 3x32x32 input at width 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edgetune.split.models.base import ModelConfig, SplitModel, register_model
from edgetune.split.quant import ActQuant, QConv2d, QLinear


@dataclass(frozen=True)
class ResNet20Config(ModelConfig):
    """ResNet20 widths and strides (before the width multiplier)."""

    stem_channels: int = 16
    stage_channels: tuple[int, int, int] = (16, 32, 64)
    stage_strides: tuple[int, int, int] = (1, 2, 2)
    blocks_per_stage: int = 3


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU; activations fake-quantized after each ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, bits: int) -> None:
        super().__init__()
        self.conv1 = QConv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, bits=bits)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.q1 = ActQuant(bits)
        self.conv2 = QConv2d(c_out, c_out, 3, padding=1, bias=False, bits=bits)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.q2 = ActQuant(bits)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                QConv2d(c_in, c_out, 1, stride=stride, bias=False, bits=bits), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.q1(torch.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.q2(torch.relu(out + self.shortcut(x)))


@register_model("resnet20", ResNet20Config)
def build(cfg: ResNet20Config) -> SplitModel:
    """Build ResNet20 as five blocks: stem, three stages, classifier."""
    b = cfg.bits
    stem = cfg.ch(cfg.stem_channels)
    blocks: list[tuple[str, nn.Module]] = [
        (
            "16C3",
            nn.Sequential(
                QConv2d(cfg.in_channels, stem, 3, padding=1, bias=False, bits=b),
                nn.BatchNorm2d(stem),
                nn.ReLU(),
                ActQuant(b),
            ),
        )  # (B,3,32,32) -> (B,16,32,32)
    ]
    c_in = stem
    for c, stride in zip(cfg.stage_channels, cfg.stage_strides, strict=True):
        c_out = cfg.ch(c)
        stage = [BasicBlock(c_in, c_out, stride, b)]
        stage += [BasicBlock(c_out, c_out, 1, b) for _ in range(cfg.blocks_per_stage - 1)]
        blocks.append((f"Block({c},{cfg.blocks_per_stage},{stride})", nn.Sequential(*stage)))
        c_in = c_out
    # stages: -> (B,16,32,32) -> (B,32,16,16) -> (B,64,8,8)
    blocks.append(
        (
            "FC",
            nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), QLinear(c_in, cfg.num_classes, bits=b)
            ),  # -> (B,64) -> (B,10)
        )
    )
    return SplitModel("resnet20", blocks, cfg)
