"""IDX reader on tiny IDX files the tests write; input resizing; digits device split."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.split.data import (
    FASHION_MNIST_DIR,
    device_data,
    device_split,
    load_fashion_mnist,
    read_idx,
    to_model_input,
)


def _write_idx(path: Path, arr: np.ndarray, code: int, compress: bool = False) -> Path:
    dtype = {0x08: "u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    raw = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}i", *arr.shape) + arr.astype(dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_ubyte_images(tmp_path: Path, compress: bool) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(_write_idx(tmp_path / "x.idx", arr, 0x08, compress))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


def test_read_idx_int_and_float(tmp_path: Path) -> None:
    ints = np.array([1, -2, 300000], dtype=np.int32)
    np.testing.assert_array_equal(read_idx(_write_idx(tmp_path / "i.idx", ints, 0x0C)), ints)
    floats = np.array([[0.5, -1.25]], dtype=np.float32)
    np.testing.assert_array_equal(read_idx(_write_idx(tmp_path / "f.idx", floats, 0x0D)), floats)


def test_read_idx_errors(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(InputError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">i", 10) + b"\x00")
    with pytest.raises(InputError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(InputError, match="no such file"):
        read_idx(tmp_path / "missing")


def test_load_fashion_mnist_layout_on_own_files(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([0, 1, 2, 3, 9], dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, 0x08, True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 0x08, True)
    x, y = load_fashion_mnist(tmp_path, "test")
    np.testing.assert_array_equal(x, images)
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3, 9]
    with pytest.raises(InputError, match="train-images"):
        load_fashion_mnist(tmp_path, "train")


@pytest.mark.skipif(not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file(), reason="dataset-fashion-mnist")
def test_debian_fashion_mnist() -> None:
    x, y = load_fashion_mnist(split="test")
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert sorted(set(y.tolist())) == list(range(10))


def test_to_model_input_scales_pads_and_repeats() -> None:
    img = np.full((2, 8, 8), 16.0)
    x = to_model_input(img, in_channels=3, image_size=28, content_size=20, max_value=16.0)
    assert x.shape == (2, 3, 28, 28)
    assert float(x[0, 0, 14, 14]) == pytest.approx(1.0)
    assert float(x[0, 0, 0, 0]) == 0.0  # zero padding around the 20x20 content
    assert float(x[0, :, 4:24, 4:24].min()) == pytest.approx(1.0)


def test_device_split_sizes_and_note() -> None:
    rng = np.random.default_rng(0)
    small = device_split(rng, 100, 50, image_size=16)
    assert small.x_train.shape == (100, 1, 16, 16) and small.x_val.shape == (50, 1, 16, 16)
    assert small.note == ""
    data1 = device_data(np.random.default_rng(0), "data1", image_size=16)
    assert (len(data1.y_train), len(data1.y_val)) == (1297, 500)
    assert "1797" in data1.note
    with pytest.raises(InputError):
        device_data(rng, "data3")
