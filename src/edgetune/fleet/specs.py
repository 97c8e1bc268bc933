"""The records of a fleet file: links, switches, nodes, the orchestrator, and the bounds of every number.

One pydantic model per record, each field strict, finite and bounded by :data:`BOUNDS` (declared once:
the document schema of :mod:`edgetune.fleet.schema` and the column checks of
:mod:`edgetune.fleet.columns` read the same table).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: Bounds of every number of a fleet file, declared once: ``name -> (low, high)``. Numbers are finite,
#: booleans are not numbers, and a physical quantity that must be positive has a positive floor (so a
#: denormal such as 5e-324 cannot turn into an infinite time downstream).
BOUNDS: dict[str, tuple[float, float]] = {
    "bandwidth_mbps": (1e-6, 1e7),  # 1 bit/s .. 10 Tbit/s
    "delay_ms": (0.0, 3.6e6),  # .. one hour
    "loss_pct": (0.0, 100.0),  # upper end excluded
    "compute": (1e-6, 1e9),
    "power_w": (0.0, 1e6),
    "radio_j_per_mb": (0.0, 1e6),
    "node_id": (0, 2**31 - 1),
    "seed": (0, 2**63 - 1),
}
#: Longest name or id string in a fleet file.
MAX_NAME_CHARS = 256


def _number(name: str, description: str, default: float | None = None, **extra: Any) -> Any:
    """A finite, strictly typed float field bounded by ``BOUNDS[name]``."""
    lo, hi = BOUNDS[name]
    bounds: dict[str, float] = {"ge": lo, "le": hi}
    bounds.update(extra)
    if "lt" in extra:
        bounds.pop("le")
    kwargs: dict[str, Any] = {"strict": True, "allow_inf_nan": False, "description": description, **bounds}
    return Field(**kwargs) if default is None else Field(default, **kwargs)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=MAX_NAME_CHARS)


class LinkSpec(_Frozen):
    """One network link, as configured without fine-tuning traffic."""

    bandwidth_mbps: float = _number("bandwidth_mbps", "capacity in megabits per second")
    delay_ms: float = _number("delay_ms", "one-way propagation + processing delay in milliseconds")
    loss_pct: float = _number("loss_pct", "packet loss rate in percent", 0.0, lt=100.0)


class OrchestratorSpec(_Frozen):
    """The server hosting the AI orchestrator, behind the aggregation switch named in ``switch``."""

    name: str = "orchestrator"
    switch: str
    link: LinkSpec


class SwitchSpec(_Frozen):
    """A gateway (domain) switch or the aggregation switch; ``uplink`` leads towards the orchestrator."""

    id: str
    kind: Literal["gateway", "aggregation"]
    parent: str | None = Field(default=None, description="aggregation switch above a gateway")
    uplink: LinkSpec | None = Field(default=None, description="gateway -> aggregation link")


class NodeSpec(_Frozen):
    """An edge node: its compute power, power draw and access link to its gateway."""

    id: int = Field(strict=True, ge=BOUNDS["node_id"][0], le=BOUNDS["node_id"][1])
    name: str = ""
    compute: float = _number("compute", "compute power C (paper units; see docs/network.md)")
    idle_power_w: float = _number("power_w", "power draw while idle, watts", 2.5)
    busy_power_w: float = _number("power_w", "power draw while training, watts", 8.0)
    radio_j_per_mb: float = _number("radio_j_per_mb", "radio energy per megabyte moved, joules", 0.1)
    gateway: str
    link: LinkSpec


class FleetHeader(_Frozen):
    """Everything of a fleet file but its switches and nodes (the ``meta`` of the npz format)."""

    version: Literal[1] = 1
    setup: str = "custom"
    seed: int | None = Field(default=None, strict=True, ge=BOUNDS["seed"][0], le=BOUNDS["seed"][1])
    orchestrator: OrchestratorSpec
