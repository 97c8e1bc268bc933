"""Recorded run folders for the dashboard tests, bench and screenshots.

Until ``edgetune run`` writes run folders, :func:`write_run_folder` makes one the way the run-folder
contract (issue 10) describes it: a simulated run of Algorithm 1 (the paper's workload on a virtual
clock), ``fleet.yaml`` from :func:`edgetune.fleet.schema.save_fleet`, ``record.json`` with a
``status``, and one ``EpochRecord.to_json()`` line per epoch in ``epochs.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.engines.simulated import simulate
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import save_fleet
from edgetune.io import atomic_write_json
from edgetune.orchestrator.loop import OrchestratorConfig
from edgetune.selection import make_policy


def simulated_record(policy: str = "ne", n_nodes: int = 12, seed: int = 7, epochs: int = 10) -> tuple[Any, Any]:
    """(fleet, RunRecord) of one simulated run on a Table I 'normal' fleet."""
    fleet = generate_fleet(n_nodes, "normal", np.random.default_rng(seed), seed=seed)
    record = simulate(fleet, make_policy(policy), seed, OrchestratorConfig(epochs=epochs))
    return fleet, record


def write_run_folder(
    out: Path,
    policy: str = "ne",
    n_nodes: int = 12,
    seed: int = 7,
    epochs: int = 10,
    written_epochs: int | None = None,
) -> dict[str, Any]:
    """Write a run folder; with ``written_epochs`` < ``epochs`` it looks like a run still going.

    Returns the complete record document (``to_json()`` plus ``status``), epochs included, so a test
    can append the missing lines later (:func:`append_epoch`).
    """
    fleet, record = simulated_record(policy, n_nodes, seed, epochs)
    doc = record.to_json()
    out.mkdir(parents=True, exist_ok=True)
    save_fleet(fleet, out / "fleet.yaml")
    k = epochs if written_epochs is None else written_epochs
    with open(out / "epochs.jsonl", "w", encoding="utf-8") as fh:
        for ep in doc["epochs"][:k]:
            fh.write(json.dumps(ep) + "\n")
    if k >= epochs:
        atomic_write_json(out / "record.json", {**doc, "status": "complete"})
    else:
        start = {key: v for key, v in doc.items() if key not in ("epochs", "energy", "completion_time_s")}
        atomic_write_json(out / "record.json", {**start, "epochs": [], "status": "running"})
    return {**doc, "status": "complete"}


def append_epoch(out: Path, epoch: dict[str, Any]) -> None:
    """Append one epoch line and flush, as a live run does."""
    with open(out / "epochs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(epoch) + "\n")
        fh.flush()
