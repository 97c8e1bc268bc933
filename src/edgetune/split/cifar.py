"""Loaders for the CIFAR-10 / CIFAR-100 "python version" pickle batches at a user-given path.

The JQODI paper (004, Section V-A) pre-trains on CIFAR-10 and fine-tunes on 10 classes of CIFAR-100.
The archives are not downloaded here (no network at run time): pass the extracted folder
(``cifar-10-batches-py`` with ``data_batch_1..5`` and ``test_batch``; ``cifar-100-python`` with ``train``
and ``test``). Each file is a pickled dict with ``b"data"`` (N x 3072 uint8, channel-major 3x32x32) and
``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` / ``b"coarse_labels"`` (CIFAR-100).

Pickle can run code while loading: only point these loaders at files you trust.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgetune.errors import InputError

CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


def _load_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise InputError("cifar", str(path), "no such file")
    try:
        with path.open("rb") as fh:
            batch: Any = pickle.load(fh, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise InputError("cifar", str(path), f"not a CIFAR pickle: {exc}") from None
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise InputError("cifar", str(path), f"expected a dict with b'data' and {label_key!r}")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise InputError("cifar", str(path), f"data {data.shape} / labels {labels.shape}: expected (N, 3072) / (N,)")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | os.PathLike[str], split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images (N, 3, 32, 32) uint8 and labels (N,) int64 from ``root``.

    Parameters
    ----------
    root : path
        Folder holding ``data_batch_1..5`` and ``test_batch`` (missing training batches are an error).
    split : {"train", "test"}
    """
    folder = Path(root)
    if split not in ("train", "test"):
        raise InputError("split", split, "must be 'train' or 'test'")
    names = CIFAR10_TRAIN if split == "train" else ("test_batch",)
    parts = [_load_batch(folder / n, b"labels") for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_cifar100(
    root: str | os.PathLike[str], split: str = "train", label: str = "fine"
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-100 images (N, 3, 32, 32) uint8 and fine/coarse labels from ``root/{train,test}``."""
    if split not in ("train", "test"):
        raise InputError("split", split, "must be 'train' or 'test'")
    if label not in ("fine", "coarse"):
        raise InputError("label", label, "must be 'fine' or 'coarse'")
    return _load_batch(Path(root) / split, f"{label}_labels".encode())


def select_classes(images: np.ndarray, labels: np.ndarray, classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Keep only ``classes`` and relabel them 0..len(classes)-1 (the paper's "10 classes of CIFAR-100")."""
    remap = {c: i for i, c in enumerate(classes)}
    keep = np.isin(labels, classes)
    return images[keep], np.array([remap[int(c)] for c in labels[keep]], dtype=np.int64)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 3, 32, 32) -> float tensor in [0, 1]."""
    return torch.as_tensor(images, dtype=torch.float32) / 255.0
