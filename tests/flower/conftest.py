"""Fixtures for the Flower tests: Flower's task identity for messages built outside a ServerApp."""

from __future__ import annotations

import pytest
from flwr.supercore.task_identity import TaskIdentity


@pytest.fixture(autouse=True)
def _task_identity() -> None:
    """``flwr.app.Message`` needs a run id, node id and task id (the ServerApp process sets them)."""
    TaskIdentity.run_id = 1
    TaskIdentity.node_id = 1
    TaskIdentity.task_id = 1
