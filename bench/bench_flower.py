"""Per-round overhead of the Flower engine against the in-process engine (same job, same fleet).

Runs the same fine-tuning job (All Resources, so every round has every node) twice:

* **in-process**: :func:`edgetune.engines.inprocess.build_inprocess` + the orchestrator loop; a
  round's wall time vs the forward/backward time of its nodes (run one after another on this host);
* **Flower**: a loopback deployment (SuperLink + one SuperNode process per node) running edgetune's
  ServerApp; a round's wall time (push -> last reply) vs the longest local step of its nodes (they
  run in parallel, each in its own ``flwr-clientapp`` process).

Overhead per round = wall time of the round - compute time of the round (sum for in-process, max
for Flower). On a loopback host the Flower overhead is dominated by one Python process per message
(each imports torch + transformers and rebuilds the data split) and the nodes' polling; on real
devices the processes run on the devices, in parallel, and only the polling and transfer remain.

Usage::

    python bench/bench_flower.py [--nodes 4] [--epochs 3] [--train-tokens 2048] [--lora] [--engines inprocess,warm,sim]

Every engine runs the same run spec (``edgetune.runs.spec``; the Flower ones through the runs layer
into a run folder). Per Flower round the record also splits the wall time: ``push_s`` (the ServerApp's
``grid.push_messages``), ``first_reply_s`` / ``last_reply_s`` (after the push: SuperNode pull, ClientApp
start, handler, reply) and ``max_message_s`` (the longest ClientApp handler, trainer round trip included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet, save_fleet
from edgetune.flower.commands import TASK_POLL_S
from edgetune.flower.config import FlowerEngineConfig
from edgetune.flower.polls import DEFAULT_POLL_S
from edgetune.network.monitor import NorthboundAPI, PathMetrics
from edgetune.network.northbound import HttpNorthboundClient, NorthboundServer


class FixedMetrics(NorthboundAPI):
    """Constant metrics for every node (the bench measures engines, not networks)."""

    source = "bench"

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def path_metrics(self, node_ids: Any = None) -> dict[int, PathMetrics]:
        ids = self.ids if node_ids is None else [i for i in node_ids if i in self.ids]
        return {i: PathMetrics(20.0, 30.0, 1.0, 1, 0.0) for i in ids}


def job_spec(fleet_path: Path, args: argparse.Namespace, url: str, engine: str) -> Any:
    """The one run spec every engine of the bench runs (All Resources: every node trains every round)."""
    from edgetune.runs.spec import spec_from_dict

    doc: dict[str, Any] = {
        "run": {"engine": engine, "policy": "ar", "epochs": args.epochs, "seed": args.seed, "learning_rate": 3e-3},
        "fleet": {"file": str(fleet_path)},
        "task": {
            "model": "tiny",
            "pretrain_steps": 300,
            "train_tokens": args.train_tokens,
            "val_tokens": 512,
            "lora": args.lora,
        },
        "northbound": {"url": url},
    }
    if engine == "flower":
        doc["flower"] = {
            "connect_timeout_s": 600,
            "round_timeout_s": 600,
            "sync_timeout_s": 60,
            "backend": "training",
            "supernode_poll_s": args.supernode_poll_s,
            "poll_interval_s": args.poll_interval_s,
        }
    return spec_from_dict(doc)


def run_inprocess(fleet: Fleet, fleet_path: Path, args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Wall and compute seconds per round of the in-process engine (built by the registry from the spec)."""
    import torch

    from edgetune.engines.base import ENGINES
    from edgetune.orchestrator.loop import Orchestrator
    from edgetune.runs.execute import build_context
    from edgetune.selection import make_policy

    spec = job_spec(fleet_path, args, url, "inprocess")
    engine: Any = ENGINES["inprocess"].build(build_context(spec, fleet))
    torch.set_num_threads(1)
    marks: list[float] = []
    computes: list[float] = []

    def progress(_: Any) -> None:
        marks.append(time.perf_counter())
        computes.append(engine.timings["local_compute_wall_s"])

    t0 = time.perf_counter()
    Orchestrator(engine, make_policy("ar"), HttpNorthboundClient(url), fleet, spec.run, progress=progress).run()
    walls = np.diff([t0, *marks]).tolist()
    comp = np.diff([0.0, *computes]).tolist()
    return {"wall_s": walls, "compute_s": comp, "overhead_s": [w - c for w, c in zip(walls, comp, strict=True)]}


def _rounds(doc: dict[str, Any]) -> dict[str, Any]:
    flower = doc["engine"]["flower"]
    rounds = flower["rounds"]
    walls = [r["wall_s"] for r in rounds]
    comp = [r["max_train_s"] for r in rounds]
    return {
        "wall_s": walls,
        "compute_s": comp,
        "overhead_s": [w - c for w, c in zip(walls, comp, strict=True)],
        "push_s": [r["push_s"] for r in rounds],
        "first_reply_s": [r["first_reply_s"] for r in rounds],
        "last_reply_s": [r["last_reply_s"] for r in rounds],
        "message_s": [r["max_message_s"] for r in rounds],
        "down_bytes": [r["down_bytes"] for r in rounds],
        "up_bytes": [r["up_bytes"] for r in rounds],
        "connect_s": flower["connect_s"],
        "backend": doc["engine"]["task_backend"],
    }


#: Process roles of a loopback deployment, by a word of their command line (first match wins).
ROLES = (
    "flower-superlink",
    "supernode_launch",
    "flower-supernode",
    "flower-superexec",
    "flwr-serverapp",
    "edgetune.flower.trainer",
    "edgetune.flower.forkserver",
    "flwr-clientapp",
)


class CpuSampler:
    """CPU seconds (user + system) per process role of this bench's descendants, sampled from ``/proc``.

    A thread reads every descendant's ``utime + stime`` each ``period_s``; a process's last reading
    counts (a forked ClientApp shorter than the period is missed: its fork server's ``cutime`` holds
    it once reaped, but is not read, so the totals are a lower bound by at most those).
    """

    def __init__(self, period_s: float = 0.5) -> None:
        import threading

        self.period_s = period_s
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import os

        tick = os.sysconf("SC_CLK_TCK")
        me = os.getpid()
        while not self._stop.wait(self.period_s):
            parents: dict[int, int] = {}
            stats: dict[int, tuple[str, float]] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rpartition(")")[2].split()
                    cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                pid = int(entry.name)
                parents[pid] = int(fields[1])
                role = next((r for r in ROLES if r in cmd), "other")
                if not cmd.strip() and pid in self.last:  # a zombie has no command line: keep its role
                    role = self.last[pid][0]
                stats[pid] = (role, (int(fields[11]) + int(fields[12])) / tick)
            for pid, value in stats.items():
                p, hops = pid, 0
                while p not in (0, 1, me) and hops < 64:
                    p, hops = parents.get(p, 0), hops + 1
                if p == me and pid != me:
                    self.last[pid] = value

    def by_role(self) -> dict[str, float]:
        """CPU seconds per role (last reading of each process)."""
        out: dict[str, float] = {}
        for role, cpu in self.last.values():
            out[role] = out.get(role, 0.0) + cpu
        return dict(sorted(out.items()))


def run_flower(
    fleet: Fleet, fleet_path: Path, args: argparse.Namespace, url: str, work: Path, name: str
) -> dict[str, Any]:
    """Wall and compute seconds per round of the Flower engine on a loopback deployment.

    ``name``: ``cold`` (Flower's plain per-message ClientApp), ``warm-nofork`` (warm trainers, every
    message pays the full ``flwr-clientapp`` start: the state before the fork server) or ``warm``
    (warm trainers + the ``flwr-clientapp`` fork server: edgetune's default).
    """
    from edgetune.flower.deploy import Deployment
    from edgetune.runs.flower import launch, wait_for_run

    out = work / f"run-{name}"
    spec = job_spec(fleet_path, args, url, "flower")
    t0 = time.perf_counter()
    warm, fork = name != "cold", name == "warm"
    with (
        CpuSampler() as cpu,
        Deployment(work / f"deploy-{name}", warm=warm, task_poll_s=args.task_poll_s, fork_clientapp=fork) as dep,
    ):
        launch(dep, spec, out, fleet, len(fleet.nodes))
        started = time.perf_counter() - t0
        status = wait_for_run(out, 3600)
    total = time.perf_counter() - t0
    if status != "complete":
        err = (out / "error.txt").read_text() if (out / "error.txt").exists() else f"status {status}"
        raise SystemExit(f"Flower run failed: {err}")
    doc = json.loads((out / "record.json").read_text())
    return {**_rounds(doc), "total_s": total, "start_s": started, "cpu_s": cpu.by_role()}


def run_sim(fleet_path: Path, args: argparse.Namespace, url: str, work: Path) -> dict[str, Any]:
    """The same job on Flower's simulation runtime (Ray, ``args.sim_cpus`` actors)."""
    from edgetune.runs.flower import simulate

    t0 = time.perf_counter()
    simulate(job_spec(fleet_path, args, url, "flower"), work / "run-sim", num_cpus=args.sim_cpus)
    doc = json.loads((work / "run-sim" / "record.json").read_text())
    return {**_rounds(doc), "total_s": time.perf_counter() - t0}


def clientapp_start_cpu_s(work: Path, repeats: int) -> dict[str, list[float]]:
    """CPU-seconds (user + sys) of starting one ``flwr-clientapp`` process, Flower's vs the fork server's.

    Each start runs ``flwr-clientapp --help`` (Flower imports its whole client stack before parsing
    arguments), so this is the per-message start cost a SuperNode pays, measured with
    ``RUSAGE_CHILDREN``: independent of how loaded the host is, unlike wall time.
    """
    import os
    import resource
    import subprocess

    from edgetune.flower.forkserver import SHIM, prepare_dir, real_clientapp, server_command, wait_ready

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def one(cmd: list[str]) -> float:
        t0 = cpu()
        subprocess.run([*cmd, "--help"], capture_output=True, check=True, timeout=600)
        return cpu() - t0

    folder = work / "forkserver"
    bindir = prepare_dir(folder)
    server = subprocess.Popen(server_command(folder, os.getpid()))
    try:
        if not wait_ready(folder, 600):
            raise SystemExit("fork server did not start")
        flower = [one([str(real_clientapp())]) for _ in range(repeats)]
        # the forked child's CPU is the server's child's: read it from /proc before and after
        forked = []
        for _ in range(repeats):
            before = _tree_cpu_s(server.pid)
            shim = one([str(bindir / SHIM)])
            forked.append(shim + _tree_cpu_s(server.pid) - before)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"flower": flower, "fork server": forked}


def _tree_cpu_s(pid: int) -> float:
    """utime + stime + reaped children's cutime + cstime of ``pid`` (Linux ``/proc``), seconds."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    """Run both engines and print the per-round comparison."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-tokens", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="")
    ap.add_argument("--workdir", default="", help="keep run folders and Flower logs here (default: a temp dir)")
    ap.add_argument("--task-poll-s", type=float, default=TASK_POLL_S, help="FLWR_SUPEREXEC_TASK_POLL_INTERVAL")
    ap.add_argument(
        "--supernode-poll-s",
        type=float,
        default=DEFAULT_POLL_S,
        help="[flower] supernode_poll_s: cap on Flower's fixed waits (3 = Flower's own idle pull)",
    )
    ap.add_argument(
        "--poll-interval-s",
        type=float,
        default=FlowerEngineConfig.poll_interval_s,
        help="[flower] poll_interval_s: how often the ServerApp asks the SuperLink for replies",
    )
    ap.add_argument("--sim-cpus", type=int, default=2, help="CPUs the simulation runtime's Ray may use")
    ap.add_argument(
        "--start-repeats", type=int, default=5, help="flwr-clientapp starts to time, Flower's and forked (0: skip)"
    )
    ap.add_argument("--engines", default="inprocess,warm,sim", help="any of inprocess,warm,warm-nofork,cold,sim")
    ap.add_argument(
        "--lora", action="store_true", help="LoRA: only adapters travel (separates transport from the rest)"
    )
    args = ap.parse_args(argv)
    import signal

    # SIGTERM (e.g. `timeout`) unwinds through the Deployment context managers: nothing is left running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    engines = args.engines.split(",")
    fleet = generate_fleet(args.nodes, "normal", np.random.default_rng(args.seed).spawn(3)[0], seed=args.seed)
    with (
        tempfile.TemporaryDirectory(prefix="bench-flower-") as tmp_dir,
        NorthboundServer(FixedMetrics(fleet.node_ids)) as nb,
    ):
        work = Path(args.workdir or tmp_dir)
        work.mkdir(parents=True, exist_ok=True)
        fleet_path = save_fleet(fleet, work / "fleet.yaml")
        results: dict[str, dict[str, Any]] = {}
        starts = clientapp_start_cpu_s(work, args.start_repeats) if args.start_repeats else {}
        for name in engines:
            if name == "inprocess":
                results["in-process"] = run_inprocess(fleet, fleet_path, args, nb.url)
            elif name in ("warm", "warm-nofork", "cold"):
                results[f"flower-{name}"] = run_flower(fleet, fleet_path, args, nb.url, work, name)
            elif name == "sim":
                results["flower-sim"] = run_sim(fleet_path, args, nb.url, work)
            else:
                raise SystemExit(f"unknown engine {name!r}")
    from edgetune.flower.commands import FLOWER_FIXED_POLLS_S

    print(
        f"{args.nodes} nodes, {args.epochs} rounds, {args.train_tokens} fine-tuning tokens, AR, tiny model"
        f"{' with LoRA' if args.lora else ', full fine-tuning'}; "
        f"task poll {args.task_poll_s} s; Flower's fixed polls {FLOWER_FIXED_POLLS_S} capped at "
        f"{args.supernode_poll_s} s"
    )
    print(
        f"{'engine':<18} {'round wall s':>13} {'compute s':>10} {'overhead s':>11} {'min overhead':>13}"
        "   (median over rounds; compute: sum of nodes in-process, slowest node otherwise)"
    )
    for name, r in results.items():
        print(
            f"{name:<18} {statistics.median(r['wall_s']):>13.2f} {statistics.median(r['compute_s']):>10.2f} "
            f"{statistics.median(r['overhead_s']):>11.2f} {min(r['overhead_s']):>13.2f}"
        )
    aims = {4: 5.0, 24: 8.0}
    if "flower-warm" in results and args.nodes in aims:
        got = statistics.median(results["flower-warm"]["overhead_s"])
        print(
            f"aim for deployment at {args.nodes} nodes: overhead <= {aims[args.nodes]:.0f} s: "
            f"{'met' if got <= aims[args.nodes] else 'NOT met'} ({got:.2f} s); floor from Flower's fixed polls: "
            f"up to {sum(min(v, args.supernode_poll_s) for v in FLOWER_FIXED_POLLS_S.values()):.1f} s"
        )
    if "flower-sim" in results and args.nodes == 4:
        got = statistics.median(results["flower-sim"]["wall_s"])
        print(f"aim for flower-sim at 4 nodes: round <= 1 s: {'met' if got <= 1 else 'NOT met'} ({got:.2f} s)")
    for name, r in results.items():
        if "connect_s" in r:
            down, up = statistics.median(r["down_bytes"]), statistics.median(r["up_bytes"])
            med = {k: statistics.median(r[k]) for k in ("push_s", "first_reply_s", "last_reply_s", "message_s")}
            print(
                f"{name}: connecting {r['connect_s']:.1f} s, whole run {r['total_s']:.0f} s, "
                f"array bytes down/up per round {down:.0f}/{up:.0f}; per round (median): push {med['push_s']:.2f} s, "
                f"first/last reply {med['first_reply_s']:.2f}/{med['last_reply_s']:.2f} s after the push, "
                f"longest ClientApp handler {med['message_s']:.2f} s"
            )
        if "cpu_s" in r:
            cpu = r["cpu_s"]
            print(
                f"{name}: starting the processes {r['start_s']:.1f} s; CPU seconds of the whole run by process "
                f"(all nodes together): {', '.join(f'{k} {v:.1f}' for k, v in cpu.items())}; "
                f"total {sum(cpu.values()):.1f}"
            )
    for name, cpus in starts.items():
        print(
            f"flwr-clientapp start, {name}: {statistics.median(cpus):.3f} CPU-s median, {min(cpus):.3f} min "
            f"({len(cpus)} starts; per message a SuperNode receives)"
        )
    if args.out:
        Path(args.out).write_text(json.dumps({**results, "clientapp_start_cpu_s": starts}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
