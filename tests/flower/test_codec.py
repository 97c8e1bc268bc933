"""Model state <-> Flower records, checksums, and the FedSGD aggregation of the strategy."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, RecordDict
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from edgetune.flower.codec import (
    INLINE_MAX_BYTES,
    PACKED_KEY,
    PACKED_STYPE,
    attach,
    carried_bytes,
    detach,
    from_record,
    node_config,
    record_bytes,
    scalar,
    state_bytes,
    state_checksum,
    to_record,
)
from edgetune.flower.strategy import SYNC, TRAIN, EdgetuneStrategy
from edgetune.flower.task import LocalResult, NodeTask, State, TrainingTask
from edgetune.training.spec import TrainingSpec


def test_checksum_is_order_free_and_bit_exact() -> None:
    a = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(3, dtype=np.float32)}
    b = {"b": a["b"].copy(), "w": a["w"].copy()}
    assert state_checksum(a) == state_checksum(b)
    b["w"][1, 2] = np.nextafter(b["w"][1, 2], np.float32(10))
    assert state_checksum(a) != state_checksum(b)
    assert state_checksum(a) != state_checksum({"w": a["w"].reshape(3, 2), "b": a["b"]})  # shape counts


def test_record_round_trip_keeps_names_values_and_size() -> None:
    state = {"x.weight": np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)}
    back = from_record(to_record(state))
    assert list(back) == ["x.weight"]
    np.testing.assert_array_equal(back["x.weight"], state["x.weight"])
    assert state_bytes(state) == 80
    assert scalar(3) == 3.0 and scalar("2.5") == 2.5


def test_record_is_one_packed_array_whatever_the_state() -> None:
    """Flower moves every array as its own object (one request per hop): a state travels as one."""
    state = {f"layer{i}.lora_{ab}": np.full((3, 2), i, dtype=np.float32) for i in range(12) for ab in "AB"}
    record = to_record(state)
    assert list(record) == [PACKED_KEY] and record[PACKED_KEY].stype == PACKED_STYPE
    back = from_record(record)
    assert list(back) == list(state) and state_checksum(back) == state_checksum(state)


def test_record_keeps_odd_shapes_dtypes_and_layouts_bit_for_bit() -> None:
    state: dict[str, NDArray[np.generic]] = {
        "scalar": np.array(7, dtype=np.int64),  # 0-d stays 0-d
        "empty": np.zeros((0, 4), dtype=np.float32),
        "big-endian": np.arange(6, dtype=">f8").reshape(2, 3),
        "transposed": np.arange(12, dtype=np.float16).reshape(3, 4).T,  # not C-contiguous
        "flags": np.array([True, False, True]),
        "nan": np.array([np.nan, -0.0, np.inf], dtype=np.float32),
    }
    back = from_record(to_record(state))
    assert list(back) == list(state)
    for name, arr in state.items():
        assert back[name].dtype == arr.dtype and back[name].shape == arr.shape, name
        assert back[name].tobytes() == np.ascontiguousarray(arr).tobytes(), name
        assert back[name].flags.writeable
    assert from_record(to_record({})) == {}


def test_record_refuses_object_arrays_and_malformed_packs() -> None:
    with pytest.raises(ValueError, match="object"):
        to_record({"o": np.array([object()])})
    good = to_record({"w": np.ones(2, dtype=np.float32)})[PACKED_KEY]
    extra = ArrayRecord({PACKED_KEY: good, "w": Array(np.ones(2, dtype=np.float32))})
    with pytest.raises(ValueError, match="exactly one"):
        from_record(extra)
    cut = Array(dtype="uint8", shape=(len(good.data) - 1,), stype=PACKED_STYPE, data=good.data[:-1])
    with pytest.raises(ValueError, match="shorter"):
        from_record(ArrayRecord({PACKED_KEY: cut}))


def test_record_still_reads_one_array_per_tensor() -> None:
    """Records written by Flower's own helpers (one array per tensor) read as before."""
    legacy = ArrayRecord({"a": Array(np.arange(3, dtype=np.float32)), "b": Array(np.eye(2))})
    back = from_record(legacy)
    np.testing.assert_array_equal(back["a"], [0, 1, 2])
    np.testing.assert_array_equal(back["b"], np.eye(2))


_DTYPES = st.sampled_from(["<f4", ">f4", "<f2", "<f8", "<i8", ">i4", "|u1", "|b1", "<c8"])


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        _DTYPES.flatmap(lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))),
        max_size=5,
    )
)
def test_record_round_trip_is_exact_for_any_state(state: dict[str, NDArray[np.generic]]) -> None:
    back = from_record(to_record(state))
    assert list(back) == list(state)
    for name, arr in state.items():
        assert (back[name].dtype, back[name].shape) == (arr.dtype, arr.shape)
        assert back[name].tobytes() == arr.tobytes()


class _Linear(TrainingTask):
    """A 'model' of one vector: enough to check the strategy's arithmetic by hand."""

    backend = "test"

    def initial_state(self) -> State:
        return {"p": np.array([1.0, 2.0], dtype=np.float32)}

    def local(
        self, state: Mapping[str, NDArray[np.generic]], partition_id: int, lr: float, rng_state: str = ""
    ) -> LocalResult:
        raise NotImplementedError

    def evaluate(self, state: Mapping[str, NDArray[np.generic]]) -> float:
        return 0.0


def _reply(to: Message, grad: Sequence[float], tokens: int) -> Message:
    content = RecordDict({"info": ConfigRecord({"num-tokens": tokens})})
    attach(content, to_record({"p": np.asarray(grad, dtype=np.float32)}), "info", "update")
    return Message(content, reply_to=to)


def _objects(msg: Message) -> int:
    """How many content-addressed objects (one request each per hop) Flower 1.41 moves for ``msg``."""
    from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

    return len(get_all_nested_objects(msg))


def test_a_small_state_travels_inline_in_the_config_record_a_large_one_as_its_packed_array() -> None:
    small = to_record({"w": np.arange(6, dtype=np.float32).reshape(2, 3)})
    content = RecordDict({"config": ConfigRecord({"k": 1})})
    assert attach(content, small, "config", "arrays") == record_bytes(small)
    assert list(content) == ["config"] and isinstance(content.config_records["config"][PACKED_KEY], bytes)
    back = detach(content, "config", "arrays")
    assert back is not None and from_record(back)["w"].tobytes() == from_record(small)["w"].tobytes()
    assert carried_bytes(content, "config", "arrays") == record_bytes(small)
    # message + record dict + config record: 3 objects (was 6: + array record, array, chunk)
    assert _objects(Message(content, 5, "train")) == 3
    # above Flower's 5 MiB chunk the packed array record travels as it is (Flower chunks it)
    big = to_record({"w": np.zeros(INLINE_MAX_BYTES // 4 + 1, dtype=np.float32)})
    content = RecordDict({"config": ConfigRecord({"k": 1})})
    assert attach(content, big, "config", "arrays") == record_bytes(big) > INLINE_MAX_BYTES
    assert PACKED_KEY not in content.config_records["config"] and content.array_records["arrays"] is big
    assert detach(content, "config", "arrays") is big
    # one array per tensor (not packed) is never inlined; no model at all reads as None / 0 bytes
    legacy = ArrayRecord({"a": Array(np.ones(2, dtype=np.float32)), "b": Array(np.ones(1, dtype=np.float32))})
    content = RecordDict({"config": ConfigRecord()})
    attach(content, legacy, "config", "arrays")
    assert detach(content, "config", "arrays") is legacy
    empty = RecordDict({"config": ConfigRecord()})
    assert detach(empty, "config", "arrays") is None and carried_bytes(empty, "config", "arrays") == 0


def test_aggregate_train_is_token_weighted_fedsgd() -> None:
    task = _Linear(NodeTask())
    strat = EdgetuneStrategy(task, learning_rate=0.5)
    strat.selected = {101: 0, 102: 1}
    strat.arrays = to_record(task.initial_state())
    msgs = list(strat.configure_train(1, strat.arrays, ConfigRecord({"k": 1}), None))  # type: ignore[arg-type]
    assert [(m.metadata.dst_node_id, m.metadata.message_type) for m in msgs] == [(101, TRAIN), (102, TRAIN)]
    cfg = msgs[0].content.config_records["config"]
    assert node_config(cfg, 101)["edgetune-node-id"] == 0 and node_config(cfg, 102)["edgetune-node-id"] == 1
    assert node_config(cfg, 101)["k"] == 1 and node_config(cfg, 101)["epoch"] == 1
    # one content for every node: Flower uploads it once per push, not once per message
    assert len({m.content.object_id for m in msgs}) == 1
    assert _objects(msgs[0]) == 3  # message, record dict, config record (model inline)
    for m in msgs:
        m.metadata.__dict__["_message_id"] = m.object_id
    arrays, metrics = strat.aggregate_train(1, [_reply(msgs[0], [1.0, 0.0], 100), _reply(msgs[1], [4.0, 3.0], 300)])
    assert arrays is not None and metrics is not None
    # mean = (100 * [1, 0] + 300 * [4, 3]) / 400 = [3.25, 2.25]; p - 0.5 * mean = [-0.625, 0.875]
    np.testing.assert_allclose(from_record(arrays)["p"], [-0.625, 0.875])
    assert metrics["num-replies"] == 2


def test_sync_messages_carry_model_version_and_checksum() -> None:
    task = _Linear(NodeTask())
    strat = EdgetuneStrategy(task)
    arrays = to_record(task.initial_state())
    msgs = strat.configure_sync(4, arrays, ConfigRecord(), {7: 3, 9: 5}, "abc")
    assert [m.metadata.dst_node_id for m in msgs] == [7, 9] and msgs[0].metadata.message_type == SYNC
    for fid, nid in ((7, 3), (9, 5)):
        cfg = node_config(msgs[0].content.config_records["config"], fid)
        assert (cfg["version"], cfg["checksum"], cfg["edgetune-node-id"]) == (4, "abc", nid)
    assert msgs[0].content.object_id == msgs[1].content.object_id


def test_node_config_overlays_a_nodes_own_keys_and_hides_the_others() -> None:
    shared = {"epoch": 3, "lr": 0.1, "node.7.lr": 0.5, "node.7.fault": "crash", "node.70.fault": "slow"}
    assert node_config(shared, 7) == {"epoch": 3, "lr": 0.5, "fault": "crash"}
    assert node_config(shared, 70) == {"epoch": 3, "lr": 0.1, "fault": "slow"}
    assert node_config(shared, 8) == {"epoch": 3, "lr": 0.1}


def test_node_task_round_trips_through_a_config_record_and_json() -> None:
    task = TrainingSpec(
        model="tiny",
        pretrain_steps=7,
        pretrain_seed=2,
        lora=True,
        partition="dirichlet",
        alpha=0.3,
        block_len=32,
        train_tokens=1000,
        val_tokens=100,
        optimizer="sgd",
        local_steps=3,
        micro_batch=5,
    )
    spec = NodeTask(task, seed=2**40 + 3, num_partitions=7, backend="synthetic")
    config = spec.to_config()
    assert NodeTask.from_config(ConfigRecord(dict(config))) == spec
    assert NodeTask.from_config(json.loads(json.dumps(config))) == spec  # the warm trainer's frame header
    assert spec.aggregator == "fedavg"
    del config["task.micro_batch"]
    with pytest.raises(ValueError, match="micro_batch"):
        NodeTask.from_config(config)
    with pytest.raises(ValueError, match="backend"):
        NodeTask(task, backend="gpu")
