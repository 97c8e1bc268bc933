"""The JQODI paper's three CNNs as block sequences: LeNet-like, ResNet20, VGG-like (footnotes 1-6)."""

from edgetune.split.models import lenet, resnet20, vgg  # noqa: F401  (register the builders)
from edgetune.split.models.base import ModelConfig, SplitModel, make_model, model_names, register_model

__all__ = ["ModelConfig", "SplitModel", "make_model", "model_names", "register_model"]
