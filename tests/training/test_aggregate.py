"""FedSGD equivalence (Algorithm 1 line 12) and the aggregators' arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgetune.errors import InputError
from edgetune.training.aggregate import GradientSum, fedsgd_mean, make_aggregator
from edgetune.training.local import local_gradient, local_steps, mean_loss, trainable
from edgetune.training.partition import make_partitioner
from tests.training.helpers import synthetic_data, tiny_model


def test_mean_of_partition_gradients_equals_union_gradient() -> None:
    """The paper's claim for line 12: averaged equal-partition gradients == centralised gradient."""
    data = synthetic_data(train_tokens=32 * 24)
    model = tiny_model()
    params = [p for _, p in trainable(model)]
    parts = make_partitioner("iid").split(data.train_category, 4, np.random.default_rng(1))
    assert len({len(p) for p in parts}) == 1
    per_node = [local_gradient(model, params, data.train[p], micro_batch=4).update for p in parts]
    union = local_gradient(model, params, data.train[np.concatenate(parts)], micro_batch=7).update
    mean = fedsgd_mean(per_node)
    for a, b in zip(mean, union, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # and the gradient is not trivially zero
    assert max(float(g.abs().max()) for g in union) > 1e-4


def test_token_weighted_mean_equals_union_for_unequal_partitions() -> None:
    data = synthetic_data(train_tokens=32 * 10)
    model = tiny_model()
    params = [p for _, p in trainable(model)]
    idx = [np.arange(0, 3), np.arange(3, 10)]
    res = [local_gradient(model, params, data.train[i]) for i in idx]
    mean = fedsgd_mean([r.update for r in res], [r.n_tokens for r in res])
    union = local_gradient(model, params, data.train[:10]).update
    for a, b in zip(mean, union, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_gradient_sum_by_hand() -> None:
    acc = GradientSum()
    acc.add([torch.tensor([1.0, 2.0])], 1.0)
    acc.add([torch.tensor([4.0, 8.0])], 3.0)
    (m,) = acc.mean()
    torch.testing.assert_close(m, torch.tensor([(1 + 12) / 4, (2 + 24) / 4]))
    assert acc.count == 2
    with pytest.raises(ValueError):
        GradientSum().mean()


def test_fedsgd_sgd_step_is_line_13() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
    agg = make_aggregator("fedsgd", optimizer="sgd")
    agg.apply([p], [torch.tensor([0.5, 2.0])], lr=0.1)
    torch.testing.assert_close(p.detach(), torch.tensor([0.95, -1.2]))
    assert p.grad is None


def test_fedavg_applies_mean_delta_and_local_steps_restore_weights() -> None:
    data = synthetic_data()
    model = tiny_model()
    params = [p for _, p in trainable(model)]
    before = [p.detach().clone() for p in params]
    res = local_steps(
        model, params, data.train, 3, lambda ps: torch.optim.Adam(ps, lr=3e-3), np.random.default_rng(0), micro_batch=8
    )
    for b, p in zip(before, params, strict=True):
        assert torch.equal(b, p.detach())
    assert res.n_tokens == 3 * 8 * data.block_len
    loss0 = mean_loss(model, data.val)
    make_aggregator("fedavg", optimizer="adam", local_steps=3).apply(params, res.update, lr=3e-3)
    assert mean_loss(model, data.val) < loss0


def test_bad_aggregator_settings() -> None:
    with pytest.raises(InputError):
        make_aggregator("fedprox")
    with pytest.raises(InputError):
        make_aggregator("fedavg", local_steps=0)
    with pytest.raises(InputError):
        make_aggregator("fedsgd", optimizer="lion")
