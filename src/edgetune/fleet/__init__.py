"""Fleets: the orchestrator, the edge nodes and the links between them (node-elimination paper, Sec. IV-A)."""

from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec, load_fleet, save_fleet

__all__ = ["Fleet", "LinkSpec", "NodeSpec", "OrchestratorSpec", "SwitchSpec", "load_fleet", "save_fleet"]
