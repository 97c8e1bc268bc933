"""Shared builders for the selection tests: metrics tables and started policies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgetune.selection import MetricsTable, PolicyContext, SelectionPolicy, make_policy


def table(
    ids: Sequence[int],
    train_time_s: Sequence[float],
    bandwidth_mbps: float | Sequence[float] = 100.0,
    delay_ms: float | Sequence[float] = 0.0,
    loss_pct: float | Sequence[float] = 0.0,
    train_loss: Sequence[float] | None = None,
) -> MetricsTable:
    """A metrics table with compute 30 everywhere and the given columns."""
    n = len(ids)
    values = np.column_stack(
        [
            np.full(n, 30.0),
            np.broadcast_to(np.asarray(bandwidth_mbps, dtype=float), (n,)),
            np.broadcast_to(np.asarray(delay_ms, dtype=float), (n,)),
            np.broadcast_to(np.asarray(loss_pct, dtype=float), (n,)),
            np.asarray(train_time_s, dtype=float),
        ]
    )
    losses = None if train_loss is None else np.asarray(train_loss, dtype=float)
    return MetricsTable(ids=list(ids), values=values, train_loss=losses)


def started(
    name: str,
    node_ids: Sequence[int],
    epochs: int,
    data_bytes: dict[int, float] | None = None,
    update_bytes: float = 0.0,
    broadcast_bytes: float = 0.0,
    seed: int = 0,
    **kwargs: float,
) -> SelectionPolicy:
    """A registered policy after ``start`` with the given context."""
    policy = make_policy(name) if not kwargs else _make(name, **kwargs)
    data = data_bytes if data_bytes is not None else {i: 1.0 for i in node_ids}
    ctx = PolicyContext(tuple(node_ids), epochs, data, update_bytes, broadcast_bytes, np.random.default_rng(seed))
    policy.start(ctx)
    return policy


def _make(name: str, **kwargs: float) -> SelectionPolicy:
    from edgetune.selection.base import POLICIES

    return POLICIES[name](None, **kwargs)
