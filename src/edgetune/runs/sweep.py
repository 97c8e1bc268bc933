"""Runners over many runs: the policy sweep of ``edgetune compare`` and single simulated runs.

Every run goes through :func:`edgetune.runs.execute.run`, so a sweep cell is exactly the run its
spec names: ``[fleet]`` nodes / setup / seed and ``[run]`` policy / seed. The policies of a cell are
*paired*: they share the fleet, the run seed and so (on the in-process engine) the data split,
the partitions, the network's background variation and the monitor's noise; only the selection
differs. The base spec chooses the engine (``simulated`` or ``inprocess``), the task and the target.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from edgetune.fleet.generate import fleet_rng, generate_fleet
from edgetune.fleet.schema import Fleet
from edgetune.network.monitor import MonitorConfig
from edgetune.network.simulated import NetworkConfig
from edgetune.orchestrator.loop import OrchestratorConfig, ProgressFn
from edgetune.orchestrator.record import RunRecord
from edgetune.reporting.compare import SweepRow
from edgetune.runs.execute import run
from edgetune.runs.spec import FleetSpec, RunSettings, RunSpec
from edgetune.selection.base import PolicyConfig


def simulate(
    fleet: Fleet,
    policy: str,
    seed: int,
    config: OrchestratorConfig | None = None,
    workload: object | None = None,
    network_config: NetworkConfig | None = None,
    monitor_config: MonitorConfig | None = None,
    policy_config: PolicyConfig | None = None,
    progress: ProgressFn | None = None,
) -> RunRecord:
    """One simulated run of Algorithm 1 on ``fleet``: same fleet + seed + policy give the same record."""
    cfg = config or OrchestratorConfig()
    settings = RunSettings(
        epochs=cfg.epochs, learning_rate=cfg.learning_rate, engine="simulated", policy=policy, seed=seed
    )
    spec = RunSpec(
        run=settings,
        fleet=FleetSpec(file="<in-memory fleet>", nodes=fleet.n_nodes),
        policy=policy_config or PolicyConfig(),
        network=network_config or NetworkConfig(),
        monitor=monitor_config or MonitorConfig(),
        engine=workload,
    )
    return run(spec, fleet=fleet, progress=progress)


def sweep_row(rec: RunRecord, setup: str, nodes: int, seed: int) -> SweepRow:
    """What the sweep keeps of one run record (its totals and its loss curve)."""
    return SweepRow(
        setup=setup,
        nodes=nodes,
        seed=seed,
        policy=rec.policy,
        completion_time_s=rec.completion_time_s,
        energy_j=float(rec.energy["total_j"]),
        bytes_moved=rec.bytes_moved,
        last_epoch_nodes=len(rec.epochs[-1].active) if rec.epochs else 0,
        final_loss=rec.final_loss,
        time_to_target_s=rec.time_to_target_s,
        data_fraction=rec.data_fraction,
        end_s=tuple(e.end_s for e in rec.epochs),
        loss=tuple(e.loss for e in rec.epochs),
    )


def run_sweep(
    base: RunSpec,
    node_counts: Sequence[int],
    setups: Sequence[str],
    seeds: Sequence[int],
    policies: Sequence[str] = ("ne", "ar"),
    on_row: Callable[[SweepRow], None] | None = None,
) -> list[SweepRow]:
    """Run ``base`` for every (setup, nodes, seed, policy); the policies of a cell share its fleet and seed.

    Parameters
    ----------
    base : RunSpec
        Everything but ``fleet``, ``run.policy`` and ``run.seed`` (engine, task, target loss, ...).
    node_counts, setups, seeds : sequences
        The cells: a fleet generated for (nodes, setup, fleet seed = seed), run with ``run.seed = seed``.
    policies : sequence of str
        Registered selection policies, run in this order in every cell.
    on_row : callable, optional
        Called with each run's row as soon as it finishes (progress, incremental output).
    """
    rows: list[SweepRow] = []
    for setup in setups:
        for n in node_counts:
            for seed in seeds:
                fleet_spec = FleetSpec(nodes=n, setup=setup, seed=seed)
                fleet = generate_fleet(n, setup, fleet_rng(seed, n, setup), seed=seed)
                for pol in policies:
                    spec = base.replace(run=dataclasses.replace(base.run, policy=pol, seed=seed), fleet=fleet_spec)
                    rows.append(sweep_row(run(spec, fleet=fleet), setup, n, seed))
                    if on_row is not None:
                        on_row(rows[-1])
    return rows
