"""What the page shows of each epoch, derived on the server from the record (not re-derived in JS).

* **Node state** in epoch ``k`` is the node's standing after epoch ``k``'s selection (Algorithm 1
  lines 9-11): ``failed`` if it did not reply in epoch ``k``; ``rejoined`` if it was out and trains
  again in ``k + 1``; ``eliminated`` if some epoch ``<= k`` eliminated it and it has not rejoined
  since; ``active`` otherwise. ``cut_now`` lists the nodes epoch ``k`` itself eliminated (the record's
  ``eliminated``).
* **Table rows**: for every node with metrics in epoch ``k`` (the nodes that trained), the five raw
  metrics, their Eq. 2 min-max normalisation over exactly those nodes
  (:func:`edgetune.selection.scoring.normalize`), the PerfScore recomputed with Eq. 2-3
  (:func:`edgetune.selection.scoring.perf_scores`, the run's weights and utopia point) beside the
  recorded one, and the rank among the scored nodes (1 = best; ties as the policy breaks them,
  :func:`edgetune.selection.elimination.lowest_first`). ``cut_rank`` is how many scored nodes train
  next epoch: ranks above it were kept, ranks below it were cut.
* **Energy per epoch** is an estimate with the run's energy model
  (:func:`edgetune.orchestrator.energy.node_energy`) over the epoch's span: trained nodes busy for
  their reported training time, every node idle otherwise, radio energy of the uploads. The run's
  total in ``record.json`` (written at the end) also counts the model downloads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet
from edgetune.orchestrator.energy import node_energy
from edgetune.orchestrator.engine import NodeUsage
from edgetune.selection.base import PolicyConfig
from edgetune.selection.elimination import lowest_first
from edgetune.selection.scoring import METRIC_NAMES, normalize, perf_scores

STATES: tuple[str, ...] = ("active", "eliminated", "failed", "rejoined")


def _ids(values: Any) -> list[int]:
    """Integer node ids from a JSON list (other entries dropped)."""
    if not isinstance(values, list | dict):
        return []
    out: list[int] = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def policy_config(record: Mapping[str, Any]) -> PolicyConfig:
    """Weights and utopia point of the run (the defaults if the record has none or bad ones).

    Reads ``config.policy`` (a run spec's record, issue 10) or ``config`` itself (older records).
    """
    cfg = record.get("config")
    if not isinstance(cfg, dict):
        return PolicyConfig()
    if isinstance(cfg.get("policy"), dict):  # a run spec's config: the [policy] section
        cfg = cfg["policy"]
    try:
        weights = tuple(float(x) for x in cfg.get("weights", PolicyConfig().weights))
        utopia = tuple(float(x) for x in cfg.get("utopia", PolicyConfig().utopia))
        return PolicyConfig(weights=weights, utopia=utopia)
    except (InputError, TypeError, ValueError):
        return PolicyConfig()


def node_states(node_ids: Sequence[int], epochs: Sequence[Mapping[str, Any]]) -> list[dict[int, str]]:
    """State of every node after each epoch's selection (see the module docstring)."""
    out_set: set[int] = set()
    result: list[dict[int, str]] = []
    for ep in epochs:
        rejoined = set(_ids(ep.get("rejoined", [])))
        failed = set(_ids(ep.get("failed", {})))
        out_set |= set(_ids(ep.get("eliminated", [])))
        out_set -= rejoined
        states: dict[int, str] = {}
        for i in node_ids:
            if i in failed:
                states[i] = "failed"
            elif i in rejoined:
                states[i] = "rejoined"
            elif i in out_set:
                states[i] = "eliminated"
            else:
                states[i] = "active"
        result.append(states)
    return result


def score_rows(epoch: Mapping[str, Any], config: PolicyConfig) -> dict[str, Any]:
    """Per-node table of one epoch: raw metrics, Eq. 2 normalisation, Eq. 3 score, rank vs the cut."""
    metrics = epoch.get("metrics") if isinstance(epoch.get("metrics"), dict) else {}
    ids: list[int] = []
    rows_raw: list[list[float]] = []
    bad = 0
    for key, m in (metrics or {}).items():
        try:
            node = int(key)
        except (TypeError, ValueError):
            bad += 1
            continue
        vals = [_number(m.get(name)) if isinstance(m, dict) else None for name in METRIC_NAMES]
        if any(v is None for v in vals):
            bad += 1
            continue
        ids.append(node)
        rows_raw.append([float(v) for v in vals if v is not None])
    order = sorted(range(len(ids)), key=lambda k: ids[k])
    ids = [ids[k] for k in order]
    values = np.asarray([rows_raw[k] for k in order], dtype=np.float64).reshape(len(ids), len(METRIC_NAMES))
    if len(ids):
        normalized = normalize(values)  # Eq. 2 over the nodes with metrics this epoch
        recomputed = perf_scores(values, config.weights, config.utopia)  # Eq. 2-3
    else:
        normalized = np.empty((0, len(METRIC_NAMES)))
        recomputed = np.empty(0)
    scores: dict[int, float] = {}
    for key, v in (epoch.get("scores") or {}).items():
        f = _number(v)
        try:
            node = int(key)
        except (TypeError, ValueError):
            continue
        if f is not None:
            scores[node] = f
    ranked = lowest_first(scores)  # weakest first, as the policy breaks ties
    rank = {i: len(ranked) - k for k, i in enumerate(ranked)}  # 1 = best
    trained = set(_ids(epoch.get("active", [])))
    planned = trained | set(_ids(epoch.get("failed", {})))
    nxt = (planned - set(_ids(epoch.get("eliminated", [])))) | set(_ids(epoch.get("rejoined", [])))
    kept = [i for i in scores if i in nxt]
    cut_rank = len(kept)
    rows = []
    for k, i in enumerate(ids):
        rows.append(
            {
                "node": i,
                "metrics": values[k].tolist(),
                "normalized": normalized[k].tolist(),
                "score": scores.get(i),
                "score_eq3": float(recomputed[k]),
                "rank": rank.get(i),
                "kept": i in nxt,
            }
        )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["node"]))
    diffs = [abs(r["score"] - r["score_eq3"]) for r in rows if r["score"] is not None]
    return {
        "rows": rows,
        "n_scored": len(scores),
        "cut_rank": cut_rank,
        "cut_score": min((scores[i] for i in kept), default=None) if cut_rank < len(scores) else None,
        "bad_rows": bad,
        "score_check_max_abs": max(diffs) if diffs else None,
    }


def epoch_energy_j(epoch: Mapping[str, Any], fleet: Fleet | None) -> float | None:
    """Energy estimate of one epoch with the run's energy model (see the module docstring)."""
    start, end = _number(epoch.get("start_s")), _number(epoch.get("end_s"))
    if fleet is None or start is None or end is None:
        return None
    span = max(end - start, 0.0)
    raw = epoch.get("metrics")
    metrics: dict[str, Any] = raw if isinstance(raw, dict) else {}
    trained = [i for i in _ids(epoch.get("active", [])) if str(i) in metrics]
    upload = _number(epoch.get("upload_bytes")) or 0.0
    per_node_bytes = upload / len(trained) if trained else 0.0
    usage: dict[int, NodeUsage] = {}
    for i in trained:
        t = _number(metrics[str(i)].get("train_time_s")) if isinstance(metrics[str(i)], dict) else None
        usage[i] = NodeUsage(busy_s=t or 0.0, bytes_moved=per_node_bytes)
    return float(sum(e.total_j for e in node_energy(fleet, usage, span).values()))


def epoch_views(
    record: Mapping[str, Any], fleet: Fleet | None, epochs: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Every epoch as recorded plus a ``view`` key with what the page draws."""
    node_ids = [n.id for n in fleet.nodes] if fleet is not None else _ids(record.get("nodes", []))
    config = policy_config(record)
    out = []
    for ep, states in zip(epochs, node_states(node_ids, epochs), strict=True):
        start, end = _number(ep.get("start_s")), _number(ep.get("end_s"))
        view = {
            "states": {str(i): s for i, s in states.items()},
            "cut_now": _ids(ep.get("eliminated", [])),
            "n_active": len(_ids(ep.get("active", []))),
            "duration_s": (end - start) if start is not None and end is not None else None,
            "energy_j": epoch_energy_j(ep, fleet),
            **score_rows(ep, config),
        }
        out.append({**ep, "view": view})
    return out
