"""Model state <-> Flower records, and the checksum that proves two copies of a model are equal.

A model state is an ordered mapping ``name -> numpy array`` (a PyTorch ``state_dict`` turned into
NumPy). :func:`state_checksum` hashes names, dtypes, shapes and raw bytes in name order, so two
states have the same checksum exactly when they are bit-for-bit equal.

:func:`to_record` packs a whole state into **one** Flower ``Array`` (the :func:`pack` frame: a JSON
header of names, dtypes and shapes, then the raw bytes). Flower 1.41 stores and moves every record
and every array of a message as a separate content-addressed object, one HTTP request each on every
hop (ServerApp -> SuperLink -> SuperNode -> ClientApp and back); one array per tensor made a LoRA
message of a few hundred KB cost dozens of requests per node and direction. Packed, a message is a
handful of objects whatever the model. :func:`from_record` reads both forms, bit for bit.

**On the wire** (:func:`attach` / :func:`detach`) a packed state of at most :data:`INLINE_MAX_BYTES`
(Flower's own chunk size) travels *inside* the message's config record, as the bytes value
:data:`PACKED_KEY`, instead of as an ``ArrayRecord`` -> ``Array`` -> chunk: three objects (message,
record dict, config record) instead of six or seven, each one request on every hop. A larger state
travels as the packed ``ArrayRecord`` (Flower splits its array into chunks).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, RecordDict
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


def record_bytes(record: ArrayRecord) -> int:
    """Bytes of a record's serialised arrays: the array payload a Flower message carries."""
    return int(sum(len(a.data) for a in record.values()))


#: Name and serialisation type (Flower's ``Array.stype``) of the one array of a packed record.
PACKED_KEY = "edgetune-state"
PACKED_STYPE = "edgetune.etw1"


def to_record(state: Mapping[str, NDArray[np.generic]]) -> ArrayRecord:
    """A Flower ``ArrayRecord`` holding ``state`` as one packed array (:func:`pack`; names, dtypes, shapes kept)."""
    frame = pack({}, state)
    return ArrayRecord({PACKED_KEY: Array(dtype="uint8", shape=(len(frame),), stype=PACKED_STYPE, data=frame)})


def from_record(record: ArrayRecord) -> State:
    """The model state held by a Flower ``ArrayRecord``: packed by :func:`to_record`, or one array per tensor."""
    if PACKED_KEY in record:
        packed = record[PACKED_KEY]
        if len(record) != 1 or packed.stype != PACKED_STYPE:
            raise ValueError(f"a packed record holds exactly one {PACKED_STYPE!r} array named {PACKED_KEY!r}")
        _, state = unpack(packed.data)
        return state
    return {k: v.numpy() for k, v in record.items()}


#: Largest packed frame that travels inline in a config record (bytes): Flower 1.41's chunk size
#: (``flwr.common.constant.FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE``, 5 MiB); a larger array is split into chunks anyway.
INLINE_MAX_BYTES = 5 * 1024 * 1024


def attach(content: RecordDict, arrays: ArrayRecord, config: str, fallback: str) -> int:
    """Put the packed ``arrays`` into a message's ``content``; returns the bytes they carry.

    Inline as the bytes value :data:`PACKED_KEY` of the config record named ``config`` (which must
    exist) when the frame is at most :data:`INLINE_MAX_BYTES`; otherwise as the record itself, named
    ``fallback``. An ``arrays`` that is not packed (one array per tensor) always goes as the record.
    """
    packed = arrays.get(PACKED_KEY)
    if packed is not None and len(arrays) == 1 and len(packed.data) <= INLINE_MAX_BYTES:
        content.config_records[config][PACKED_KEY] = packed.data
        return len(packed.data)
    content[fallback] = arrays
    return record_bytes(arrays)


def detach(content: RecordDict, config: str, fallback: str) -> ArrayRecord | None:
    """The ``ArrayRecord`` :func:`attach` put into ``content`` (``None`` if it holds none)."""
    cfg = content.config_records.get(config)
    frame = None if cfg is None else cfg.get(PACKED_KEY)
    if isinstance(frame, bytes):
        return ArrayRecord({PACKED_KEY: Array(dtype="uint8", shape=(len(frame),), stype=PACKED_STYPE, data=frame)})
    return content.array_records.get(fallback)


def carried_bytes(content: RecordDict, config: str, fallback: str) -> int:
    """Array bytes a message's ``content`` carries (0 if none): what :func:`attach` returned."""
    arrays = detach(content, config, fallback)
    return 0 if arrays is None else record_bytes(arrays)


#: Prefix of one node's own keys in the config record all messages of a push share.
NODE_PREFIX = "node."


def node_config(config: Mapping[str, Any], flower_node_id: int) -> dict[str, Any]:
    """One node's settings: the shared keys, overlaid by its own ``node.<flower_node_id>.<key>`` keys."""
    own = f"{NODE_PREFIX}{flower_node_id}."
    out = {k: v for k, v in config.items() if not k.startswith(NODE_PREFIX)}
    out.update({k[len(own) :]: v for k, v in config.items() if k.startswith(own)})
    return out


def scalar(value: object) -> float:
    """A record value that must be one number (``int``/``float``/``bool``/numeric ``str``) as ``float``."""
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise TypeError(f"expected a number in the record, got {type(value).__name__}")


_MAGIC = b"ETW1"


def pack(header: Mapping[str, object], state: Mapping[str, NDArray[np.generic]] | None = None) -> bytes:
    """One frame: ``ETW1``, the JSON header's length (4 bytes, big-endian), the header, raw array bytes.

    The header gains ``"arrays": [[name, dtype, shape], ...]`` (in the order of the bytes), so
    :func:`unpack` needs no pickle: a peer can send only numbers, strings and arrays.
    """
    arrays = [(k, np.asarray(v, order="C")) for k, v in (state or {}).items()]  # 0-d stays 0-d
    if any(a.dtype.hasobject for _, a in arrays):
        raise ValueError("object arrays cannot be packed")
    head = dict(header)
    head["arrays"] = [[k, a.dtype.str, list(a.shape)] for k, a in arrays]
    text = json.dumps(head).encode()
    return b"".join([_MAGIC, len(text).to_bytes(4, "big"), text, *(a.tobytes() for _, a in arrays)])


def unpack(frame: bytes) -> tuple[dict[str, object], State]:
    """Inverse of :func:`pack`: the header and the arrays (copies, writable)."""
    if frame[:4] != _MAGIC:
        raise ValueError("not an edgetune trainer frame")
    n = int.from_bytes(frame[4:8], "big")
    head: dict[str, object] = json.loads(frame[8 : 8 + n])
    state: State = {}
    pos = 8 + n
    specs = head.pop("arrays")
    if not isinstance(specs, list):
        raise ValueError("frame header without an array list")
    for name, dtype, shape in specs:
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError("object arrays are not accepted")
        count = int(np.prod(shape, dtype=np.int64))
        size = count * dt.itemsize
        if pos + size > len(frame):
            raise ValueError("frame shorter than its header says")
        state[str(name)] = np.frombuffer(frame, dtype=dt, count=count, offset=pos).reshape(shape).copy()
        pos += size
    if pos != len(frame):
        raise ValueError("frame longer than its header says")
    return head, state
