"""The run record: one JSON document per run (a contract shared by every engine).

Contract names (issue #2)::

    {"policy": "ne"|"ar", "config": {"epochs": T, "weights": [...5], "utopia": [...5], ...},
     "nodes": [ids], "epochs": [{"epoch": k, "start_s", "end_s", "active": [ids that trained],
     "metrics": {id: {"compute", "bandwidth_mbps", "delay_ms", "loss_pct", "train_time_s"}},
     "scores": {id: PerfScore}, "eliminated": [ids], "loss": number or null}],
     "completion_time_s": ...}

``metrics`` holds what the orchestrator read through the northbound API, never ground truth. Extra
keys: ``time_base`` ("virtual" seconds from a modelled clock, or "wall"), ``pre_training_loss``,
``final_loss``, per-epoch ``failed``/``rejoined``/``perplexity``/``upload_bytes``, ``energy`` and
``bytes_moved`` totals, ``status`` (``running`` while a run goes on, then ``complete``, ``interrupted``
or ``failed``), ``engine`` (facts the engine knows only at run time, e.g. parameter counts) and
``timings``: the one key that holds wall-clock measurements (seconds), so that two records of the same
seeded run on the simulated engine are byte-identical and those of other engines compare equal in
everything but ``timings``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetune.io import atomic_write_json


@dataclass
class EpochRecord:
    """One epoch of a run."""

    epoch: int
    start_s: float
    end_s: float
    active: list[int]
    metrics: Mapping[int, Mapping[str, float]]
    scores: dict[int, float]
    eliminated: list[int]
    loss: float | None
    failed: dict[int, str] = field(default_factory=dict)
    rejoined: list[int] = field(default_factory=list)
    upload_bytes: int = 0
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON object (node-id keys become strings)."""
        out: dict[str, Any] = {
            "epoch": self.epoch,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "active": self.active,
            "metrics": {str(k): dict(v) for k, v in self.metrics.items()},
            "scores": {str(k): v for k, v in self.scores.items()},
            "eliminated": self.eliminated,
            "loss": self.loss,
            "perplexity": math.exp(self.loss) if self.loss is not None and self.loss < 50 else None,
            "failed": {str(k): v for k, v in self.failed.items()},
            "rejoined": self.rejoined,
            "upload_bytes": self.upload_bytes,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class RunRecord:
    """A whole run."""

    policy: str
    config: dict[str, Any]
    nodes: list[int]
    epochs: list[EpochRecord] = field(default_factory=list)
    completion_time_s: float = 0.0
    time_base: str = "virtual"
    pre_training_loss: float | None = None
    energy: dict[str, Any] = field(default_factory=dict)
    bytes_moved: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    engine_info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float | None:
        """Loss after the last epoch."""
        return self.epochs[-1].loss if self.epochs else None

    def to_json(self) -> dict[str, Any]:
        """The JSON document."""
        return {
            "status": self.status,
            "policy": self.policy,
            "config": self.config,
            "engine": self.engine_info,
            "nodes": self.nodes,
            "time_base": self.time_base,
            "time_unit": "virtual seconds" if self.time_base == "virtual" else "wall-clock seconds",
            "pre_training_loss": self.pre_training_loss,
            "final_loss": self.final_loss,
            "epochs": [e.to_json() for e in self.epochs],
            "completion_time_s": self.completion_time_s,
            "energy": self.energy,
            "bytes_moved": self.bytes_moved,
            **self.extra,
            "timings": self.timings,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically as JSON."""
        return atomic_write_json(path, self.to_json())


def load_record(path: str | Path) -> dict[str, Any]:
    """Read a run record JSON document."""
    doc: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return doc
