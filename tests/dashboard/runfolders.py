"""Recorded run folders for the dashboard tests, bench and screenshots, written by ``edgetune.runs.run``.

:func:`write_run_folder` runs a simulated experiment (the paper's workload on a virtual clock, a Table I
'normal' fleet) into a real run folder (``spec.toml``, ``fleet.yaml``, ``record.json``,
``epochs.jsonl``). To look like a run still going, it then keeps only the first ``written_epochs``
lines of ``epochs.jsonl`` and puts back the ``"status": "running"`` record a run writes at its start;
a test appends the missing lines (:func:`append_epoch`) as the run would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgetune.io import atomic_write_json
from edgetune.runs import run, spec_from_dict


def write_run_folder(
    out: Path,
    policy: str = "ne",
    n_nodes: int = 12,
    seed: int = 7,
    epochs: int = 10,
    written_epochs: int | None = None,
) -> dict[str, Any]:
    """Run ``policy`` on a simulated fleet into ``out``; return the complete record (epochs included)."""
    spec = spec_from_dict(
        {
            "run": {"engine": "simulated", "policy": policy, "seed": seed, "epochs": epochs},
            "fleet": {"nodes": n_nodes, "setup": "normal", "seed": seed},
        }
    )
    run(spec, out)
    doc: dict[str, Any] = json.loads((out / "record.json").read_text(encoding="utf-8"))
    assert doc["status"] == "complete", doc["status"]
    if written_epochs is not None and written_epochs < epochs:
        lines = (out / "epochs.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
        (out / "epochs.jsonl").write_text("".join(lines[:written_epochs]), encoding="utf-8")
        start = {k: v for k, v in doc.items() if k not in ("energy", "completion_time_s", "final_loss")}
        atomic_write_json(out / "record.json", {**start, "epochs": [], "status": "running"})
    return doc


def append_epoch(out: Path, epoch: dict[str, Any]) -> None:
    """Append one epoch line and flush, as a live run does."""
    with open(out / "epochs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(epoch) + "\n")
        fh.flush()
