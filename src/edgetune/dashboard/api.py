"""The JSON API the page is built on (no sockets here: the server maps requests to these calls).

Routes (all ``GET``)::

    /api/runs                          the loaded runs, one summary each
    /api/runs/{i}                      run i: its record (without the file's epochs), "epochs" finished so
                                       far (each with a derived "view"), "fleet", "dashboard" (status,
                                       skipped lines, read errors)
    /api/runs/{i}/epochs?after=k&limit=m   the epochs numbered > k, at most m (default and cap 1000)
    /api/runs/{i}/events?after=k       server-sent events: one "epoch" event per new epoch (see server.py)

Bad paths and parameters raise :class:`ApiError`, which the server turns into a 4xx JSON body.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from edgetune.dashboard.runfolder import RunFolder
from edgetune.dashboard.views import epoch_views
from edgetune.selection.scoring import METRIC_NAMES

#: Most epochs one /epochs call returns.
MAX_EPOCHS_PER_CALL = 1000
#: Largest ``after`` accepted.
MAX_AFTER = 1_000_000_000

_RUN = re.compile(r"^/api/runs/(\d{1,4})(/epochs|/events)?/?$")


class ApiError(Exception):
    """A request the API refuses: HTTP status, message, and the offending field and value."""

    def __init__(self, status: int, message: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.value = value

    def to_json(self) -> dict[str, Any]:
        """The error body."""
        out: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.field is not None:
            out["field"] = self.field
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class Route:
    """A parsed API path: which endpoint, which run, which query."""

    endpoint: str  # "runs" | "run" | "epochs" | "events"
    run: int | None
    after: int
    limit: int


def parse_route(path: str, query: str, n_runs: int) -> Route:
    """Parse an API path and query string; raises :class:`ApiError` (404/400) on anything else."""
    if path.rstrip("/") == "/api/runs":
        endpoint, run = "runs", None
    else:
        m = _RUN.match(path)
        if m is None:
            raise ApiError(404, "no such API path", "path", path[:200])
        run = int(m.group(1))
        if run >= n_runs:
            raise ApiError(404, f"no run {run}: {n_runs} run(s) loaded", "run", run)
        endpoint = (m.group(2) or "/run").strip("/")
    try:
        params = parse_qs(query, keep_blank_values=True, strict_parsing=False, max_num_fields=8)
    except ValueError:
        raise ApiError(400, "too many query parameters", "query", query[:200]) from None
    allowed = {"after", "limit", "token"}
    for key in params:
        if key not in allowed:
            raise ApiError(400, "unknown query parameter", key, params[key][0][:200])
    after = _int_param(params, "after", 0, 0, MAX_AFTER)
    limit = _int_param(params, "limit", MAX_EPOCHS_PER_CALL, 1, MAX_EPOCHS_PER_CALL)
    return Route(endpoint=endpoint, run=run, after=after, limit=limit)


def _int_param(params: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    values = params.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise ApiError(400, "given more than once", name, values[0][:50])
    text = values[0]
    if not re.fullmatch(r"\d{1,10}", text):
        raise ApiError(400, "must be a non-negative integer", name, text[:50])
    value = int(text)
    if not lo <= value <= hi:
        raise ApiError(400, f"must be in {lo}..{hi}", name, value)
    return value


class RunView:
    """One loaded run: its folder and its derived epoch views, recomputed when the folder changes."""

    def __init__(self, index: int, folder: RunFolder) -> None:
        self.index = index
        self.folder = folder
        self._lock = threading.Lock()
        self._version = -1
        self._record: dict[str, Any] = {}
        self._fleet_json: dict[str, Any] | None = None
        self._epochs: list[dict[str, Any]] = []
        self._skipped: dict[str, int] = {}

    def update(self) -> None:
        """Refresh the folder and recompute the views if anything changed."""
        version = self.folder.refresh()
        with self._lock:
            if version == self._version:
                return
            record, fleet, epochs, skipped = self.folder.snapshot()
            self._record = record
            self._fleet_json = fleet.model_dump(mode="json", exclude_none=True) if fleet is not None else None
            self._epochs = epoch_views(record, fleet, epochs)
            self._skipped = skipped
            self._version = version

    def status(self) -> str:
        """The record's status ("running", "complete", ...; "unknown" in a record without one)."""
        status = self._record.get("status")
        return status if isinstance(status, str) else "unknown"

    def summary(self) -> dict[str, Any]:
        """One line of /api/runs."""
        self.update()
        with self._lock:
            rec = self._record
            cfg = rec.get("config") if isinstance(rec.get("config"), dict) else {}
            energy = rec.get("energy") if isinstance(rec.get("energy"), dict) else {}
            return {
                "index": self.index,
                "name": self.folder.path.name,
                "path": str(self.folder.path),
                "policy": rec.get("policy"),
                "status": self.status(),
                "time_base": rec.get("time_base", "virtual"),
                "nodes": len(self._fleet_json["nodes"]) if self._fleet_json else len(rec.get("nodes") or []),
                "epochs_done": len(self._epochs),
                "epochs_total": _epochs_total(cfg or {}),
                "latest_epoch": self._epochs[-1]["epoch"] if self._epochs else 0,
                "completion_time_s": rec.get("completion_time_s"),
                "energy_total_j": (energy or {}).get("total_j"),
            }

    def full(self) -> dict[str, Any]:
        """/api/runs/{i}: the record with the epochs so far, the fleet and reader diagnostics."""
        summary = self.summary()
        with self._lock:
            return {
                **self._record,
                "epochs": list(self._epochs),
                "fleet": self._fleet_json,
                "dashboard": {
                    **summary,
                    "metric_names": list(METRIC_NAMES),
                    "skipped_lines": dict(self._skipped),
                    "read_errors": list(self.folder.errors),
                },
            }

    def epochs_after(self, after: int, limit: int) -> dict[str, Any]:
        """/api/runs/{i}/epochs: epochs numbered above ``after`` (at most ``limit``)."""
        self.update()
        with self._lock:
            newer = [e for e in self._epochs if e["epoch"] > after]
            return {
                "run": self.index,
                "after": after,
                "status": self.status(),
                "latest_epoch": self._epochs[-1]["epoch"] if self._epochs else 0,
                "epochs": newer[:limit],
                "more": len(newer) > limit,
            }


def _epochs_total(cfg: dict[str, Any]) -> int | None:
    """T from a record's config: ``config.run.epochs`` (run spec) or ``config.epochs`` (older records)."""
    run = cfg.get("run")
    value = run.get("epochs") if isinstance(run, dict) else cfg.get("epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class DashboardAPI:
    """All loaded runs and the JSON endpoints over them.

    Parameters
    ----------
    run_dirs : list of Path
        Run folders, in the order the page shows them (index 0 first).
    """

    def __init__(self, run_dirs: list[Path]) -> None:
        self.runs = [RunView(i, RunFolder(Path(p))) for i, p in enumerate(run_dirs)]

    def get(self, route: Route) -> dict[str, Any]:
        """The JSON body of a non-streaming route."""
        if route.endpoint == "runs":
            return {"runs": [r.summary() for r in self.runs]}
        assert route.run is not None
        run = self.runs[route.run]
        if route.endpoint == "run":
            return run.full()
        if route.endpoint == "epochs":
            return run.epochs_after(route.after, route.limit)
        raise ApiError(400, "this endpoint streams events; use EventSource", "path", route.endpoint)


def to_body(obj: Any) -> bytes:
    """Compact JSON bytes (non-finite numbers become null, which JSON has no other word for)."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except ValueError:  # a NaN or infinity somewhere: walk the document once to replace them
        return json.dumps(_finite(obj), separators=(",", ":"), allow_nan=False).encode("utf-8")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj
