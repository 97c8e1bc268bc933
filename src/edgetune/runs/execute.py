"""The one place that wires a run: fleet, engine (with its network and monitor), policy, and the loop.

:func:`run` builds everything from a :class:`~edgetune.runs.spec.RunSpec` through the ``ENGINES``
registry, runs :class:`~edgetune.orchestrator.loop.Orchestrator` and, given a run folder, streams
every finished epoch to ``epochs.jsonl`` and writes a checkpoint after it. :func:`resume` continues an
interrupted run from its folder; the result equals an uninterrupted run (byte-identical records on the
simulated engine).

How a run ends, and what is left behind:

=====================================  ===============  ==========================================
cause                                  ``status``       exception raised to the caller (CLI exit)
=====================================  ===============  ==========================================
all epochs done                        ``complete``     none (0)
SIGINT / SIGTERM (KeyboardInterrupt)   ``interrupted``  KeyboardInterrupt (130)
engine cannot go on, northbound down   ``failed``       :class:`RunFailed` (1)
=====================================  ===============  ==========================================

In every case ``record.json`` holds the epochs finished so far, written atomically.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.engines.base import ENGINES, BuildContext
from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, load_fleet
from edgetune.network.monitor import NorthboundAPI
from edgetune.network.northbound import NorthboundUnavailable
from edgetune.orchestrator.energy import epoch_energy_j as orchestrator_epoch_energy_j
from edgetune.orchestrator.engine import Engine, EngineFailure, Resumable
from edgetune.orchestrator.loop import LoopState, Orchestrator, ProgressFn
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.runs.folder import RunFolder
from edgetune.runs.spec import RunSpec, engine_config_class, load_spec
from edgetune.selection.base import SelectionPolicy, make_policy


class RunFailed(RuntimeError):
    """The run ended as ``failed``; ``record`` holds the epochs finished before."""

    def __init__(self, message: str, record: RunRecord | None) -> None:
        super().__init__(message)
        self.record = record


@dataclass
class Wiring:
    """What one run is made of."""

    fleet: Fleet
    engine: Engine
    northbound: NorthboundAPI
    policy: SelectionPolicy


def policy_rng(seed: int) -> np.random.Generator:
    """The policy's own generator: ``default_rng(seed).spawn(4)[3]``, independent of every other stream.

    The simulated engine spawns children 0-1 of ``default_rng(seed)`` (network, monitor), the in-process
    engine children 0-2 (fleet, data, run); child 3 is left to the policy on both.
    """
    return np.random.default_rng(seed).spawn(4)[3]


def resolve_fleet(spec: RunSpec, base_dir: Path | None = None) -> Fleet:
    """The fleet of ``spec``: its file (relative to ``base_dir``) or a generated one (``fleet.seed``)."""
    from edgetune.fleet.generate import GeneratorConfig, fleet_rng, generate_fleet

    f = spec.fleet
    if f.file:
        path = Path(f.file)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return load_fleet(path)
        except InputError as exc:
            if exc.field == "--fleet":
                raise InputError("fleet.file", f.file, exc.reason) from None
            raise
    cfg = GeneratorConfig(nodes_per_gateway=f.nodes_per_gateway)
    return generate_fleet(f.nodes, f.setup, fleet_rng(f.seed, f.nodes, f.setup), cfg, seed=f.seed)


def build_context(spec: RunSpec, fleet: Fleet) -> BuildContext:
    """The engine's view of the spec (fault events are checked against the fleet and T here)."""
    try:
        spec.faults.check(fleet.node_ids, spec.run.epochs)
    except InputError as exc:
        raise InputError(f"faults.{exc.field}", exc.value, exc.reason) from None
    return BuildContext(
        fleet=fleet,
        seed=spec.run.seed,
        learning_rate=spec.run.learning_rate,
        network=spec.network,
        monitor=spec.monitor,
        northbound=spec.northbound,
        task=spec.task,
        config=spec.engine,
        faults=spec.faults,
    )


def wire(spec: RunSpec, fleet: Fleet) -> Wiring:
    """Build the engine (through the registry), its northbound API and the policy."""
    engine_config_class(spec.run.engine)  # imports the engine's module, which registers it
    return wire_engine(spec, fleet, ENGINES[spec.run.engine].build(build_context(spec, fleet)))


def wire_engine(spec: RunSpec, fleet: Fleet, engine: Engine) -> Wiring:
    """The wiring around an engine built elsewhere (e.g. the Flower engine, built inside a ServerApp
    that holds the Flower Grid): its northbound API (the engine's own, else ``spec.northbound``) and
    the policy."""
    northbound = engine.northbound if engine.northbound is not None else spec.northbound.client()
    return Wiring(fleet, engine, northbound, make_policy(spec.run.policy, spec.policy))


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while files are being written; raise KeyboardInterrupt afterwards.

    Only in the main thread (elsewhere signals are not delivered to Python code anyway).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got:
            raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt like SIGINT does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def epoch_energy_j(fleet: Fleet, ep: EpochRecord) -> float:
    """Energy of one epoch by the run's energy model, from the epoch's reported training times."""
    return orchestrator_epoch_energy_j(fleet, ep)  # on columns: a list lookup per node was O(n^2)


def run(
    spec: RunSpec,
    out: str | Path | None = None,
    *,
    base_dir: Path | None = None,
    progress: ProgressFn | None = None,
    tensorboard: bool = False,
    after_epoch: Callable[[LoopState], None] | None = None,
    fleet: Fleet | None = None,
) -> RunRecord:
    """Run ``spec``; with ``out``, write the run folder as the run goes (see the module docstring).

    Parameters
    ----------
    spec : RunSpec
    out : path, optional
        The run folder.
    base_dir : Path, optional
        Folder a relative ``fleet.file`` is relative to.
    progress : callable, optional
        Called with each finished epoch.
    tensorboard : bool
        Also write TensorBoard scalars into ``out/tensorboard``.
    after_epoch : callable, optional
        Called after each epoch's files are written (tests interrupt runs here).
    fleet : Fleet, optional
        Use this fleet instead of resolving ``spec.fleet`` (sweeps that share one fleet).
    """
    folder = RunFolder(out, tensorboard) if out is not None else None
    if folder is not None:
        folder.check_writable()
    fl = fleet if fleet is not None else resolve_fleet(spec, base_dir)
    return drive(spec, wire(spec, fl), folder, None, progress, after_epoch)


#: Engines whose runs are driven from another process's event loop: ``run.engine`` -> "module:function"
#: taking ``(spec, out, base_dir=...)``. ``flower`` runs on Flower's simulation runtime on this machine
#: (the same ServerApp and ClientApp as a deployment; ``edgetune flower serve`` deploys on devices).
EXTERNAL_RUNNERS: dict[str, str] = {"flower": "edgetune.runs.flower:simulate"}


def run_any(
    spec: RunSpec,
    out: str | Path,
    *,
    base_dir: Path | None = None,
    progress: ProgressFn | None = None,
    tensorboard: bool = False,
) -> RunRecord:
    """:func:`run`, or the runner of an engine in :data:`EXTERNAL_RUNNERS` (``edgetune run`` calls this)."""
    target = EXTERNAL_RUNNERS.get(spec.run.engine)
    if target is None:
        return run(spec, out, base_dir=base_dir, progress=progress, tensorboard=tensorboard)
    import importlib

    module, _, name = target.partition(":")
    runner: Callable[..., RunRecord] = getattr(importlib.import_module(module), name)
    return runner(spec, out, base_dir=base_dir)


def resume(
    out: str | Path,
    *,
    progress: ProgressFn | None = None,
    after_epoch: Callable[[LoopState], None] | None = None,
    tensorboard: bool = False,
) -> RunRecord:
    """Finish the interrupted run in folder ``out`` from its last checkpoint."""
    folder = RunFolder(out, tensorboard)
    if not (folder.path / "spec.toml").is_file():
        raise InputError("--resume", str(out), "not a run folder (no spec.toml)")
    state = folder.load_checkpoint()
    spec, _ = load_spec(folder.path / "spec.toml")
    fleet = load_fleet(folder.path / "fleet.yaml")
    wiring = wire(spec, fleet)
    if not isinstance(wiring.engine, Resumable):
        raise InputError("--resume", str(out), f"the {spec.run.engine} engine cannot be resumed")
    wiring.engine.restore(state["engine"])
    if wiring.engine.northbound is not None:  # restored with the engine's timeline
        wiring.northbound = wiring.engine.northbound
    wiring.policy = state["policy"]
    loop: LoopState = state["loop"]
    return drive(spec, wiring, folder, loop, progress, after_epoch)


def drive(
    spec: RunSpec,
    w: Wiring,
    folder: RunFolder | None,
    resume_from: LoopState | None = None,
    progress: ProgressFn | None = None,
    after_epoch: Callable[[LoopState], None] | None = None,
) -> RunRecord:
    """Run already-wired parts under ``spec`` (what :func:`run` and :func:`resume` share)."""
    resumable = w.engine if isinstance(w.engine, Resumable) else None

    def on_epoch(state: LoopState) -> None:
        ep = state.record.epochs[-1]
        if folder is not None:
            with deferred_interrupts():
                folder.append_epoch(ep, state.record)
                folder.add_energy(ep.epoch, epoch_energy_j(w.fleet, ep))
                if resumable is not None:
                    folder.save_checkpoint({"loop": state, "engine": resumable.state(), "policy": w.policy})
        if after_epoch is not None:
            after_epoch(state)

    orch = Orchestrator(
        w.engine,
        w.policy,
        w.northbound,
        w.fleet,
        spec.run,
        progress=progress,
        on_epoch=on_epoch,
        record_config=spec.to_dict(),
        policy_rng=policy_rng(spec.run.seed),
    )
    if folder is not None:
        first = resume_from.record if resume_from is not None else orch.new_record()
        folder.start(spec.to_toml(), w.fleet, first, resume_from.record.epochs if resume_from else None)
    try:
        with sigterm_as_interrupt():
            record = orch.run(resume=resume_from)
    except KeyboardInterrupt:
        _finish_partial(orch, folder, "interrupted")
        raise
    except (EngineFailure, NorthboundUnavailable) as exc:
        rec = _finish_partial(orch, folder, "failed", f"{type(exc).__name__}: {exc}")
        raise RunFailed(str(exc), rec) from exc
    _note_outages(record, w.northbound)
    if folder is not None:
        save = getattr(w.engine, "save_model", None)
        if callable(save) and getattr(w.engine, "tokenizer", None) is not None:
            save(folder.path / "model")  # the fine-tuned model the user keeps (RUNFOLDER contract)
        with deferred_interrupts():
            folder.write_record(record)
            folder.close()
    return record


def _note_outages(record: RunRecord, northbound: NorthboundAPI) -> None:
    outages = getattr(northbound, "outages", None)
    if outages:
        record.extra["northbound_outages"] = len(outages)
        record.timings["northbound_outage_s"] = [o.duration_s for o in outages]


def _finish_partial(orch: Orchestrator, folder: RunFolder | None, status: str, error: str = "") -> RunRecord | None:
    record = orch.record
    if record is None:
        return None
    record.status = status
    if error:
        record.extra["error"] = error
    _note_outages(record, orch.northbound)
    if folder is not None:
        with deferred_interrupts():
            folder.write_record(record)
            folder.close()
    return record
