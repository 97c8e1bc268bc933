"""Runs on a running SDN testbed (docs/testbed.md), wired like every other run.

* :func:`run_on_testbed`: Algorithm 1 with a :class:`~edgetune.testbed.engine.TestbedEngine`, reading
  network metrics only through the OpenFlow controller's northbound API, driven by
  :func:`~edgetune.runs.execute.drive` (the run folder, statuses and failure handling of every run).
* :func:`simulate_prediction`: the same spec on the simulated engine with the testbed's fleet (as
  built: capped) and the background variation off (the testbed has none).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgetune.engines.simulated import SimWorkload
from edgetune.fleet.schema import Fleet
from edgetune.network.dynamics import VariationConfig
from edgetune.network.northbound import NorthboundConfig
from edgetune.orchestrator.loop import ProgressFn
from edgetune.orchestrator.record import RunRecord
from edgetune.runs.execute import Wiring, drive, run
from edgetune.runs.folder import RunFolder
from edgetune.runs.spec import RunSpec
from edgetune.selection.base import make_policy
from edgetune.testbed.engine import TestbedEngine, TestbedEngineConfig
from edgetune.testbed.runs import state_fleet
from edgetune.testbed.state import TestbedState


def run_on_testbed(
    state_path: Path,
    spec: RunSpec,
    workload: SimWorkload,
    engine_config: TestbedEngineConfig | None = None,
    progress: ProgressFn | None = None,
    out: str | Path | None = None,
) -> RunRecord:
    """Algorithm 1 on the running testbed (wall-clock times); ``out``: a run folder to stream into.

    The fleet is the one the testbed was built from (bandwidths capped), whatever ``spec.fleet`` says.
    """
    state = TestbedState.load(state_path)
    fleet = state_fleet(state)
    url = state.data["services"]["northbound_url"]
    spec = spec.replace(northbound=dataclasses.replace(spec.northbound, url=url))
    engine = TestbedEngine(fleet, state, workload, engine_config)
    wiring = Wiring(fleet, engine, spec.northbound.client(), make_policy(spec.run.policy, spec.policy))
    folder = RunFolder(out) if out is not None else None
    return drive(spec, wiring, folder, progress=progress)


def simulate_prediction(fleet: Fleet, spec: RunSpec, workload: SimWorkload) -> RunRecord:
    """The simulated engine's prediction of a testbed run (same fleet and spec, no background variation)."""
    quiet = dataclasses.replace(spec.network, variation=VariationConfig(bandwidth_sigma=0.0, delay_sigma=0.0))
    sim = spec.replace(
        run=dataclasses.replace(spec.run, engine="simulated"),
        network=quiet,
        engine=workload,
        northbound=NorthboundConfig(),
    )
    return run(sim, fleet=fleet)
