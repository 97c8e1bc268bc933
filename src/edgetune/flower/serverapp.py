"""The Flower ServerApp: edgetune's orchestrator loop with the Flower engine.

The run configuration (``[tool.flwr.app.config]`` of the app written by
:func:`edgetune.flower.deploy.write_app`, overridden by ``flwr run --run-config``) names the fleet
file, the policy and its weights, the SDN controller's northbound URL, the task and the timeouts;
see :class:`ServerSettings`. The ServerApp builds the selection policy, an
:class:`~edgetune.network.northbound.HttpNorthboundClient` (the only source of network metrics), the
:class:`~edgetune.flower.engine.FlowerEngine` and runs
:class:`~edgetune.orchestrator.loop.Orchestrator` -- the same loop as every other engine -- then writes
the run record (atomically) to ``out``. After every epoch it rewrites ``progress`` (a small JSON
document) so that a launcher can follow the run; if the run fails it writes ``out + ".error"``.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import asdict, dataclass
from logging import INFO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from flwr.supercore import log

from edgetune.flower.task import TaskSettings, from_flat

if TYPE_CHECKING:
    from edgetune.flower.engine import FlowerEngine
from edgetune.io import atomic_write_json, atomic_write_text

app = ServerApp()


@dataclass(frozen=True)
class ServerSettings(TaskSettings):
    """Run configuration of the ServerApp (keys are these names with ``_`` written ``-``).

    The task's fields (``model``, ``seed``, ``partition``, ...) come from :class:`TaskSettings`.
    """

    fleet: str = ""
    out: str = "run.json"
    progress: str = ""
    northbound_url: str = "http://127.0.0.1:8181"
    policy: str = "ne"
    epochs: int = 3
    learning_rate: float = 3e-3
    weights: str = "0.2,0.2,0.2,0.2,0.2"
    utopia: str = "1,1,1,1,1"
    rejoin: bool = False
    train_time: str = "measured"
    work_s: float = 30.0
    connect_timeout_s: float = 120.0
    round_timeout_s: float = 600.0
    straggler_ratio: float = 0.0
    straggler_min_s: float = 5.0
    sync_timeout_s: float = 60.0
    poll_interval_s: float = 0.05

    @classmethod
    def from_run_config(cls, run_config: Any) -> ServerSettings:
        """Read a Flower run config (missing keys take the defaults above)."""
        return from_flat(cls, run_config, lambda name: name.replace("_", "-"))

    def to_run_config(self) -> dict[str, Any]:
        """The run config for these settings (``flwr run --run-config``)."""
        return {k.replace("_", "-"): v for k, v in asdict(self).items()}


def _floats(text: str, name: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None


def run(grid: Grid, settings: ServerSettings, engine_cls: type[FlowerEngine] | None = None) -> dict[str, Any]:
    """Run Algorithm 1 on ``grid`` with ``settings``; returns the run record's JSON document.

    ``engine_cls`` is :class:`~edgetune.flower.engine.FlowerEngine` (deployment) or its simulation
    twin (:class:`~edgetune.flower.simulation.FlowerSimEngine`): the same engine under another name.
    """
    from edgetune.fleet.schema import load_fleet
    from edgetune.flower.engine import FlowerEngine, FlowerEngineConfig, spec_for
    from edgetune.flower.training_task import make_task
    from edgetune.flower.wrappers import ModelledTrainTime
    from edgetune.network.northbound import HttpNorthboundClient
    from edgetune.orchestrator.loop import Orchestrator, OrchestratorConfig
    from edgetune.orchestrator.record import EpochRecord
    from edgetune.selection import PolicyConfig, make_policy

    fleet = load_fleet(settings.fleet)
    policy = make_policy(
        settings.policy,
        PolicyConfig(
            weights=_floats(settings.weights, "weights"),
            utopia=_floats(settings.utopia, "utopia"),
            rejoin=settings.rejoin,
        ),
    )
    spec = spec_for(fleet, **settings.task_settings())
    task = make_task(spec, server=True)
    config = FlowerEngineConfig(
        connect_timeout_s=settings.connect_timeout_s,
        round_timeout_s=settings.round_timeout_s,
        straggler_ratio=settings.straggler_ratio,
        straggler_min_s=settings.straggler_min_s,
        sync_timeout_s=settings.sync_timeout_s,
        poll_interval_s=settings.poll_interval_s,
    )
    if settings.train_time not in ("measured", "modelled"):
        raise ValueError(f"train-time must be 'measured' or 'modelled', got {settings.train_time!r}")
    flower = (engine_cls or FlowerEngine)(grid, fleet, task, config, learning_rate=settings.learning_rate)
    engine = flower if settings.train_time == "measured" else ModelledTrainTime(flower, fleet, settings.work_s)
    epochs_done: list[dict[str, Any]] = []

    def progress(ep: EpochRecord) -> None:
        epochs_done.append(ep.to_json())
        log(
            INFO,
            "epoch %s: active %s eliminated %s failed %s loss %s",
            ep.epoch,
            ep.active,
            ep.eliminated,
            sorted(ep.failed),
            ep.loss,
        )
        if settings.progress:
            atomic_write_json(settings.progress, {"epochs": epochs_done, "node_map": flower.report()["node_map"]})

    orch = Orchestrator(
        engine,
        policy,
        HttpNorthboundClient(settings.northbound_url),
        fleet,
        OrchestratorConfig(epochs=settings.epochs, learning_rate=settings.learning_rate),
        progress=progress,
    )
    record = orch.run()
    record.config["northbound_url"] = settings.northbound_url
    record.config["seed"] = settings.seed
    record.extra["flower"] = flower.report()
    record.save(settings.out)
    doc: dict[str, Any] = record.to_json()
    return doc


@app.main()
def main(grid: Grid, context: Context) -> None:
    """ServerApp entry point: read the run config, run, write the record (or ``out.error``)."""
    settings = ServerSettings.from_run_config(context.run_config)
    log(INFO, "edgetune ServerApp: %s", json.dumps(asdict(settings)))
    try:
        run(grid, settings)
    except BaseException as exc:
        atomic_write_text(
            Path(settings.out).with_name(Path(settings.out).name + ".error"),
            f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}",
        )
        raise
