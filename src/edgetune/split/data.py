"""Offline data for split fine-tuning: Fashion-MNIST (cloud pre-training) and digits (device fine-tuning).

The JQODI paper (004, Section V-A) pre-trains every model on CIFAR-10 in the cloud and fine-tunes on the
device with a smaller, different set: Data 1 = 2000 training / 500 validation images, Data 2 = 5000 / 1000
images from 10 classes of CIFAR-100. Offline, edgetune uses

* **cloud**: Fashion-MNIST, read from the IDX files that Debian's ``dataset-fashion-mnist`` installs in
  ``/usr/share/datasets/fashion-mnist`` (``train-images-idx3-ubyte.gz`` ...), with numpy only;
* **device**: scikit-learn's ``load_digits`` (1797 8x8 images, 10 classes), each image scaled to 20x20
  and centred in the model's input frame (as MNIST centres digits in 28x28), repeated over channels.

Digits has only 1797 images, so Data 1 is 1297 / 500 (the paper's 2000 / 500 capped) and Data 2 is
797 / 1000 (the paper's 5000 / 1000 capped: the validation size is kept, the training set is what is
left); :func:`device_split` reports the sizes it really used. CIFAR pickles: :mod:`edgetune.split.cifar`.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from edgetune.errors import InputError
from edgetune.split.config import DATA_SPECS

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` puts the IDX files (override: ``EDGETUNE_FASHION_MNIST``)."""

_IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    Format (LeCun's MNIST page): two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B short,
    0x0C int, 0x0D float, 0x0E double), the number of dimensions, then one big-endian int32 per dimension
    and the data in C order.

    Raises
    ------
    InputError
        Missing file, bad magic, unknown type or truncated data.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("idx", str(p), "no such file")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError("idx", str(p), "bad magic number (not an IDX file)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise InputError("idx", str(p), f"unknown data type code 0x{code:02x}")
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">i4"))
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(dims)) if dims else 1
    if len(raw) - header < count * dtype.itemsize:
        raise InputError("idx", str(p), f"truncated: {dims} needs {count * dtype.itemsize} bytes")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def fashion_mnist_dir() -> Path:
    """The Fashion-MNIST folder: ``$EDGETUNE_FASHION_MNIST`` or the Debian package's path."""
    return Path(os.environ.get("EDGETUNE_FASHION_MNIST", str(FASHION_MNIST_DIR)))


def load_fashion_mnist(
    root: str | os.PathLike[str] | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images (N, 28, 28) uint8 and labels (N,) int64 from the IDX files.

    Parameters
    ----------
    root : path, optional
        Folder with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``; default :func:`fashion_mnist_dir`.
    split : {"train", "test"}
        Which half.
    """
    if split not in ("train", "test"):
        raise InputError("split", split, "must be 'train' or 'test'")
    folder = Path(root) if root is not None else fashion_mnist_dir()
    prefix = "train" if split == "train" else "t10k"

    def find(stem: str) -> Path:
        for name in (f"{prefix}-{stem}-ubyte.gz", f"{prefix}-{stem}-ubyte"):
            if (folder / name).is_file():
                return folder / name
        raise InputError(
            "fashion_mnist",
            str(folder),
            f"no {prefix}-{stem}-ubyte[.gz] (apt-get install dataset-fashion-mnist)",
        )

    images = read_idx(find("images-idx3"))
    labels = read_idx(find("labels-idx1")).astype(np.int64)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise InputError("fashion_mnist", str(folder), f"shapes {images.shape} / {labels.shape} do not match")
    return images, labels


def to_model_input(
    images: np.ndarray,
    in_channels: int,
    image_size: int,
    content_size: int | None = None,
    max_value: float = 255.0,
) -> torch.Tensor:
    """Images (N, H, W) -> float tensor (N, C, S, S) in [0, 1], scaled and centred, channels repeated.

    Parameters
    ----------
    images : numpy.ndarray
        Grey images (N, H, W).
    in_channels, image_size : int
        Model input channels C and side S.
    content_size : int, optional
        Side the image content is scaled to before zero-padding to S (default: S).
    max_value : float
        Pixel value that maps to 1.0.
    """
    x = torch.as_tensor(np.asarray(images, dtype=np.float32) / max_value).unsqueeze(1)
    side = image_size if content_size is None else min(content_size, image_size)
    if x.shape[-1] != side or x.shape[-2] != side:
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False).clamp_(0.0, 1.0)
    pad = image_size - side
    if pad:
        x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
    return x.repeat(1, in_channels, 1, 1).contiguous()


@dataclass(frozen=True)
class Split:
    """A training/validation split of tensors; ``note`` says where sizes differ from the request."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    note: str = ""


def device_split(
    rng: np.random.Generator, n_train: int, n_val: int, in_channels: int = 1, image_size: int = 28
) -> Split:
    """The device's fine-tuning set from scikit-learn digits, resized/padded to the model input.

    Validation images are drawn first (``n_val``, capped so that at least 100 training images remain);
    training takes up to ``n_train`` of the rest. Sizes that could not be met are reported in ``note``.
    """
    from sklearn.datasets import load_digits

    if n_train < 1 or n_val < 1:
        raise InputError("device_split", (n_train, n_val), "sizes must be >= 1")
    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float32)
    labels = np.asarray(digits.target, dtype=np.int64)
    order = rng.permutation(len(labels))
    val_n = min(n_val, len(labels) - 100)
    train_n = min(n_train, len(labels) - val_n)
    val_idx, train_idx = order[:val_n], order[val_n : val_n + train_n]
    content = max(8, round(image_size * 20 / 28))
    note = ""
    if (train_n, val_n) != (n_train, n_val):
        note = f"digits has {len(labels)} images: used {train_n}/{val_n} instead of {n_train}/{n_val}"
    return Split(
        to_model_input(images[train_idx], in_channels, image_size, content, 16.0),
        torch.as_tensor(labels[train_idx]),
        to_model_input(images[val_idx], in_channels, image_size, content, 16.0),
        torch.as_tensor(labels[val_idx]),
        note,
    )


def device_data(rng: np.random.Generator, name: str, in_channels: int = 1, image_size: int = 28) -> Split:
    """The paper's Data 1 / Data 2 sizes (:data:`DATA_SPECS`) drawn from digits (capped, see ``note``)."""
    if name not in DATA_SPECS:
        raise InputError("data", name, f"choose from {sorted(DATA_SPECS)}")
    n_train, n_val = DATA_SPECS[name]
    return device_split(rng, n_train, n_val, in_channels, image_size)


def cloud_split(
    rng: np.random.Generator,
    n_train: int,
    n_val: int,
    in_channels: int = 1,
    image_size: int = 28,
    root: str | os.PathLike[str] | None = None,
) -> Split:
    """A random subset of Fashion-MNIST (train half for training, test half for validation)."""
    x_tr, y_tr = load_fashion_mnist(root, "train")
    x_te, y_te = load_fashion_mnist(root, "test")
    tr = rng.choice(len(y_tr), size=min(n_train, len(y_tr)), replace=False)
    te = rng.choice(len(y_te), size=min(n_val, len(y_te)), replace=False)
    return Split(
        to_model_input(x_tr[tr], in_channels, image_size),
        torch.as_tensor(y_tr[tr]),
        to_model_input(x_te[te], in_channels, image_size),
        torch.as_tensor(y_te[te]),
    )
