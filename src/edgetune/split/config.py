"""Light configuration records of split fine-tuning (no torch import: the CLI parsers use them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

DATA_SPECS: dict[str, tuple[int, int]] = {"data1": (2000, 500), "data2": (5000, 1000)}
"""The paper's device data sets as (training, validation) image counts (capped by digits' 1797)."""


@dataclass(frozen=True)
class RecordConfig:
    """How curves are recorded (small by default: tiny widths, few epochs, 16x16 inputs).

    Parameters
    ----------
    width : float
        Model width multiplier.
    image_size, in_channels : int
        Model input.
    data : str
        Device data set (``"data1"`` or ``"data2"``, :data:`edgetune.split.data.DATA_SPECS`).
    n_train, n_val : int or None
        Caps on the device set (None = the data set's own sizes).
    epochs : int
        Fine-tuning horizon (epochs after quantization).
    batch_size : int
        Fine-tuning batch size.
    pretrain_images, pretrain_epochs : int
        Cloud pre-training on Fashion-MNIST.
    data_seed : int
        Seed of the data draws (the same device data for every curve).
    """

    width: float = 0.125
    image_size: int = 16
    in_channels: int = 1
    data: str = "data1"
    n_train: int | None = 400
    n_val: int | None = 300
    epochs: int = 30
    batch_size: int = 64
    pretrain_images: int = 3000
    pretrain_epochs: int = 2
    data_seed: int = 0

    def key(self) -> str:
        """Short hash of the configuration (cache key)."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def sizes(self) -> tuple[int, int]:
        """(training, validation) sizes requested from the device data."""
        n_train, n_val = DATA_SPECS[self.data]
        return (self.n_train or n_train, self.n_val or n_val)


@dataclass(frozen=True)
class ProfileConfig:
    """What :func:`build_instance` profiles.

    Parameters
    ----------
    models : tuple of str
        Model names (registry of :mod:`edgetune.split.models`).
    bits : tuple of int
        Bit-widths of the variants.
    device : str
        End-device profile (e.g. ``"pi5"``).
    servers : tuple of str
        Edge-server profiles.
    cloud : str
        Cloud profile.
    t_max_s : float
        Deadline T_max.
    l_max : float or None
        Target loss L_max; None = the largest per-model target of the estimator run.
    estimator : str
        ``"lstm"`` (the paper's learned predictors) or ``"powerlaw"``.
    calibrate_device : bool
        Use this host's measured training speed as the device's speed (and ε = rated power / speed).
    """

    models: tuple[str, ...] = ("lenet", "resnet20", "vgg")
    bits: tuple[int, ...] = (1, 2, 4, 6, 8, 32)
    device: str = "pi5"
    servers: tuple[str, ...] = ("rtx3090", "rtx4090")
    cloud: str = "a100"
    t_max_s: float = 180.0
    l_max: float | None = None
    estimator: str = "lstm"
    calibrate_device: bool = False
