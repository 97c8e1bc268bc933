"""``edgetune testbed up|down|status|run|measure``: the real SDN testbed (docs/testbed.md; needs root).

* ``up --fleet F [--name T]`` builds the fleet's namespaces, OVS bridges and links under the prefix
  ``et<T>`` and starts the OpenFlow controller; the state file lists everything it created.
* ``down [--name T]`` removes exactly that, newest first, and nothing else.
* ``status [--name T]`` shows the inventory, what of it still exists and the controller's metrics.
* ``run --fleet F --policy ne|ar --out run.json`` brings a testbed up (unless ``--keep`` finds one),
  runs Algorithm 1 on it, writes the run record with the simulation engine's prediction of the same
  run next to it (``prediction``) and tears the testbed down. ``--compute real`` (the default): Flower
  SuperNodes train for real in the node namespaces (run folder ``run.run/``); ``--compute modelled``:
  the testbed engine's agents sleep the simulation's compute formula (network-only studies).
* ``measure [--fleet F] --out acc.json`` checks the controller against the configured links.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edgetune.cli.common import positive
from edgetune.cli.flags import POLICY, RUN, SELECT, TASK, Flag, add_flags, build_spec
from edgetune.errors import InputError

#: The ``[testbed]`` keys ``testbed run`` spells as flags.
TESTBED = (
    Flag("--compute", "testbed.compute", "real (Flower nodes train, paced by compute power) | modelled (sleep)"),
    Flag("--tcp-cc", "testbed.tcp_cc", "TCP congestion control of the modelled runs' transfers"),
    Flag("--round-timeout-s", "testbed.round_timeout_s", "hard cap on one round, s"),
)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default="0", help="testbed tag: names start with et<tag> (1-4 of a-z0-9; default 0)")
    p.add_argument("--state", default=None, help="state file (default /run/edgetune-testbed/et<tag>.json)")


def _add_up_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cap-mbps", type=float, default=50.0, help="cap on every link's bandwidth (default 50)")
    p.add_argument("--poll-interval-s", type=float, default=0.5, help="controller port-counter poll (default 0.5)")
    p.add_argument("--probe-interval-s", type=float, default=0.1, help="probe period per path (default 0.1)")
    p.add_argument("--ewma-alpha", type=float, default=0.3, help="smoothing weight of a new sample (default 0.3)")


def register(sub: Any) -> None:
    """Add ``testbed`` and its subcommands."""
    p = sub.add_parser(
        "testbed",
        help="real SDN testbed: namespaces + Open vSwitch + OpenFlow controller (root)",
        description="Emulated edge network on Open vSwitch with an os-ken OpenFlow controller "
        "that measures bandwidth, delay and loss (docs/testbed.md). Needs root.",
    )
    tsub = p.add_subparsers(dest="testbed_command", metavar="SUBCOMMAND")
    tsub.required = True

    up = tsub.add_parser("up", help="build a fleet's testbed and start its controller")
    up.add_argument("--fleet", required=True, help="fleet YAML")
    _add_common(up)
    _add_up_args(up)
    up.set_defaults(func=_up)

    down = tsub.add_parser("down", help="remove exactly what `up` created")
    _add_common(down)
    down.set_defaults(func=_down)

    st = tsub.add_parser("status", help="inventory, leftovers and the controller's current metrics")
    _add_common(st)
    st.set_defaults(func=_status)

    run = tsub.add_parser("run", help="Algorithm 1 on the testbed, with the simulation's prediction")
    run.add_argument("--fleet", required=True, help="fleet YAML")
    run.add_argument("--out", required=True, help="output file: the run record JSON")
    run.add_argument(
        "--payload-scale",
        type=float,
        default=1e-3,
        help="scale of the paper's 500 MB model / 1000 MB data set (default 1e-3)",
    )
    run.add_argument("--compute-s-per-mb", type=float, default=1.0, help="as in `simulate` (default 1.0)")
    run.add_argument("--keep", action="store_true", help="use the testbed already up under --name and keep it")
    run.add_argument("--quiet", action="store_true")
    _add_common(run)
    _add_up_args(run)
    add_flags(run, (*SELECT, *RUN), "run (Algorithm 1)")
    add_flags(run, POLICY, "node scoring (Eq. 2-3)")
    add_flags(run, TESTBED, "testbed (--payload-scale and --compute-s-per-mb: --compute modelled only)")
    add_flags(run, TASK, "training task (--compute real)")
    run.set_defaults(func=_run)

    me = tsub.add_parser("measure", help="controller accuracy: served vs configured bandwidth, delay, loss")
    me.add_argument("--fleet", default=None, help="fleet YAML (default: the built-in 4-node check fleet)")
    me.add_argument("--out", default=None, help="write the report as JSON")
    me.add_argument("--idle-s", type=float, default=30.0, help="idle sampling time (delay, loss)")
    me.add_argument("--load-s", type=float, default=35.0, help="saturated sampling time (bandwidth)")
    me.add_argument("--keep", action="store_true", help="use the testbed already up under --name and keep it")
    _add_common(me)
    _add_up_args(me)
    me.set_defaults(func=_measure)


# ---- helpers --------------------------------------------------------------------------------------------
def _state_path(args: argparse.Namespace) -> Path:
    from edgetune.testbed.state import default_state_path
    from edgetune.testbed.topology import _TAG_RE

    if not _TAG_RE.match(args.name):
        raise InputError("--name", args.name, "must be 1-4 lowercase letters or digits")
    return Path(args.state) if args.state else default_state_path(args.name)


def _require_testbed() -> None:
    from edgetune.testbed.system import requirements_missing

    why = requirements_missing()
    if why is not None:
        raise InputError("testbed", "unavailable", why)


def _up_options(args: argparse.Namespace) -> Any:
    from edgetune.testbed.build import UpOptions
    from edgetune.testbed.estimator import EstimatorConfig

    positive("--cap-mbps", args.cap_mbps)
    positive("--poll-interval-s", args.poll_interval_s)
    positive("--probe-interval-s", args.probe_interval_s)
    if not 0 < args.ewma_alpha <= 1:
        raise InputError("--ewma-alpha", args.ewma_alpha, "must be in (0, 1]")
    est = EstimatorConfig(
        poll_interval_s=args.poll_interval_s, probe_interval_s=args.probe_interval_s, ewma_alpha=args.ewma_alpha
    )
    return UpOptions(cap_mbps=args.cap_mbps, estimator=est)


def _bring_up(args: argparse.Namespace, fleet: Any, path: Path) -> None:
    from edgetune.testbed.build import up
    from edgetune.testbed.topology import plan_testbed

    if path.exists():
        raise InputError("--name", args.name, f"a testbed is already up ({path}); `edgetune testbed down` first")
    plan_testbed(fleet, args.name, args.cap_mbps)  # validates the tag and size before touching anything
    up(fleet, args.name, path, _up_options(args))


# ---- handlers -------------------------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    from edgetune.fleet.schema import load_fleet
    from edgetune.testbed.state import TestbedState

    path = _state_path(args)
    fleet = load_fleet(args.fleet)
    _up_options(args)
    _require_testbed()
    _bring_up(args, fleet, path)
    st = TestbedState.load(path)
    print(
        f"testbed et{args.name} up: {len(fleet.nodes)} nodes, {len(st.created)} resources; "
        f"northbound API {st.data['services']['northbound_url']}; state {path}"
    )
    return 0


def _down(args: argparse.Namespace) -> int:
    from edgetune.testbed.build import down

    path = _state_path(args)
    if not path.exists():
        if args.state:
            raise InputError("--state", args.state, "no such state file")
        raise InputError("--name", args.name, f"no testbed state file at {path}")
    done = down(path)
    print(f"testbed et{args.name} down: removed {len(done)} resources")
    return 0


def _status(args: argparse.Namespace) -> int:
    from edgetune.network.northbound import HttpNorthboundClient
    from edgetune.testbed.build import leftovers
    from edgetune.testbed.state import TestbedState

    path = _state_path(args)
    if not path.exists():
        print(f"testbed et{args.name}: not up (no {path})")
        return 0
    st = TestbedState.load(path)
    kinds: dict[str, int] = {}
    for r in st.created:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    print(f"testbed et{args.name} ({st.data.get('phase')}): " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    alive = leftovers(st.data)
    print(f"  {len(alive)} of {len(st.created)} recorded resources exist")
    url = st.data.get("services", {}).get("northbound_url")
    if url:
        try:
            metrics = HttpNorthboundClient(url, timeout_s=2).path_metrics()
        except ConnectionError as exc:
            print(f"  controller: {exc}")
            return 1
        print(f"  controller {url}:")
        for nid, m in sorted(metrics.items()):
            print(
                f"    node {nid}: {m.bandwidth_mbps:7.2f} Mbps {m.delay_ms:7.2f} ms {m.loss_pct:5.2f} % loss "
                f"({m.samples} rounds)"
            )
    return 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from edgetune.fleet.schema import load_fleet
    from edgetune.io import atomic_write_json
    from edgetune.runs.testbed import (
        prediction_doc,
        real_compute_workload,
        run_flower_on_testbed,
        run_on_testbed,
        simulate_prediction,
    )
    from edgetune.testbed.build import down
    from edgetune.testbed.engine import scaled_workload
    from edgetune.testbed.runs import state_fleet
    from edgetune.testbed.state import TestbedState

    flags = (*SELECT, *RUN, *POLICY, *TESTBED, *TASK)
    spec = build_spec(args, flags, {"run": {"engine": "testbed"}, "fleet": {"file": args.fleet}})
    if not 0 < args.payload_scale <= 1:
        raise InputError("--payload-scale", args.payload_scale, "must be in (0, 1]")
    positive("--compute-s-per-mb", args.compute_s_per_mb, allow_zero=True)
    from edgetune.io import check_output

    out = check_output(args.out, "--out")  # before any work: a regular file's place, never a folder or device
    path = _state_path(args)
    fleet = load_fleet(args.fleet)
    _up_options(args)
    _require_testbed()
    if args.keep and not path.exists():
        raise InputError("--keep", args.name, f"no testbed is up under this name ({path})")
    workload = scaled_workload(args.payload_scale, args.compute_s_per_mb)
    config = spec.run
    real = spec.engine.compute == "real"
    if not args.keep:
        _bring_up(args, fleet, path)
    try:
        built = state_fleet(TestbedState.load(path))
        bar = tqdm(total=config.epochs, desc=f"testbed {config.policy}", unit="epoch", disable=args.quiet, leave=False)
        if real:

            def advance(n: int) -> None:
                bar.update(n)

            try:
                doc = run_flower_on_testbed(path, spec, out.with_suffix(".run"), on_epochs=advance)
            except RuntimeError as exc:
                bar.close()
                print(f"edgetune: testbed run failed: {exc}", file=sys.stderr)
                return 1
        else:

            def tick(_ep: object) -> None:
                bar.update(1)

            doc = run_on_testbed(path, spec, workload, spec.engine, progress=tick).to_json()
        bar.close()
    finally:
        if not args.keep:
            down(path)
    if real:
        workload = real_compute_workload(doc, built)
    sim = simulate_prediction(built, spec, workload)
    doc["prediction"] = prediction_doc(doc["completion_time_s"], sim, workload)
    err = doc["prediction"]["error_s"]
    atomic_write_json(out, doc)
    if not args.quiet:
        print(
            f"{config.policy} ({spec.engine.compute} compute): testbed {doc['completion_time_s']:.1f} s (wall), "
            f"simulation {sim.completion_time_s:.1f} s, error {err:+.1f} s ({doc['prediction']['error_pct']:+.1f} %); "
            f"active per epoch {[len(e['active']) for e in doc['epochs']]}; final loss {doc.get('final_loss')}"
        )
        print(f"wrote {out}")
    return 0 if doc.get("status") == "complete" else 1


def _measure(args: argparse.Namespace) -> int:
    from edgetune.fleet.schema import load_fleet
    from edgetune.io import atomic_write_json, check_output
    from edgetune.testbed.build import down
    from edgetune.testbed.runs import accuracy_fleet, measure_accuracy

    if args.out:
        check_output(args.out, "--out")  # before the testbed comes up
    path = _state_path(args)
    fleet = load_fleet(args.fleet) if args.fleet else accuracy_fleet()
    positive("--idle-s", args.idle_s)
    positive("--load-s", args.load_s)
    _up_options(args)
    _require_testbed()
    if args.keep and not path.exists():
        raise InputError("--keep", args.name, f"no testbed is up under this name ({path})")
    if not args.keep:
        _bring_up(args, fleet, path)
    try:
        report = measure_accuracy(path, idle_s=args.idle_s, load_s=args.load_s)
    finally:
        if not args.keep:
            down(path)
    summary = report.summary()
    failures = report.failures()
    n_idle, n_load = report.n_samples()
    for nid, s in summary.items():
        c = s["configured"]
        print(f"node {nid}: configured {c['bandwidth_mbps']:.2f} Mbps {c['delay_ms']:.2f} ms {c['loss_pct']:.2f} %")
        if "load" in s:
            print(f"  bandwidth error % [min, median, max] {s['load']['bandwidth_err_pct']}")
        if "idle" in s:
            print(f"  delay error ms {s['idle']['delay_err_ms']}  loss error points {s['idle']['loss_err_points']}")
    print(f"{n_idle} idle + {n_load} loaded samples; {len(failures)} outside tolerance")
    if args.out:
        atomic_write_json(
            args.out,
            {
                "summary": summary,
                "samples": {"idle": n_idle, "load": n_load},
                "failures": failures,
                "tolerance": {"bandwidth_pct": 15, "delay_ms": 5, "loss_points": 5},
            },
        )
    return 0 if not failures else 1
