"""CIFAR-10/100 pickle loaders on small files in the python-version format that the tests write."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.split.cifar import load_cifar10, load_cifar100, select_classes, to_tensor


def _dump(path: Path, n: int, label_keys: dict[bytes, list[int]], fill: int) -> None:
    data = np.full((n, 3072), fill, dtype=np.uint8)
    data[:, 1024:2048] = 7  # green plane
    batch = {b"batch_label": b"test", b"data": data, b"filenames": [b"x.png"] * n, **label_keys}
    path.write_bytes(pickle.dumps(batch))


def test_cifar10_train_and_test(tmp_path: Path) -> None:
    for i in range(1, 6):
        _dump(tmp_path / f"data_batch_{i}", 2, {b"labels": [i, i + 1]}, fill=i)
    _dump(tmp_path / "test_batch", 3, {b"labels": [0, 1, 2]}, fill=9)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (10, 3, 32, 32) and x.dtype == np.uint8
    assert y.tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    assert int(x[0, 0, 0, 0]) == 1 and int(x[0, 1, 5, 5]) == 7  # channel-major layout
    xt, yt = load_cifar10(tmp_path, "test")
    assert xt.shape == (3, 3, 32, 32) and yt.tolist() == [0, 1, 2]
    t = to_tensor(xt)
    assert t.shape == (3, 3, 32, 32) and float(t.max()) == pytest.approx(9 / 255)


def test_cifar100_fine_coarse_and_class_selection(tmp_path: Path) -> None:
    _dump(tmp_path / "train", 4, {b"fine_labels": [5, 17, 5, 99], b"coarse_labels": [1, 2, 1, 19]}, fill=3)
    x, fine = load_cifar100(tmp_path, "train")
    _, coarse = load_cifar100(tmp_path, "train", label="coarse")
    assert x.shape == (4, 3, 32, 32)
    assert fine.tolist() == [5, 17, 5, 99] and coarse.tolist() == [1, 2, 1, 19]
    xs, ys = select_classes(x, fine, [17, 5])
    assert ys.tolist() == [1, 0, 1] and xs.shape[0] == 3


def test_cifar_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_cifar10(tmp_path)
    (tmp_path / "train").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"fine_labels": [0, 1]}))
    with pytest.raises(InputError, match="3072"):
        load_cifar100(tmp_path)
    (tmp_path / "test").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="CIFAR"):
        load_cifar100(tmp_path, "test")
