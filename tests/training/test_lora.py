"""LoRA runs move only adapter bytes."""

from __future__ import annotations

import numpy as np

from edgetune.engines.inprocess import InProcessConfig, build_inprocess
from edgetune.fleet.generate import generate_fleet
from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
from edgetune.selection import make_policy
from edgetune.training.local import trainable
from edgetune.training.lora import apply_lora, is_adapter, payload_bytes
from tests.training.helpers import synthetic_data, tiny_model


def test_lora_run_moves_only_adapter_bytes() -> None:
    model = apply_lora(tiny_model())
    named = trainable(model)
    assert named and all(is_adapter(n) for n, _ in named)
    adapter_bytes = payload_bytes(named)
    fleet = generate_fleet(5, "normal", np.random.default_rng(0), seed=0)
    data = synthetic_data(train_tokens=32 * 10)
    engine = build_inprocess(
        fleet, np.random.default_rng(0), model, data, InProcessConfig(host_seconds_per_token=1e-4), learning_rate=1e-2
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    orch_cfg = OrchestratorConfig(epochs=3, learning_rate=1e-2)
    rec = Orchestrator(engine, make_policy("ne"), engine.northbound, fleet, orch_cfg).run()
    assert engine.update_bytes == adapter_bytes
    assert adapter_bytes < engine.model_bytes / 5
    for ep in rec.epochs:
        assert ep.upload_bytes == len(ep.active) * adapter_bytes
    n = len(fleet.nodes)
    part = sum(engine._partition_bytes.values())
    uploads = sum(ep.upload_bytes for ep in rec.epochs)
    assert rec.bytes_moved == n * engine.model_bytes + part + uploads + 3 * n * adapter_bytes
    changed = {n for n, p in model.named_parameters() if not (p.detach() == before[n]).all()}
    assert changed and all(is_adapter(n) for n in changed)  # base weights frozen
    assert rec.final_loss is not None and rec.pre_training_loss is not None
    assert rec.final_loss < rec.pre_training_loss
