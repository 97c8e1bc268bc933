"""The paper's three CNNs: block structure = partition points of footnotes 4-6, shapes, width."""

from __future__ import annotations

import pytest
import torch

from edgetune.errors import InputError
from edgetune.split.models import make_model, model_names


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("lenet", ["64C3-MP2", "128C3-MP2", "128C3-MP2", "1024FC", "10SVM"]),
        ("resnet20", ["16C3", "Block(16,3,1)", "Block(32,3,2)", "Block(64,3,2)", "FC"]),
        ("vgg", ["128C3", "128C3-MP2", "256C3", "256C3", "MP2-1024FC", "10SVM"]),
    ],
)
def test_blocks_and_partition_points(name: str, labels: list[str]) -> None:
    model = make_model(name, width=0.125)
    assert model.labels == labels
    assert model.partitions == list(range(1, len(labels)))  # p1..p4 (p5 for VGG-like)


@pytest.mark.parametrize("name", ["lenet", "resnet20", "vgg"])
@pytest.mark.parametrize(("channels", "size"), [(1, 28), (3, 32)])
def test_output_shape(name: str, channels: int, size: int) -> None:
    model = make_model(name, width=0.0625, in_channels=channels, image_size=size, num_classes=7)
    assert model(torch.rand(2, channels, size, size)).shape == (2, 7)


def test_full_width_matches_paper_channels() -> None:
    lenet = make_model("lenet", in_channels=3, image_size=32)
    convs = [m.out_channels for m in lenet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [64, 128, 128]
    fcs = [m.out_features for m in lenet.modules() if isinstance(m, torch.nn.Linear)]
    assert fcs == [1024, 10]
    resnet = make_model("resnet20", in_channels=3, image_size=32)
    n_conv3 = sum(1 for m in resnet.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert n_conv3 == 19  # + 1 FC = the 20 weighted layers of ResNet20
    vgg = make_model("vgg", in_channels=3, image_size=32)
    assert [m.out_channels for m in vgg.modules() if isinstance(m, torch.nn.Conv2d)] == [128, 128, 256, 256]


def test_registry_and_bad_options() -> None:
    assert model_names() == ["lenet", "resnet20", "vgg"]
    with pytest.raises(InputError, match="model"):
        make_model("alexnet")
    with pytest.raises(InputError, match="bits"):
        make_model("lenet", bits=5)
    with pytest.raises(InputError):
        make_model("lenet", depth=3)
