"""Engines: how the work of an epoch runs (simulated, real in-process training, Flower, testbed).

Every engine is driven by the same orchestrator loop; see :class:`edgetune.engines.base.Engine`.
"""

from edgetune.engines.base import ENGINES, Engine, NodeReport, NodeUsage, RoundResult, register_engine

__all__ = ["ENGINES", "Engine", "NodeReport", "NodeUsage", "RoundResult", "register_engine"]
