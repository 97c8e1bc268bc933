"""The ``flower-sim`` engine: the same ServerApp and ClientApp under Flower's simulation runtime.

:func:`run_simulation` runs edgetune's ServerApp logic (:func:`edgetune.flower.serverapp.run`) and
the same ClientApp (:mod:`edgetune.flower.clientapp`) with ``flwr.simulation.run_simulation`` on
one machine: ``num_supernodes`` virtual SuperNodes (one per fleet node; node ``k`` holds partition
``k``, and the server maps partition ``k`` to the fleet's ``k``-th node) executed by a pool of Ray
actors (``num_cpus / cpus_per_node`` of them). Actors are long-lived processes, so the ClientApp
builds the task once per actor (its per-process cache) and a round costs the local work plus
Flower's in-memory message passing -- this is the engine for fleets too large for one process
per node (e.g. 100 virtual nodes on 2 cores).

The backend (Ray) comes with the ``flower-sim`` extra (``pip install -e .[flower-sim]``, done by
``scripts/install.sh``). Telemetry is off for Flower and Ray (:data:`SIM_ENV`), Ray's dashboard is
not started and nothing is installed at run time (no ``runtime_env``).
"""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path
from typing import Any

from edgetune.flower.deploy import FLOWER_ENV
from edgetune.flower.engine import FlowerEngine
from edgetune.flower.serverapp import ServerSettings
from edgetune.io import atomic_write_json

#: Environment of a simulation: Flower's and Ray's telemetry off, one torch thread per actor.
SIM_ENV: dict[str, str] = {
    **FLOWER_ENV,
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


class FlowerSimEngine(FlowerEngine):
    """:class:`~edgetune.flower.engine.FlowerEngine` on the simulation runtime's in-memory grid."""

    name = "flower-sim"


def backend_config(num_cpus: int, cpus_per_node: float) -> dict[str, Any]:
    """The Ray backend configuration edgetune passes (recorded in the run record)."""
    return {
        "client_resources": {"num_cpus": cpus_per_node, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": num_cpus,
            "num_gpus": 0,
            "include_dashboard": False,
            "logging_level": "error",
            "log_to_driver": False,
        },
    }


def run_simulation(
    settings: ServerSettings,
    num_supernodes: int,
    num_cpus: int = 2,
    cpus_per_node: float = 1.0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Run ``settings`` on ``num_supernodes`` virtual SuperNodes; returns the run record's JSON.

    Raises ``RuntimeError`` with the ServerApp's error when the run did not produce a record.
    """
    if num_supernodes < 1:
        raise ValueError(f"num_supernodes must be at least 1, got {num_supernodes}")
    if not 0 < cpus_per_node <= num_cpus:
        raise ValueError(f"cpus_per_node must be in (0, num_cpus], got {cpus_per_node}")
    os.environ.update(SIM_ENV)
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation as flwr_run_simulation

    from edgetune.flower.clientapp import app as client_app
    from edgetune.flower.serverapp import run as run_server

    out = Path(settings.out)
    err = out.with_name(out.name + ".error")
    for stale in (out, err):
        stale.unlink(missing_ok=True)
    config = backend_config(num_cpus, cpus_per_node)
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Grid, context: Context) -> None:
        try:
            doc = run_server(grid, settings, FlowerSimEngine)
        except BaseException as exc:
            err.write_text(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}", encoding="utf-8")
            raise
        doc.setdefault("config", {})["flower_sim"] = {
            "num_supernodes": num_supernodes,
            "backend": "ray",
            "backend_config": config,
            "env": SIM_ENV,
        }
        atomic_write_json(out, doc)

    flwr_run_simulation(
        server_app, client_app, num_supernodes, backend_name="ray", backend_config=config, verbose_logging=verbose
    )
    if not out.exists():
        reason = err.read_text(encoding="utf-8") if err.exists() else "the simulation ended without a run record"
        raise RuntimeError(reason.strip().splitlines()[0] if reason.strip() else reason)
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return doc
