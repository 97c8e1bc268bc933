"""The AI orchestrator: Algorithm 1 of the node-elimination paper in one loop, and the run record."""

from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
from edgetune.orchestrator.record import EpochRecord, RunRecord

__all__ = ["EpochRecord", "Orchestrator", "OrchestratorConfig", "RunRecord"]
