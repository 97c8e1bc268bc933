"""Same spec, same partitions, same result: one round on Flower equals one round in-process (``tiny``).

The Flower side is the real engine + strategy + ClientApp (in-process work, as in the simulation
runtime) on the in-memory grid; the in-process side is :func:`edgetune.engines.inprocess.build_inprocess`
with the model :func:`edgetune.training.job.run_job` would build. Both train one round on every node
and apply the update; the global trainable tensors must agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from edgetune.flower.clientapp import app as client_app
from edgetune.flower.codec import from_record
from edgetune.flower.engine import FlowerEngine, FlowerEngineConfig
from edgetune.flower.task import NodeTask
from edgetune.flower.training_task import TrainingPackageTask, make_task
from tests.flower.fakegrid import FakeClock, FakeGrid

pytestmark = pytest.mark.slow

LR = 3e-3


def _corpus_or_skip() -> None:
    try:
        from edgetune.training.corpus import fortune_documents

        fortune_documents()
    except Exception as exc:
        pytest.skip(f"fine-tuning corpus missing: {exc}")


@pytest.mark.parametrize(
    ("aggregator", "lora", "local_steps", "optimizer"),
    [("fedsgd", False, 1, "adam"), ("fedsgd", True, 1, "adam"), ("fedavg", True, 3, "sgd")],
)
def test_one_round_equals_the_inprocess_engine(aggregator: str, lora: bool, local_steps: int, optimizer: str) -> None:
    """The in-process engine is built by its registry entry from the same TrainingSpec (the run spec's [task])."""
    _corpus_or_skip()
    from edgetune.engines.base import ENGINES
    from edgetune.fleet.generate import generate_fleet
    from edgetune.runs.execute import build_context
    from edgetune.runs.spec import spec_from_dict

    torch.set_num_threads(1)
    # One run spec: the in-process engine is built from it by its registry entry, the Flower task from
    # its [task] + seed + number of partitions (what every node receives).
    run_spec = spec_from_dict(
        {
            "run": {"engine": "inprocess", "seed": 4, "learning_rate": LR},
            # One torch thread, as every Flower node: the same reduction order (Adam amplifies the float noise
            # of gradients that are ~0, e.g. the attention's key bias, so thread counts must agree).
            "inprocess": {"threads": 1},
            "task": {
                "model": "tiny",
                "pretrain_steps": 300,
                "train_tokens": 1536,
                "val_tokens": 256,
                "block_len": 64,
                "lora": lora,
                "local_steps": local_steps,
                "optimizer": optimizer,
                "micro_batch": 4,
            },
        }
    )
    task = run_spec.task
    assert task.aggregator == aggregator
    fleet = generate_fleet(3, "normal", np.random.default_rng(1), seed=1)
    spec = NodeTask(task, seed=run_spec.run.seed, num_partitions=len(fleet.nodes), backend="training")
    server = make_task(spec, server=True)
    assert isinstance(server, TrainingPackageTask)
    assert server.pretrain_config == task.pretrain_config()  # the in-process engine's pre-training

    inproc: Any = ENGINES["inprocess"].build(build_context(run_spec, fleet))
    for k, nid in enumerate(fleet.node_ids):
        np.testing.assert_array_equal(inproc.partitions[nid], server.partitions[k])
    inproc.distribute(fleet.node_ids)
    inproc.apply_update(inproc.train_round(1, fleet.node_ids), LR)

    # Flower: engine + strategy + the real ClientApp on the in-memory grid.
    grid = FakeGrid(client_app, {7000 + k: {"partition-id": k, "node-id": n} for k, n in enumerate(fleet.node_ids)})
    clock = FakeClock()
    engine = FlowerEngine(
        grid,
        fleet,
        server,
        FlowerEngineConfig(connect_timeout_s=5, round_timeout_s=30),
        learning_rate=LR,
        clock=clock,
        sleep=clock.sleep,
    )
    engine.distribute(fleet.node_ids)
    res = engine.train_round(1, fleet.node_ids)
    assert not res.failed and len(res.reports) == 3
    engine.apply_update(res, LR)

    got = from_record(engine._arrays)
    names = server.trainable_names()
    assert len(names) == len(inproc.global_state())
    for name, want in zip(names, inproc.global_state(), strict=True):
        np.testing.assert_allclose(got[name], want.numpy(), rtol=1e-5, atol=1e-7, err_msg=name)
    assert any(not np.array_equal(got[n], server.initial_state()[n]) for n in names)  # the round changed it

    # What travelled: with LoRA only the adapters, both ways.
    timing = engine.timings[0]
    report = engine.report()
    assert timing.down_bytes == 3 * report["travelling_bytes"] and timing.up_bytes > 0
    if lora:
        assert all("lora_" in n for n in names)
        assert report["travelling_bytes"] < report["model_bytes"] / 10
        assert timing.up_bytes < 3 * report["model_bytes"] / 10
    else:  # every trainable tensor (constant buffers went once, with distribution)
        assert report["travelling_bytes"] <= report["model_bytes"]
