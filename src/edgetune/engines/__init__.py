"""Engines: how the work of an epoch runs (simulated, real in-process training; Flower and the testbed
register theirs). Every engine is driven by the same orchestrator loop; see
:class:`edgetune.orchestrator.engine.Engine`, and built by name through :data:`ENGINES`.
"""

from edgetune.engines.base import ENGINES, BuildContext, RegisteredEngine, register_engine

__all__ = ["ENGINES", "BuildContext", "RegisteredEngine", "register_engine"]
