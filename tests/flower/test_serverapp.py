"""The ServerApp's run configuration: flat keys in, the task spec out."""

from __future__ import annotations

import numpy as np

from edgetune.fleet.generate import generate_fleet
from edgetune.flower.engine import spec_for
from edgetune.flower.serverapp import ServerSettings
from edgetune.flower.task import TaskSettings, TaskSpec


def test_run_config_casts_values_and_keeps_bools() -> None:
    got = ServerSettings.from_run_config({"block-len": "32", "alpha": 1, "rejoin": True, "unknown": 3, "seed": 7.0})
    assert got == ServerSettings(block_len=32, alpha=1.0, rejoin=True, seed=7)
    assert isinstance(got.alpha, float) and isinstance(got.seed, int)


def test_task_settings_carry_every_task_field_into_the_spec() -> None:
    settings = ServerSettings(
        model="small",
        seed=3,
        partition="dirichlet",
        alpha=0.2,
        block_len=32,
        micro_batch=4,
        train_tokens=4096,
        val_tokens=512,
        pretrain_steps=10,
        optimizer="sgd",
        backend="synthetic",
        epochs=9,
    )
    fleet = generate_fleet(5, "normal", np.random.default_rng(0), seed=0)
    spec = spec_for(fleet, **settings.task_settings())
    assert spec == TaskSpec(num_partitions=5, **settings.task_settings())
    assert spec.partition == "dirichlet" and spec.alpha == 0.2 and spec.backend == "synthetic"
    assert set(settings.task_settings()) == set(TaskSettings().task_settings())
    assert {f"task.{k}" for k in settings.task_settings()} | {"task.num_partitions"} == set(TaskSpec().to_config())
