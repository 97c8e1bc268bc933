"""The in-process engine's registry entry, without torch.

The run spec, the CLI's flags and ``edgetune simulate`` look engines up in the registry; importing the
in-process engine itself imports torch (about 2-3 s, issue 17). So its registry entry lives here, like
Flower's (:mod:`edgetune.flower.config`), and :meth:`InProcessEntry.build` imports the engine
(:mod:`edgetune.engines.inprocess`) only when a run is built. The ``[inprocess]`` settings are in
:mod:`edgetune.engines.inprocess_settings`, which both import.
"""

from __future__ import annotations

from edgetune.engines.base import BuildContext, RegisteredEngine, register_engine
from edgetune.engines.inprocess_settings import InProcessConfig
from edgetune.orchestrator.engine import Engine

__all__ = ["InProcessConfig", "InProcessEntry"]


@register_engine
class InProcessEntry(RegisteredEngine):
    """The registry entry of ``run.engine = "inprocess"``: its config class; never instantiated."""

    name = "inprocess"
    time_base = "virtual"
    config_cls = InProcessConfig

    @classmethod
    def build(cls, ctx: BuildContext) -> Engine:
        """Build :class:`~edgetune.engines.inprocess.InProcessEngine` (imports torch)."""
        from edgetune.engines.inprocess import InProcessEngine

        return InProcessEngine.build(ctx)
