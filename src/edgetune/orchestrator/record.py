"""The run record: one JSON document per run (a contract shared by every engine).

Contract names (issue #2)::

    {"policy": "ne"|"ar", "config": {"epochs": T, "weights": [...5], "utopia": [...5], ...},
     "nodes": [ids], "epochs": [{"epoch": k, "start_s", "end_s", "active": [ids that trained],
     "metrics": {id: {"compute", "bandwidth_mbps", "delay_ms", "loss_pct", "train_time_s"}},
     "scores": {id: PerfScore}, "eliminated": [ids], "loss": number or null}],
     "completion_time_s": ...}

``metrics`` holds what the orchestrator read through the northbound API, never ground truth. Extra keys:
``time_base`` ("virtual" seconds from a modelled clock, or "wall"), ``pre_training_loss``,
``final_loss``, per-epoch ``failed``/``rejoined``/``perplexity``/``upload_bytes``, ``energy`` and
``bytes_moved`` totals, ``target_loss`` / ``time_to_target_s`` / ``data_fraction`` (issue 12, computed
once at the end of the loop by :func:`time_to_target_s` and :func:`data_fraction`), ``status``
(``running`` while a run goes on, then ``complete``, ``interrupted`` or ``failed``), ``engine`` (facts
the engine knows only at run time, e.g. parameter counts) and ``timings``: the one key that holds wall-
clock measurements (seconds), so that two records of the same seeded run on the simulated engine are
byte-identical and those of other engines compare equal in everything but ``timings``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
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
    #: Each node's partition size (the engine's ``Payloads.data_bytes``), the unit of ``data_fraction``.
    data_bytes: dict[int, float] = field(default_factory=dict)
    target_loss: float | None = None
    time_to_target_s: float | None = None
    data_fraction: float | None = None

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
            "target_loss": self.target_loss,
            "time_to_target_s": self.time_to_target_s,
            "data_fraction": self.data_fraction,
            "energy": self.energy,
            "bytes_moved": self.bytes_moved,
            **self.extra,
            "timings": self.timings,
        }

    def save(self, path: str | Path) -> Path:
        """Write atomically as JSON."""
        return atomic_write_json(path, self.to_json())


def time_to_target_s(epochs: Sequence[EpochRecord], target_loss: float | None) -> float | None:
    """Completion time (``end_s``) of the first epoch whose loss is at most ``target_loss``.

    ``None`` when there is no target or no epoch reaches it (engines without a loss never do).

    >>> eps = [EpochRecord(k, k - 1.0, float(k), [0], {}, {}, [], loss) for k, loss in [(1, 3.0), (2, 2.0)]]
    >>> time_to_target_s(eps, 2.5), time_to_target_s(eps, 1.0)
    (2.0, None)
    """
    if target_loss is None:
        return None
    for ep in epochs:
        if ep.loss is not None and ep.loss <= target_loss:
            return ep.end_s
    return None


def data_fraction(epochs: Sequence[EpochRecord], data_bytes: Mapping[int, float]) -> float | None:
    """Training data processed over ``epochs`` divided by what AR would process over them.

    AR trains every node's partition every epoch: ``len(epochs) * sum(data_bytes)``. A run processes
    the partitions of the nodes that trained (replied) in each epoch. ``data_bytes`` are the engine's
    partition sizes (MB of the modelled data set on the simulated engine, token bytes on the
    in-process engine), so the ratio is a share of MB or of tokens. ``None`` without epochs or data.

    >>> eps = [EpochRecord(k, 0.0, 1.0, active, {}, {}, [], None) for k, active in [(1, [0, 1]), (2, [1])]]
    >>> data_fraction(eps, {0: 1.0, 1: 3.0})
    0.875
    """
    # fsum over the same terms AR would add: exactly 1.0 for a run that trained everyone every epoch
    total = math.fsum(float(v) for _ in epochs for v in data_bytes.values())
    if total <= 0:
        return None
    return math.fsum(float(data_bytes.get(i, 0.0)) for ep in epochs for i in ep.active) / total


def load_record(path: str | Path) -> dict[str, Any]:
    """Read a run record JSON document (bounded reader: regular file, size cap, UTF-8, finite numbers)."""
    from edgetune.inputs import load_json

    doc = load_json(path, "record")
    if not isinstance(doc, dict):
        raise InputError("record", str(path), "a run record must be a JSON object")
    return doc
