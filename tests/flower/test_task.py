"""The Flower task trains the same model on the same partitions as the in-process engine."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from edgetune.flower.task import TaskSpec, make_task

pytestmark = pytest.mark.slow


def _corpus_or_skip() -> None:
    try:
        from edgetune.training.corpus import fortune_documents

        fortune_documents()
    except Exception as exc:
        pytest.skip(f"fine-tuning corpus missing: {exc}")


def test_partitions_and_gradients_match_the_inprocess_engine() -> None:
    _corpus_or_skip()
    from edgetune.engines.inprocess import build_inprocess
    from edgetune.fleet.generate import generate_fleet
    from edgetune.training.local import local_gradient, trainable

    torch.set_num_threads(1)
    spec = TaskSpec(num_partitions=3, seed=4, train_tokens=1536, val_tokens=256)
    server = make_task(spec, server=True)
    node = make_task(spec)
    assert server.backend == node.backend == "training"
    _, _, run_rng = np.random.default_rng(spec.seed).spawn(3)
    fleet = generate_fleet(3, "normal", np.random.default_rng(1), seed=1)
    model = copy.deepcopy(server.model)  # type: ignore[attr-defined]
    engine = build_inprocess(fleet, copy.deepcopy(run_rng), model, server.data, None, "iid")  # type: ignore[attr-defined]
    for k, nid in enumerate(fleet.node_ids):
        np.testing.assert_array_equal(engine.partitions[nid], node.partitions[k])  # type: ignore[attr-defined]
    # The node (architecture only + weights from the message) computes the in-process gradient.
    state = server.initial_state()
    got = node.gradient(state, 1)
    params = [p for _, p in trainable(model)]
    want = local_gradient(model, params, engine._train_blocks[torch.from_numpy(engine.partitions[fleet.node_ids[1]])],
                          spec.micro_batch)
    assert got.n_tokens == want.n_tokens
    for (name, _), g in zip(trainable(model), want.update, strict=True):
        np.testing.assert_allclose(got.grads[name], g.numpy(), rtol=1e-5, atol=1e-7)
    # One FedSGD step moves the validation loss down.
    after = server.fedsgd(state, [got.grads], 3e-3, [got.n_tokens])
    assert server.evaluate(after) < server.evaluate(state)
