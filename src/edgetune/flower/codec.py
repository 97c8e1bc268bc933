"""Model state <-> Flower records, and the checksum that proves two copies of a model are equal.

A model state is an ordered mapping ``name -> numpy array`` (a PyTorch ``state_dict`` turned into
NumPy). :func:`state_checksum` hashes names, dtypes, shapes and raw bytes in name order, so two
states have the same checksum exactly when they are bit-for-bit equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
from flwr.app import Array, ArrayRecord
from numpy.typing import NDArray

State = dict[str, NDArray[np.generic]]


def state_checksum(state: Mapping[str, NDArray[np.generic]]) -> str:
    """SHA-256 (hex) of a model state, independent of the mapping's insertion order."""
    h = hashlib.sha256()
    for name in sorted(state):
        arr = np.ascontiguousarray(state[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(repr(tuple(arr.shape)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def state_bytes(state: Mapping[str, NDArray[np.generic]]) -> int:
    """Raw size of a state's arrays in bytes (what a message moves, before framing)."""
    return int(sum(np.asarray(a).nbytes for a in state.values()))


def to_record(state: Mapping[str, NDArray[np.generic]]) -> ArrayRecord:
    """A Flower ``ArrayRecord`` holding ``state`` (names kept)."""
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in state.items()})


def from_record(record: ArrayRecord) -> State:
    """The model state held by a Flower ``ArrayRecord``."""
    return {k: v.numpy() for k, v in record.items()}


def scalar(value: object) -> float:
    """A record value that must be one number (``int``/``float``/``bool``/numeric ``str``) as ``float``."""
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise TypeError(f"expected a number in the record, got {type(value).__name__}")
