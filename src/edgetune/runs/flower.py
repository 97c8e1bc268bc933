"""Flower runs through the runs layer: the ServerApp, the run-config spelling of a run spec, ``flower-sim``.

The Flower engine needs the ``Grid`` of a running ServerApp, so a Flower run cannot be built by
:func:`edgetune.runs.execute.run`; it is wired here, inside the ServerApp, and then driven by the same
:func:`~edgetune.runs.execute.drive` as every other engine: the same run folder (``record.json`` with
``status``, ``spec.toml``, ``fleet.yaml``, ``epochs.jsonl``, ``epochs.csv``) and the same handling of
interruptions (SIGTERM/SIGINT -> ``interrupted``) and failures (``failed`` with the partial record).

**The run config is a spelling of the run spec.** Flower's run config is flat (``key -> bool | int |
float | str``) and Flower flattens nested TOML tables by joining keys with ``.``; so the run config of a
:class:`~edgetune.runs.spec.RunSpec` is its TOML document flattened the same way::

    run.engine = "flower"     run.policy = "ne"     policy.weights = "0.2,0.2,0.2,0.2,0.2"
    task.model = "tiny"       flower.straggler_min_s = 5.0      network.variation.bandwidth_sigma = 0.0

Lists (only ``policy.weights`` and ``policy.utopia``) become comma-separated ``repr`` strings, which the
spec's parser reads back exactly; :func:`spec_from_run_config` unflattens and calls
:func:`~edgetune.runs.spec.spec_from_dict`, the one validation step. Deployment-only keys, which are not
part of the spec, live apart under ``deploy.``: ``deploy.out`` (the run folder, absolute).

If the ServerApp fails before the orchestrator loop has written a final record (a bad run config, a
task that cannot be built), it writes ``DIR/error.txt``; launchers wait for either
(:func:`wait_for_run`).
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Mapping
from logging import ERROR, INFO
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from flwr.supercore import log

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet
from edgetune.flower.config import FlowerEngineConfig
from edgetune.flower.deploy import Deployment
from edgetune.flower.engine import FlowerEngine
from edgetune.flower.polls import shorten_object_pull_backoff
from edgetune.flower.simulation import SIM_ENV, FlowerSimEngine, backend_config
from edgetune.io import atomic_write_text
from edgetune.orchestrator.record import EpochRecord, RunRecord
from edgetune.runs.execute import RunFailed, build_context, drive, resolve_fleet, wire_engine
from edgetune.runs.folder import RunFolder
from edgetune.runs.spec import RunSpec, spec_from_dict

#: The section of deployment-only run-config keys (not part of the run spec).
DEPLOY = "deploy"
#: What the ServerApp writes into the run folder when it fails before the loop wrote a final record.
ERROR_FILE = "error.txt"
#: ``record.json`` statuses that end a run.
FINAL = ("complete", "interrupted", "failed")

RunConfig = dict[str, bool | int | float | str]


# -- the run-config spelling ------------------------------------------------------------------------------
def run_config(spec: RunSpec, out: str | Path, base_dir: Path | None = None) -> RunConfig:
    """The Flower run config of ``spec`` writing into folder ``out`` (see the module docstring).

    A relative ``fleet.file`` is made absolute against ``base_dir`` (default: the working directory),
    since the ServerApp runs elsewhere.
    """
    doc = spec.to_dict()
    if spec.fleet.file:
        doc["fleet"]["file"] = str(((base_dir or Path.cwd()) / spec.fleet.file).resolve())
    flat: RunConfig = {}
    _flatten(doc, "", flat)
    flat[f"{DEPLOY}.out"] = str(Path(out).resolve())
    return flat


def _flatten(doc: Mapping[str, Any], prefix: str, out: RunConfig) -> None:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, name + ".", out)
        elif isinstance(value, list | tuple):
            out[name] = ",".join(repr(v) for v in value)
        else:
            out[name] = value


def spec_from_run_config(config: Mapping[str, Any]) -> tuple[RunSpec, Path]:
    """Inverse of :func:`run_config`: the run spec (validated by ``spec_from_dict``) and the run folder."""
    doc: dict[str, Any] = {}
    deploy: dict[str, Any] = {}
    for key, value in config.items():
        section, _, rest = str(key).partition(".")
        if section == DEPLOY:
            deploy[rest] = value
            continue
        node = doc
        *path, last = str(key).split(".")
        for part in path:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise InputError(str(key), value, f"{part} is both a setting and a section")
            node = nxt
        node[last] = value
    unknown = sorted(set(deploy) - {"out"})
    if unknown:
        raise InputError(f"{DEPLOY}.{unknown[0]}", deploy[unknown[0]], "unknown deployment key; known: deploy.out")
    out = deploy.get("out")
    if not isinstance(out, str) or not out:
        raise InputError(f"{DEPLOY}.out", out, "the run folder is missing from the run config")
    return spec_from_dict(doc), Path(out)


# -- the ServerApp ------------------------------------------------------------------------------------------
def _log_epoch(ep: EpochRecord) -> None:
    log(
        INFO,
        "epoch %s: active %s eliminated %s failed %s loss %s",
        ep.epoch,
        ep.active,
        ep.eliminated,
        sorted(ep.failed),
        ep.loss,
    )


def run_on_grid(
    grid: Grid,
    spec: RunSpec,
    out: str | Path,
    engine_cls: type[FlowerEngine] = FlowerEngine,
    run_info: Mapping[str, Any] | None = None,
    fleet: Fleet | None = None,
) -> RunRecord:
    """Run ``spec`` on ``grid`` into run folder ``out`` through :func:`~edgetune.runs.execute.drive`.

    ``engine_cls`` is :class:`~edgetune.flower.engine.FlowerEngine` (deployment) or
    :class:`~edgetune.flower.simulation.FlowerSimEngine`; ``run_info`` goes into the record's
    ``engine`` section. Raises what ``drive`` raises (``RunFailed``, ``KeyboardInterrupt``) after the
    record is written; any other failure leaves ``out/error.txt``.
    """
    folder = RunFolder(out)
    folder.check_writable()
    error = folder.path / ERROR_FILE
    error.unlink(missing_ok=True)
    try:
        fl = fleet if fleet is not None else resolve_fleet(spec)
        flower, engine = engine_cls.for_run(grid, build_context(spec, fl))
        flower.run_info.update(run_info or {})
        return drive(spec, wire_engine(spec, fl, engine), folder, progress=_log_epoch)
    except (RunFailed, KeyboardInterrupt):
        raise
    except BaseException as exc:
        folder.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(error, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        raise


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """ServerApp entry point: the run config is a run spec (+ ``deploy.out``); run it into the folder."""
    out = context.run_config.get(f"{DEPLOY}.out")
    try:
        spec, folder = spec_from_run_config(context.run_config)
    except InputError as exc:
        if isinstance(out, str) and out:
            Path(out).mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(out) / ERROR_FILE, f"edgetune: error: {exc}\n")
        raise
    if isinstance(spec.engine, FlowerEngineConfig):
        # a reply is visible before its objects are uploaded: retry after the spec's poll, not Flower's 1 s
        shorten_object_pull_backoff(spec.engine.supernode_poll_s)
    try:
        run_on_grid(grid, spec, folder)
    except RunFailed as exc:  # the record says "failed"; Flower need not see a traceback
        log(ERROR, "run failed: %s (partial record in %s)", exc, folder / "record.json")


# -- launchers ----------------------------------------------------------------------------------------------
def launch(
    dep: Deployment,
    spec: RunSpec,
    out: str | Path,
    fleet: Fleet,
    local_nodes: int,
    base_dir: Path | None = None,
    node_auth: bool = False,
) -> None:
    """Start ``dep``'s SuperLink and the first ``local_nodes`` fleet nodes as SuperNodes; submit ``spec``.

    Node ``k`` of the fleet gets partition ``k``. The record and error file of an earlier run in
    ``out`` are removed first, so :func:`wait_for_run` sees only this run's.
    """
    folder = Path(out)
    for stale in (folder / "record.json", folder / ERROR_FILE):
        stale.unlink(missing_ok=True)
    if isinstance(spec.engine, FlowerEngineConfig):  # the spec's cap on Flower's fixed waits
        dep.supernode_poll_s = spec.engine.supernode_poll_s
    dep.start_superlink(node_auth=node_auth)
    nodes = [
        (f"node{node.id}", {"partition-id": k, "node-id": node.id, "compute": node.compute})
        for k, node in enumerate(fleet.nodes[:local_nodes])
    ]
    dep.start_supernodes(nodes)
    dep.submit(run_config(spec, out, base_dir))


def run_status(out: str | Path) -> str | None:
    """``record.json``'s status, ``"error"`` when the ServerApp left ``error.txt``, ``None`` before either."""
    import json

    folder = Path(out)
    if (folder / ERROR_FILE).exists():
        return "error"
    try:
        status = json.loads((folder / "record.json").read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError):
        return None
    return str(status) if status is not None else None


def wait_for_run(out: str | Path, timeout_s: float, poll_s: float = 0.5) -> str | None:
    """Wait until the run in ``out`` ended (a final status or ``"error"``); ``None`` after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while True:
        status = run_status(out)
        if status in (*FINAL, "error"):
            return status
        if time.monotonic() >= end:
            return None
        time.sleep(poll_s)


def simulate(
    spec: RunSpec,
    out: str | Path,
    num_cpus: int = 2,
    cpus_per_node: float = 1.0,
    verbose: bool = False,
    base_dir: Path | None = None,
) -> RunRecord:
    """Run ``spec`` on Flower's simulation runtime (``flower-sim``): one virtual SuperNode per fleet node.

    Raises ``RunFailed`` / ``KeyboardInterrupt`` as :func:`~edgetune.runs.execute.run` does, and
    ``RuntimeError`` when the simulation ended without a record (the reason is in ``out/error.txt``).
    """
    config = backend_config(num_cpus, cpus_per_node)
    fleet = resolve_fleet(spec, base_dir)
    RunFolder(out).check_writable()
    os.environ.update(SIM_ENV)
    from flwr.simulation import run_simulation as flwr_run_simulation

    from edgetune.flower.clientapp import app as client_app

    info = {
        "flower_sim": {"num_supernodes": len(fleet.nodes), "backend": "ray", "backend_config": config, "env": SIM_ENV}
    }
    result: dict[str, Any] = {}
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Grid, context: Context) -> None:
        try:
            result["record"] = run_on_grid(grid, spec, out, FlowerSimEngine, info, fleet)
        except BaseException as exc:  # the runtime runs this in a thread: hand the outcome back
            result["error"] = exc

    flwr_run_simulation(
        server_app, client_app, len(fleet.nodes), backend_name="ray", backend_config=config, verbose_logging=verbose
    )
    if "error" in result:
        raise result["error"]
    if "record" not in result:
        raise RuntimeError("the simulation ended without a run record")
    record: RunRecord = result["record"]
    return record


__all__ = [
    "DEPLOY",
    "ERROR_FILE",
    "app",
    "launch",
    "run_config",
    "run_on_grid",
    "run_status",
    "simulate",
    "spec_from_run_config",
    "wait_for_run",
]
