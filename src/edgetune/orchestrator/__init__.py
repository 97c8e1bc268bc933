"""The AI orchestrator: Algorithm 1 of the node-elimination paper in one loop, the engine interface it
drives, and the run record."""

from edgetune.orchestrator.engine import Engine, EngineFailure, EngineReport, NodeReport, NodeUsage, RoundResult
from edgetune.orchestrator.loop import LoopState, Orchestrator, OrchestratorConfig
from edgetune.orchestrator.record import EpochRecord, RunRecord

__all__ = [
    "Engine",
    "EngineFailure",
    "EngineReport",
    "EpochRecord",
    "LoopState",
    "NodeReport",
    "NodeUsage",
    "Orchestrator",
    "OrchestratorConfig",
    "RoundResult",
    "RunRecord",
]
