"""The ``flower-sim`` engine: the same engine and ClientApp under Flower's simulation runtime.

:func:`edgetune.runs.flower.simulate` runs edgetune's ServerApp logic (the runs layer's
:func:`~edgetune.runs.execute.drive` with :class:`FlowerSimEngine`) and the same ClientApp
(:mod:`edgetune.flower.clientapp`) with ``flwr.simulation.run_simulation`` on one machine: one
virtual SuperNode per fleet node (node ``k`` holds partition ``k``; the server maps partition ``k``
to the fleet's ``k``-th node) executed by a pool of Ray actors (``num_cpus / cpus_per_node`` of them).
Actors are long-lived processes, so the ClientApp builds the task once per actor (its per-process
cache) and a round costs the local work plus Flower's in-memory message passing -- this is the
engine for fleets too large for one process per node (e.g. 100 virtual nodes on 2 cores).

The backend (Ray) comes with the ``flower-sim`` extra (``pip install -e .[flower-sim]``, done by
``scripts/install.sh``). Telemetry is off for Flower and Ray (:data:`SIM_ENV`), Ray's dashboard is
not started and nothing is installed at run time (no ``runtime_env``).
"""

from __future__ import annotations

from typing import Any

from edgetune.errors import InputError
from edgetune.flower.commands import FLOWER_ENV
from edgetune.flower.engine import FlowerEngine

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
    """The Ray backend configuration edgetune passes (recorded in the run record).

    Raises
    ------
    InputError
        ``num_cpus`` below 1 or ``cpus_per_node`` outside ``(0, num_cpus]``.
    """
    if num_cpus < 1:
        raise InputError("--num-cpus", num_cpus, "must be at least 1")
    if not 0 < cpus_per_node <= num_cpus:
        raise InputError("--cpus-per-node", cpus_per_node, "must be in (0, --num-cpus]")
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
