"""The engine registry, and what an engine is built from.

The :class:`~edgetune.orchestrator.engine.Engine` interface belongs to the orchestrator that consumes
it; this module holds the registry the runs layer (:mod:`edgetune.runs`) builds engines through. A
registered engine class names its config dataclass (``config_cls``, the run spec's section named like
the engine) and builds itself from a :class:`BuildContext`.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from edgetune.fleet.faults import FaultSpec
from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import MonitorConfig
from edgetune.network.northbound import NorthboundConfig
from edgetune.network.simulated import NetworkConfig
from edgetune.orchestrator.engine import (
    Engine,
    EngineFailure,
    EngineReport,
    NodeReport,
    NodeUsage,
    Payloads,
    Resumable,
    RoundResult,
    TimeBase,
)
from edgetune.training.spec import TrainingSpec

__all__ = [
    "ENGINES",
    "BuildContext",
    "Engine",
    "EngineFailure",
    "EngineReport",
    "NodeReport",
    "NodeUsage",
    "Payloads",
    "RegisteredEngine",
    "Resumable",
    "RoundResult",
    "TimeBase",
    "register_engine",
]


@dataclass(frozen=True)
class BuildContext:
    """Everything an engine may be built from (the runs layer fills it from a run spec).

    Attributes
    ----------
    fleet : Fleet
    seed : int
        The run's seed (``run.seed``): engines spawn their generators from ``default_rng(seed)``.
    learning_rate : float
        ``run.learning_rate`` (local optimiser rate of FedAvg).
    network, monitor : NetworkConfig, MonitorConfig
        The simulated network and SDN monitor (virtual-clock engines).
    northbound : NorthboundConfig
        A real controller (engines on real networks).
    task : TrainingSpec
        The training task (engines that train).
    config : Any
        The engine's own section (an instance of its ``config_cls``).
    faults : FaultSpec
        Injected node faults (the spec's ``[faults]``); every engine honours them.
    """

    fleet: Fleet
    seed: int
    learning_rate: float
    network: NetworkConfig
    monitor: MonitorConfig
    northbound: NorthboundConfig
    task: TrainingSpec
    config: Any
    faults: FaultSpec = field(default_factory=FaultSpec)


class RegisteredEngine(Engine):
    """An engine the runs layer can build by name."""

    config_cls: ClassVar[type[Any]]

    @classmethod
    @abstractmethod
    def build(cls, ctx: BuildContext) -> Engine:
        """Build the engine (and its network, monitor, model ...) for one run."""


ENGINES: dict[str, type[RegisteredEngine]] = {}


def register_engine(cls: type[RegisteredEngine]) -> type[RegisteredEngine]:
    """Class decorator: make an engine available under ``cls.name``."""
    ENGINES[cls.name] = cls
    return cls
