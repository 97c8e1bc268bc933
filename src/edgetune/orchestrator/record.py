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

Compact form (issue 17). A record of N nodes holds about 10 N numbers per epoch (metrics and scores
per node), 150-300 MB of JSON at 100k nodes. :meth:`RunRecord.save` with ``record_format="compact"``
writes the same content as two files: ``run.json``, the JSON document with every per-node part
(``nodes``, each epoch's ``active`` / ``metrics`` / ``scores`` / ``eliminated`` / ``rejoined``, and
``energy.per_node_j``) set to ``null`` plus a ``"compact"`` key naming the arrays file, and beside it
``run.arrays.npz`` (numpy, ``allow_pickle=False``) with those parts as int64 id and float64 value
arrays (metrics as an (n, 5) array in ``metric_names`` order). :func:`load_record` reads either form
and returns the same document. ``"auto"`` picks compact from :data:`COMPACT_FROM_NODES` nodes.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.errors import InputError
from edgetune.io import atomic_write_json, atomic_write_with
from edgetune.selection.ids import NodeValues

#: ``record_format`` choices of :meth:`RunRecord.save`.
RECORD_FORMATS = ("auto", "json", "compact")
#: ``auto`` writes the compact form from this many nodes on (a JSON record is ~3 kB per node and epoch).
COMPACT_FROM_NODES = 10_000
#: Per-epoch keys that the compact form moves to the arrays file.
_EPOCH_ARRAYS = ("active", "metrics", "scores", "eliminated", "rejoined")


@dataclass
class EpochRecord:
    """One epoch of a run."""

    epoch: int
    start_s: float
    end_s: float
    active: list[int]
    metrics: Mapping[int, Mapping[str, float]]
    scores: Mapping[int, float]
    eliminated: list[int]
    loss: float | None
    failed: dict[int, str] = field(default_factory=dict)
    rejoined: list[int] = field(default_factory=list)
    upload_bytes: int = 0
    note: str | None = None

    def to_json(self, compact: bool = False) -> dict[str, Any]:
        """JSON object (node-id keys become strings); ``compact`` leaves the per-node parts ``null``."""
        out: dict[str, Any] = {
            "epoch": self.epoch,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "active": None if compact else self.active,
            "metrics": None if compact else {str(k): dict(v) for k, v in self.metrics.items()},
            "scores": None if compact else {str(k): v for k, v in self.scores.items()},  # zipped columns
            "eliminated": None if compact else self.eliminated,
            "loss": self.loss,
            "perplexity": math.exp(self.loss) if self.loss is not None and self.loss < 50 else None,
            "failed": {str(k): v for k, v in self.failed.items()},
            "rejoined": None if compact else self.rejoined,
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
    data_bytes: Mapping[int, float] = field(default_factory=dict)
    target_loss: float | None = None
    time_to_target_s: float | None = None
    data_fraction: float | None = None

    @property
    def final_loss(self) -> float | None:
        """Loss after the last epoch."""
        return self.epochs[-1].loss if self.epochs else None

    def to_json(self, compact: bool = False) -> dict[str, Any]:
        """The JSON document; ``compact`` leaves the per-node parts ``null`` (see the module doc)."""
        energy = self.energy
        per_node = energy.get("per_node_j")
        if compact and "per_node_j" in energy:
            energy = {**energy, "per_node_j": None}
        elif per_node is not None and not isinstance(per_node, dict):  # NodeValues: a plain dict for JSON
            energy = {**energy, "per_node_j": dict(per_node.items())}
        return {
            "status": self.status,
            "policy": self.policy,
            "config": self.config,
            "engine": self.engine_info,
            "nodes": None if compact else self.nodes,
            "time_base": self.time_base,
            "time_unit": "virtual seconds" if self.time_base == "virtual" else "wall-clock seconds",
            "pre_training_loss": self.pre_training_loss,
            "final_loss": self.final_loss,
            "epochs": [e.to_json(compact) for e in self.epochs],
            "completion_time_s": self.completion_time_s,
            "target_loss": self.target_loss,
            "time_to_target_s": self.time_to_target_s,
            "data_fraction": self.data_fraction,
            "energy": energy,
            "bytes_moved": self.bytes_moved,
            **self.extra,
            "timings": self.timings,
        }

    def save(self, path: str | Path, record_format: str = "json") -> Path:
        """Write atomically: one JSON document, or the compact form (JSON header + ``.arrays.npz``).

        Parameters
        ----------
        path : str or Path
            The JSON document (the header in compact form).
        record_format : {"json", "compact", "auto"}
            ``auto`` = compact from :data:`COMPACT_FROM_NODES` nodes.
        """
        if not writes_compact(record_format, len(self.nodes)):
            return atomic_write_json(path, self.to_json())
        target = Path(path)
        arrays = arrays_path(target)
        cols = self._arrays_columns()
        atomic_write_with(arrays, lambda tmp: _write_npz(tmp, cols))  # streamed: no copy of the file in memory
        doc = self.to_json(compact=True)
        doc["compact"] = {"arrays": arrays.name, "metric_names": list(self._metric_names())}
        return atomic_write_json(target, doc)

    def _metric_names(self) -> tuple[str, ...]:
        for ep in self.epochs:
            for row in ep.metrics.values():
                return tuple(row)
        return ()

    def _arrays_columns(self) -> dict[str, np.ndarray]:
        names = self._metric_names()
        cols: dict[str, np.ndarray] = {"nodes": np.asarray(self.nodes, dtype=np.int64)}
        for ep in self.epochs:
            k = ep.epoch
            for key in ("active", "eliminated", "rejoined"):
                cols[f"e{k}_{key}"] = np.asarray(getattr(ep, key), dtype=np.int64).reshape(-1)
            ids, values = _metric_arrays(ep.metrics, names)
            cols[f"e{k}_metrics_ids"], cols[f"e{k}_metrics"] = ids, values
            cols[f"e{k}_scores_ids"], cols[f"e{k}_scores"] = NodeValues.from_mapping(ep.scores).arrays()
        per_node = self.energy.get("per_node_j")
        if isinstance(per_node, NodeValues):  # the loop's columns, handed over as they are
            cols["energy_per_node_ids"], cols["energy_per_node_j"] = per_node.arrays()
        elif per_node is not None:
            cols["energy_per_node_ids"] = np.asarray([int(i) for i in per_node], dtype=np.int64)
            cols["energy_per_node_j"] = np.fromiter(per_node.values(), dtype=np.float64, count=len(per_node))
        return cols


def _write_npz(path: Path, cols: Mapping[str, np.ndarray]) -> None:
    """Uncompressed ``.npz`` streamed to ``path`` (an open file: ``np.savez`` would add a suffix to a name).

    Uncompressed on purpose: at 1M nodes x 10 epochs ``savez_compressed`` takes ~45 s CPU for a 30 %
    smaller file, against < 1 s.
    """
    with path.open("wb") as fh:
        np.savez(fh, **cols)  # type: ignore[arg-type]


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
    # fsum over the same terms AR would add: exactly 1.0 for a run that trained everyone every epoch.
    # fsum is exactly rounded, so the order of the terms does not matter: columns, then one fsum each.
    table = NodeValues.from_mapping(data_bytes)
    _, values = table.arrays()
    total = math.fsum(np.tile(values, len(epochs)).tolist())
    if total <= 0:
        return None
    parts = [np.where(found, vals, 0.0) for vals, found in (table.lookup(ep.active) for ep in epochs)]
    return math.fsum(np.concatenate(parts).tolist()) / total


def writes_compact(record_format: str, n_nodes: int) -> bool:
    """Whether :meth:`RunRecord.save` writes the compact form for this format and fleet size."""
    if record_format not in RECORD_FORMATS:
        raise InputError("--record-format", record_format, f"choose from {', '.join(RECORD_FORMATS)}")
    return record_format == "compact" or (record_format == "auto" and n_nodes >= COMPACT_FROM_NODES)


def arrays_path(path: str | Path) -> Path:
    """The arrays file of a compact record: ``run.json`` -> ``run.arrays.npz`` beside it."""
    p = Path(path)
    return p.with_name(f"{p.stem}.arrays.npz")


def _metric_arrays(metrics: Mapping[int, Mapping[str, float]], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Node ids and an (n, len(names)) array of one epoch's metrics (no per-node dicts for a
    :class:`~edgetune.selection.base.MetricsView`, which hands over its table)."""
    table = getattr(metrics, "arrays", None)
    if callable(table):
        ids, values = table()
        return np.asarray(ids, dtype=np.int64), np.asarray(values, dtype=np.float64).reshape(len(ids), len(names))
    ids = list(metrics)
    values = np.array([[metrics[i][n] for n in names] for i in ids], dtype=np.float64).reshape(len(ids), len(names))
    return np.asarray(ids, dtype=np.int64), values


def load_record(path: str | Path) -> dict[str, Any]:
    """Read a run record: the JSON document, or a compact record rebuilt into the same document
    (bounded reader: regular file, size cap, UTF-8, finite numbers)."""
    from edgetune.inputs import load_json

    p = Path(path)
    doc = load_json(p, "record")
    if not isinstance(doc, dict):
        raise InputError("record", str(path), "a run record must be a JSON object")
    compact = doc.pop("compact", None)
    if compact is None:
        return doc
    try:
        return _rebuild_compact(doc, compact, p)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError("record", str(path), f"broken compact record ({type(exc).__name__}: {exc})") from None


def _rebuild_compact(doc: dict[str, Any], compact: Mapping[str, Any], p: Path) -> dict[str, Any]:
    names = list(compact["metric_names"])
    with np.load(p.with_name(compact["arrays"]), allow_pickle=False) as z:
        cols = {k: z[k] for k in z.files}
    doc["nodes"] = cols["nodes"].tolist()
    for ep in doc["epochs"]:
        k = ep["epoch"]
        for key in ("active", "eliminated", "rejoined"):
            ep[key] = cols[f"e{k}_{key}"].tolist()
        ids = [str(i) for i in cols[f"e{k}_metrics_ids"].tolist()]
        rows = cols[f"e{k}_metrics"].tolist()
        ep["metrics"] = {i: dict(zip(names, row, strict=True)) for i, row in zip(ids, rows, strict=True)}
        ep["scores"] = dict(
            zip((str(i) for i in cols[f"e{k}_scores_ids"].tolist()), cols[f"e{k}_scores"].tolist(), strict=True)
        )
    if "energy_per_node_ids" in cols:
        doc["energy"]["per_node_j"] = dict(
            zip((str(i) for i in cols["energy_per_node_ids"].tolist()), cols["energy_per_node_j"].tolist(), strict=True)
        )
    return doc
