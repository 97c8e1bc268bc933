"""Scaling bench of the simulator (issue 17): 10k, 100k and 1M nodes x 10 epochs, NE and AR.

For each size it writes a fleet with ``edgetune fleet generate`` (timed), then for each policy:

* **CLI**: ``edgetune simulate --fleet F --policy P --quiet`` in a child process: wall seconds end to
  end (interpreter start, fleet load, run, record write) and the child's peak RSS (``wait4`` rusage);
* **API**: in a fresh child, load the fleet, then time :func:`edgetune.runs.sweep.simulate` alone;
* **floor**: in the same child, :mod:`floor_simulate` on the same fleet's arrays; the ratio of CPU
  seconds ``API / floor`` is how far the simulation is from the numpy cost of its own arithmetic.

Wall and CPU seconds are both printed: on a shared machine CPU seconds are the steadier measure.

Aims (issue 17, idle 2-core machine): CLI at 10k < 3 s, 100k < 20 s, 1M < 120 s with peak < 6 GB;
API within 3x the floor at 100k. Times are the minimum over ``--repeat`` runs (the machine is shared).

Run: ``python bench/bench_simulate.py`` (all sizes), ``--sizes 10000,100000``, ``--quick`` (1,000
nodes, 3 epochs, one repeat: a smoke test), ``--fleet-format yaml|json|npz`` (default npz, the columnar
form meant for large fleets), ``--skip-cli`` / ``--skip-api``, ``--load-formats``: also time loading
the same fleet from YAML (libyaml), JSON and npz (YAML only up to 100k nodes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

AIMS_S = {10_000: 3.0, 100_000: 20.0, 1_000_000: 120.0}
PEAK_AIM_GB = 6.0
FLOOR_AIM = 3.0

_CHILD_API = r"""
import json, sys, time
sys.path.insert(0, sys.argv[5])
import numpy as np
from edgetune.fleet.schema import load_fleet
from edgetune.network.model import Topology
from edgetune.orchestrator.loop import OrchestratorConfig
from edgetune.runs.sweep import simulate
import floor_simulate as fl
path, policy, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter(); fleet = load_fleet(path); t1 = time.perf_counter()
c1 = time.process_time()
rec = simulate(fleet, policy, 1, OrchestratorConfig(epochs=epochs)); t2 = time.perf_counter()
c2 = time.process_time()
top = Topology.from_fleet(fleet)
ff = fl.FloorFleet(compute=np.asarray([n.compute for n in fleet.nodes], dtype=np.float64), bw_mbps=top.access_bw_mbps,
    delay_ms=top.path_delay_ms(), loss_pct=top.path_loss_pct(), gateway=top.gateway, gw_bw_mbps=top.gateway_bw_mbps,
    core_bw_mbps=float(top.core_bw_mbps))
floor, floor_cpu = fl.time_floor(ff, policy, epochs, 0, int(sys.argv[4]))
print(json.dumps({"load_s": t1 - t0, "run_s": t2 - t1, "run_cpu_s": c2 - c1, "floor_s": floor, "floor_cpu_s": floor_cpu,
                  "completion": rec.completion_time_s}))
"""


def _run_peak(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, float]:
    """Run ``cmd`` with its own rusage (``os.wait4``): (wall s, peak RSS GB, stdout, CPU s)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:6])}... failed ({proc.returncode}): {err.read().strip()[-2000:]}")
        return wall, usage.ru_maxrss / 1e6, out.read(), usage.ru_utime + usage.ru_stime


_CHILD_LOAD = r"""
import sys, time
from edgetune.fleet.schema import load_fleet, save_fleet
src, dst = sys.argv[1], sys.argv[2]
save_fleet(load_fleet(src), dst)
c0, t0 = time.process_time(), time.perf_counter()
load_fleet(dst)
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def _time_loads(fleet: Path, n: int, work: Path, env: dict[str, str], py: str) -> None:
    """``load_fleet`` of the same fleet written as YAML, JSON and npz (wall and CPU seconds)."""
    for suffix in ("yaml", "json", "npz"):
        if suffix == "yaml" and n > 100_000:
            continue
        _, _, text, _ = _run_peak([py, "-c", _CHILD_LOAD, str(fleet), str(work / f"load{n}.{suffix}")], env)
        wall, cpu = (float(x) for x in text.split())
        print(f"load_fleet {n} nodes from .{suffix}: {wall:.2f} s wall, {cpu:.2f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--policies", default="ne,ar")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="smoke test: 1,000 nodes, 3 epochs, one repeat")
    ap.add_argument("--fleet-format", choices=("yaml", "json", "npz"), default="npz")
    ap.add_argument("--load-formats", action="store_true", help="time load_fleet for each format")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-api", action="store_true")
    ap.add_argument("--workdir", default="", help="where fleets and records go (default: a temporary folder)")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.epochs, args.repeat = "1000", 3, 1
    sizes = [int(s) for s in args.sizes.split(",")]
    policies = args.policies.split(",")
    env = dict(os.environ)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    py = sys.executable
    cli = [py, "-m", "edgetune.cli.main"]
    tmp = tempfile.TemporaryDirectory(prefix="bench_simulate.")
    work = Path(args.workdir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"bench_simulate: sizes {sizes}, {args.epochs} epochs, min of {args.repeat}, cpus {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    head = (
        f"{'nodes':>8} {'pol':>3} {'cli s':>8} {'cli cpu':>8} {'cli GB':>7} {'api s':>8} {'api cpu':>8} {'load s':>7} "
        f"{'floor s':>8} {'flr cpu':>8} {'cpu ratio':>9}"
    )
    rows: list[str] = []
    verdicts: list[str] = []
    for n in sizes:
        fmt = args.fleet_format
        fleet = work / f"fleet{n}.{fmt}"
        if not fleet.exists():
            gen_s, gen_gb, _, gen_cpu = _run_peak(
                [*cli, "fleet", "generate", "--nodes", str(n), "--out", str(fleet)], env
            )
            print(
                f"fleet generate {n} -> {fleet.name}: {gen_s:.2f} s wall, {gen_cpu:.2f} s CPU, peak {gen_gb:.2f} GB, "
                f"{fleet.stat().st_size / 1e6:.1f} MB"
            )
        if args.load_formats:
            _time_loads(fleet, n, work, env, py)
        for pol in policies:
            cli_s = cli_cpu = cli_gb = api_s = api_cpu = load_s = floor_s = floor_cpu = math.inf
            for _ in range(args.repeat):
                if not args.skip_cli:
                    out = work / f"rec{n}{pol}.json"
                    cmd = [
                        *cli,
                        "simulate",
                        "--fleet",
                        str(fleet),
                        "--policy",
                        pol,
                        "--epochs",
                        str(args.epochs),
                        "--seed",
                        "1",
                        "--quiet",
                        "--out",
                        str(out),
                    ]
                    w, gb, _, cpu = _run_peak(cmd, env)
                    cli_s, cli_gb, cli_cpu = min(cli_s, w), min(cli_gb, gb), min(cli_cpu, cpu)
                if not args.skip_api:
                    cmd = [py, "-c", _CHILD_API, str(fleet), pol, str(args.epochs), "1", str(HERE)]
                    _, _, text, _ = _run_peak(cmd, env)
                    got = json.loads(text.strip().splitlines()[-1])
                    api_s, load_s = min(api_s, got["run_s"]), min(load_s, got["load_s"])
                    floor_s, api_cpu = min(floor_s, got["floor_s"]), min(api_cpu, got["run_cpu_s"])
                    floor_cpu = min(floor_cpu, got["floor_cpu_s"])
            ratio = api_cpu / floor_cpu if math.isfinite(api_cpu) else math.inf
            row = (
                f"{n:>8} {pol:>3} {cli_s:8.2f} {cli_cpu:8.2f} {cli_gb:7.2f} {api_s:8.2f} {api_cpu:8.2f} {load_s:7.2f} "
                f"{floor_s:8.3f} {floor_cpu:8.3f} {ratio:9.1f}"
            )
            rows.append(row)
            print(head if len(rows) == 1 else "", row, sep="\n" if len(rows) == 1 else "", flush=True)
            if n in AIMS_S and math.isfinite(cli_s):
                ok = cli_s < AIMS_S[n] and (n < 1_000_000 or cli_gb < PEAK_AIM_GB)
                verdicts.append(
                    f"aim {n} {pol}: CLI < {AIMS_S[n]:g} s"
                    + (f", peak < {PEAK_AIM_GB:g} GB" if n >= 1_000_000 else "")
                    + f": {cli_s:.2f} s, {cli_gb:.2f} GB -> {'meets' if ok else 'misses'}"
                )
            if n == 100_000 and math.isfinite(ratio):
                verdicts.append(
                    f"aim {n} {pol}: API within {FLOOR_AIM:g}x floor: {ratio:.1f}x -> "
                    f"{'meets' if ratio <= FLOOR_AIM else 'misses'}"
                )
    print()
    print(head)
    print("\n".join(rows))
    print("\n".join(verdicts))
    tmp.cleanup()


if __name__ == "__main__":
    main()
