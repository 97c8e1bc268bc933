"""Runs on a running SDN testbed (docs/testbed.md), wired like every other run.

* :func:`run_on_testbed` (``testbed.compute = "modelled"``): Algorithm 1 with a
  :class:`~edgetune.testbed.engine.TestbedEngine`, reading network metrics only through the OpenFlow
  controller's northbound API, driven by :func:`~edgetune.runs.execute.drive` (the run folder,
  statuses and failure handling of every run).
* :func:`run_flower_on_testbed` (``testbed.compute = "real"``, the default): the paper's system whole.
  A Flower SuperLink in the orchestrator's namespace, a SuperNode and a warm trainer in every node's
  namespace (so Flower's traffic crosses the OVS bridges, relay and shapers), each node's local step
  paced to its compute power (:func:`~edgetune.testbed.engine.compute_slowdowns`), the orchestrator
  loop inside the ServerApp (the same :func:`~edgetune.runs.execute.drive`) reading the os-ken
  controller's northbound API through :class:`~edgetune.testbed.forward.Forwarder`.
* :func:`simulate_prediction`: the same spec on the simulated engine with the testbed's fleet (as
  built: capped) and the background variation off (the testbed has none);
  :func:`real_compute_workload` sizes its workload from a real-compute record.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from edgetune.engines.simulated import MB, SimWorkload
from edgetune.fleet.schema import Fleet, save_fleet
from edgetune.network.dynamics import VariationConfig
from edgetune.network.northbound import NorthboundConfig
from edgetune.orchestrator.loop import ProgressFn
from edgetune.orchestrator.record import RunRecord
from edgetune.runs.execute import Wiring, drive, run
from edgetune.runs.folder import RunFolder
from edgetune.runs.spec import RunSpec
from edgetune.selection.base import make_policy
from edgetune.testbed.build import STATE_ENV
from edgetune.testbed.engine import TestbedEngine, TestbedEngineConfig, compute_slowdowns
from edgetune.testbed.forward import Forwarder
from edgetune.testbed.runs import state_fleet
from edgetune.testbed.state import Resource, TestbedState, process_start_ticks
from edgetune.testbed.topology import TestbedPlan

#: The SuperLink's port on the orchestrator namespace's testbed address.
SUPERLINK_PORT = 9093
#: Start-up allowance on top of the spec's waits (SuperLink, SuperNodes, the ServerApp's task build).
START_S = 300.0


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
    if engine_config is None and isinstance(spec.engine, TestbedEngineConfig):
        engine_config = spec.engine
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


# -- real compute: Flower on the testbed -------------------------------------------------------------------
def prediction_doc(completion_time_s: float, sim: RunRecord, workload: SimWorkload) -> dict[str, Any]:
    """The record's ``prediction``: the simulation of the same fleet and spec, in JSON types.

    ``completion_time_s`` is the testbed run's; ``error_s`` / ``error_pct`` compare it with the
    simulation's. The energy section is the simulated record's own JSON form (its per-node column
    becomes a plain ``{id: joules}``).
    """
    err = completion_time_s - sim.completion_time_s
    return {
        "engine": "simulated",
        "workload": dataclasses.asdict(workload),
        "completion_time_s": sim.completion_time_s,
        "final_loss": sim.final_loss,
        "energy": sim.to_json()["energy"],
        "epochs": [
            {"epoch": e.epoch, "end_s": e.end_s, "active": list(e.active), "eliminated": list(e.eliminated)}
            for e in sim.epochs
        ],
        "error_s": err,
        "error_pct": 100.0 * err / sim.completion_time_s if sim.completion_time_s else None,
    }


def flower_spec(spec: RunSpec, fleet_file: Path, northbound_url: str) -> RunSpec:
    """The Flower run spec of a testbed spec: the same run, fleet = the testbed's (capped), waits from ``[testbed]``."""
    from edgetune.flower.config import FlowerEngineConfig

    tb = spec.engine if isinstance(spec.engine, TestbedEngineConfig) else TestbedEngineConfig()
    flower = FlowerEngineConfig(connect_timeout_s=tb.connect_timeout_s, round_timeout_s=tb.round_timeout_s)
    return spec.replace(
        run=dataclasses.replace(spec.run, engine="flower"),
        engine=flower,
        fleet=dataclasses.replace(spec.fleet, file=str(fleet_file)),
        northbound=dataclasses.replace(spec.northbound, url=northbound_url),
    )


def _recorded(state: TestbedState, name: str, pid: int) -> Resource:
    res = Resource(kind="process", name=f"flower-{name}", pid=pid, start_ticks=process_start_ticks(pid))
    state.add(res)
    return res


def run_flower_on_testbed(
    state_path: Path,
    spec: RunSpec,
    out: str | Path,
    on_epochs: Callable[[int], None] | None = None,
    poll_s: float = 1.0,
) -> dict[str, Any]:
    """Algorithm 1 over Flower on the running testbed, real training; returns the run record's document.

    ``out`` is the run folder the ServerApp writes (``record.json``, ``epochs.jsonl``, ...);
    ``out/deploy`` holds the Flower processes' logs. Every process started here is recorded in the
    testbed's state file while it runs (so ``testbed down`` stops leftovers) and stopped by PID,
    with its descendants, before returning -- also on failure. The document gets a ``testbed``
    section: compute mode, each node's pacing, where the SuperLink ran and what the northbound
    forwarder carried. Raises ``RuntimeError`` when the run ended without a final record.
    """
    from edgetune.flower.deploy import Deployment
    from edgetune.runs.flower import ERROR_FILE, FINAL, run_config, run_status

    state = TestbedState.load(state_path)
    plan = TestbedPlan.from_json(state.data["plan"])
    fleet = state_fleet(state)
    folder = Path(out).resolve()
    work = folder / "deploy"
    work.mkdir(parents=True, exist_ok=True)
    fleet_file = save_fleet(fleet, work / "testbed-fleet.yaml")
    controller_url = state.data["services"]["northbound_url"]
    port = urlparse(controller_url).port
    if port is None:
        raise RuntimeError(f"controller URL without a port in the state file: {controller_url}")
    tb = spec.engine if isinstance(spec.engine, TestbedEngineConfig) else TestbedEngineConfig()
    slowdowns = compute_slowdowns(fleet)
    hosts = {h.node_id: h for h in plan.nodes}
    orch = plan.orchestrator
    names = {n.id: f"node{n.id}" for n in fleet.nodes}
    dep = Deployment(
        work,
        host=orch.ip,
        port=SUPERLINK_PORT,
        netns={"superlink": orch.netns, "cli": orch.netns, **{names[i]: hosts[i].netns for i in names}},
        # marks every Flower process as this testbed's: `testbed down` signals only processes carrying it
        env={STATE_ENV: str(state.path)},
        # the Fleet API is exposed on the orchestrator's testbed address, inside namespaces this testbed
        # created and nothing else can reach; the SuperLink itself stays on that namespace's loopback
        insecure_exposure=True,
    )
    forwarder = Forwarder(orch.netns, port)
    recorded: list[Resource] = []
    for stale in (folder / "record.json", folder / ERROR_FILE):
        stale.unlink(missing_ok=True)
    bound_s = START_S + tb.connect_timeout_s + spec.run.epochs * tb.round_timeout_s
    status: str | None = None
    t0 = time.monotonic()
    try:
        forwarder.start()
        fspec = flower_spec(spec, fleet_file, forwarder.url)
        dep.start_superlink()
        for k, node in enumerate(fleet.nodes):
            cfg = {"partition-id": k, "node-id": node.id, "compute": node.compute, "slowdown": slowdowns[node.id]}
            dep.start_supernode(names[node.id], cfg)
        # every process the deployment started (SuperLink, Fleet API gateway, trainers, fork servers,
        # SuperNodes) goes into the state file, so that `testbed down` can stop it by PID
        for proc_name, proc in dep.procs.items():
            recorded.append(_recorded(state, proc_name, proc.popen.pid))
        dep.submit(run_config(fspec, folder))
        seen = 0
        while time.monotonic() - t0 < bound_s:
            status = run_status(folder)
            if status in (*FINAL, "error"):
                break
            if not dep.alive("superlink"):
                status = "superlink exited"
                break
            if on_epochs is not None:
                n = _count_lines(folder / "epochs.jsonl")
                if n > seen:
                    on_epochs(n - seen)
                    seen = n
            time.sleep(poll_s)
    finally:
        dep.stop()
        for res in recorded:
            state.remove(res)
        forwarder.stop()
    if status == "error":
        raise RuntimeError(f"the ServerApp failed: {(folder / ERROR_FILE).read_text(errors='replace')[:2000]}")
    if status not in FINAL:
        why = status or f"no final record within {bound_s:.0f} s"
        raise RuntimeError(f"Flower run on the testbed did not finish ({why}); logs in {work}")
    doc: dict[str, Any] = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    doc["testbed"] = {
        "compute": "real",
        "prefix": plan.prefix,
        "slowdown": {str(k): v for k, v in slowdowns.items()},
        "superlink": f"{orch.ip}:{SUPERLINK_PORT} in {orch.netns}",
        "supernodes": {str(i): hosts[i].netns for i in names},
        "controller_url": controller_url,
        "northbound_forwarder": forwarder.stats.to_json(),
        "run_folder": str(folder),
    }
    return doc


def _count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def real_compute_workload(doc: dict[str, Any], fleet: Fleet) -> SimWorkload:
    """The simulated engine's workload for a real-compute record (its sizes, its measured compute).

    * round traffic: the bytes one ``train`` message carried (``engine.flower.travelling_bytes``: the
      model, or with LoRA the adapters) down and the same up;
    * distribution: the whole model per node (``engine.flower.model_bytes``; the simulation sends
      model + partition, so the partition is sized to the difference; devices hold their own data);
    * compute: ``compute_s_per_mb`` such that ``partition_mb * compute_s_per_mb / C`` equals the
      median over every node and epoch of the measured ``train_time_s`` (paced by compute power).
    Flower's own per-message costs (the SuperNode's 3 s idle pull, one ``flwr-clientapp`` start per
    message) are not in the simulation's model; they show up as the prediction's error.
    """
    info = doc["engine"]["flower"]
    full = float(info["model_bytes"])
    moving = float(info["travelling_bytes"])
    n = len(fleet.nodes)
    partition_bytes = max(full - moving, 1.0)
    compute = {nd.id: nd.compute for nd in fleet.nodes}
    per_mb = [
        float(m["train_time_s"]) * compute[int(nid)] / (partition_bytes / MB)
        for ep in doc["epochs"]
        for nid, m in ep["metrics"].items()
        if m.get("train_time_s") is not None
    ]
    return SimWorkload(
        model_bytes=moving,
        dataset_bytes=partition_bytes * n,
        gradient_bytes=moving,
        compute_s_per_mb=statistics.median(per_mb) if per_mb else 0.0,
    )
