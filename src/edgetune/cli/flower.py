"""``edgetune flower serve|join|sim``: the orchestrator as a Flower ServerApp, devices as SuperNodes.

``edgetune flower serve [EXPERIMENT.toml]`` starts a SuperLink, submits edgetune's Flower app with
``flwr run`` (the ServerApp runs the run spec through the runs layer with the Flower engine; see
:mod:`edgetune.runs.flower`), waits until the run folder's ``record.json`` says the run ended and stops
the SuperLink. ``--local-nodes N`` also starts N SuperNodes (each with its warm trainer) on this
machine (a loopback deployment). ``edgetune flower join`` runs one device: its warm trainer
(:mod:`edgetune.flower.trainer`) and its SuperNode. ``edgetune flower sim`` runs the same spec on
Flower's simulation runtime (``flower-sim``). ``--print-commands`` / ``--print-command`` show the
equivalent ``flower-superlink`` / ``flower-supernode`` / ``flwr run`` lines instead (docs/flower.md).

The run's settings are a run spec (docs/runs.md): an optional experiment file, ``--set SECTION.KEY=VALUE``
overrides, and the flags below, each a spelling of one spec key (:mod:`edgetune.cli.flags`) with the
spec's default. The other options are deployment-only (where the SuperLink listens, TLS, how many local
SuperNodes, the output folder) and are not part of the spec.

Exit codes: 0 complete, 1 failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgetune.cli.flags import FLEET, POLICY, RUN, SELECT, TASK, Flag, add_flags
from edgetune.errors import InputError
from edgetune.flower.commands import TASK_POLL_S
from edgetune.flower.polls import DEFAULT_POLL_S, MAX_POLL_S, MIN_POLL_S

FLOWER = (
    Flag("--connect-timeout-s", "flower.connect_timeout_s", "longest wait for the SuperNodes to identify themselves"),
    Flag("--round-timeout-s", "flower.round_timeout_s", "hard cap on one round, s"),
    Flag(
        "--straggler-ratio",
        "flower.straggler_ratio",
        "after the first reply at t1 wait at most max(ratio*t1, t1+straggler-min-s); 0 = off",
    ),
    Flag("--straggler-min-s", "flower.straggler_min_s", "least extra wait of the straggler deadline, s"),
    Flag("--sync-timeout-s", "flower.sync_timeout_s", "longest wait for the final model's sync replies, s"),
    Flag("--train-time", "flower.train_time", "measured | modelled (work-s / compute: deterministic inputs)"),
    Flag("--work-s", "flower.work_s", "seconds one epoch takes on a node of compute power 1 (train-time modelled)"),
    Flag("--backend", "flower.backend", "task implementation: auto | training | synthetic"),
)
NORTHBOUND = (
    Flag("--northbound-url", "northbound.url", "the SDN controller's northbound API (`edgetune controller serve`)"),
    Flag("--northbound-grace-s", "northbound.grace_s", "survive northbound outages shorter than this, s"),
)
FLEET_FILE = Flag("--fleet", "fleet.file", "a fleet YAML instead of a generated fleet")
#: Every flag that spells a run-spec key.
SPEC_FLAGS: tuple[Flag, ...] = (*SELECT, *RUN, *POLICY, *FLEET, FLEET_FILE, *TASK, *FLOWER, *NORTHBOUND)
MAX_RUN_S = 7 * 86_400.0
#: Largest node id / partition ``join`` accepts (the run spec's bound on a fleet's size).
MAX_NODE_ID = 100_000
#: Largest declared compute power ``join`` accepts (paper units; the generated fleets use 1-100).
MAX_COMPUTE = 1e6


def _check_port(flag: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise InputError(flag, port, "must be a TCP port in 1..65535")


def _check_file(flag: str, path: str | None) -> None:
    """A TLS / key file: it must exist and be a readable regular file."""
    if path is None:
        return
    p = Path(path)
    if not p.is_file():
        raise InputError(flag, path, "no such regular file")
    if not os.access(p, os.R_OK):
        raise InputError(flag, path, "not readable")


def _check_superlink(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isascii() or not port.isdigit():
        raise InputError("--superlink", address, "must be HOST:PORT")
    _check_port("--superlink", int(port))


def _check_northbound(url: str) -> None:
    """One request to the SDN controller's northbound API before anything starts."""
    from edgetune.network.northbound import HttpNorthboundClient

    try:
        HttpNorthboundClient(url, timeout_s=5.0, grace_s=0.0).path_metrics()
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError("--northbound-url", url, f"not answering: {reason[:200]}") from None


def _spec_options(p: argparse.ArgumentParser, out_default: str) -> None:
    """The spec of ``serve`` and ``sim``: experiment file, ``--set``, flags; and the output folder."""
    p.add_argument("experiment", nargs="?", help="experiment file (TOML run spec; run.engine must be flower)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting of the spec (repeatable), e.g. --set flower.round_timeout_s=60",
    )
    p.add_argument(
        "--out",
        default=out_default,
        help=f"output folder: the run folder (record.json, spec.toml, epochs.jsonl ...; default {out_default})",
    )
    add_flags(p, SELECT, "selection policy")
    add_flags(p, RUN, "run (Algorithm 1)")
    add_flags(p, POLICY, "node scoring (Eq. 2-3)")
    add_flags(p, (*FLEET, FLEET_FILE), "fleet")
    add_flags(p, TASK, "model and training task")
    add_flags(p, FLOWER, "Flower engine ([flower])")
    add_flags(p, NORTHBOUND, "SDN controller ([northbound])")


def register(sub: Any) -> None:
    """Add ``flower`` with ``serve``, ``join`` and ``sim``."""
    top = sub.add_parser(
        "flower",
        help="run the orchestrator on Flower (serve, join, sim)",
        description="The orchestrator as a Flower ServerApp; devices as SuperNodes.",
    )
    sub = top.add_subparsers(dest="flower_command", metavar="SUBCOMMAND")
    sub.required = True
    s = sub.add_parser(
        "serve",
        help="run the orchestrator as a Flower ServerApp (SuperLink + flwr run)",
        description="Start a Flower SuperLink, run edgetune's ServerApp on it (Algorithm 1 with the Flower "
        "engine) and write the run record. Network metrics come from the SDN controller's northbound API.",
    )
    _spec_options(s, "runs/flower")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address devices dial (default 127.0.0.1). Off loopback only the Fleet API is exposed, through "
        "edgetune's gateway; the SuperLink (run submission included) stays on 127.0.0.1. Needs TLS or --insecure",
    )
    s.add_argument("--port", type=int, default=9093, help="port devices dial, 1..65535 (default 9093)")
    s.add_argument(
        "--insecure",
        action="store_true",
        help="allow --host off loopback without TLS: anyone reaching it can join as a SuperNode (not submit runs)",
    )
    s.add_argument("--local-nodes", type=int, default=0, help="also start this many SuperNodes here (loopback)")
    s.add_argument("--ssl-ca-certfile", help="CA certificate (TLS)")
    s.add_argument("--ssl-certfile", help="SuperLink certificate (TLS)")
    s.add_argument("--ssl-keyfile", help="SuperLink private key (TLS)")
    s.add_argument("--enable-supernode-auth", action="store_true", help="accept only registered SuperNodes")
    s.add_argument("--workdir", default=".edgetune-flower", help="logs and Flower state (default .edgetune-flower)")
    s.add_argument(
        "--task-poll-s",
        type=float,
        default=TASK_POLL_S,
        help=f"FLWR_SUPEREXEC_TASK_POLL_INTERVAL of the local Flower processes (default {TASK_POLL_S}; Flower 1)",
    )
    s.add_argument(
        "--timeout-s", type=float, default=3600.0, help="give up on the whole run after this long (default 3600)"
    )
    s.add_argument("--print-commands", action="store_true", help="print the Flower command lines and exit")
    s.set_defaults(func=_needs_flower(_serve))

    m = sub.add_parser(
        "sim",
        help="run on Flower's simulation runtime (virtual SuperNodes, Ray)",
        description="The same ServerApp and ClientApp under flwr.simulation.run_simulation: one "
        "virtual SuperNode per fleet node, executed by a pool of Ray actors on this machine.",
    )
    _spec_options(m, "runs/flower-sim")
    m.add_argument("--num-cpus", type=int, default=2, help="CPUs Ray may use (default 2)")
    m.add_argument("--verbose", action="store_true", help="Flower's and Ray's own logs")
    m.add_argument("--cpus-per-node", type=float, default=1.0, help="CPUs per ClientApp actor (default 1)")
    m.set_defaults(func=_sim)

    j = sub.add_parser(
        "join",
        help="run a Flower SuperNode for one device of the fleet",
        description="Start flower-supernode for one device: its fleet node id and its data partition.",
    )
    j.add_argument("--superlink", default="127.0.0.1:9093", help="SuperLink address host:port")
    j.add_argument("--node-id", type=int, required=True, help="the device's id in the fleet file")
    j.add_argument("--partition-id", type=int, help="its data partition (default: the node id)")
    j.add_argument("--compute", type=float, default=0.0, help="declared compute power (reported)")
    j.add_argument("--port", type=int, default=0, help="SuperNode Runtime API port (default 9094 + partition)")
    j.add_argument("--root-certificates", help="CA certificate to verify the SuperLink (TLS); else --insecure")
    j.add_argument("--auth-key", help="the SuperNode's private key (node authentication)")
    j.add_argument("--trainer-dir", default="", help="private folder of the warm trainer (default: a new temp dir)")
    j.add_argument("--cold", action="store_true", help="no warm trainer: train in Flower's per-message process")
    j.add_argument(
        "--task-poll-s",
        type=float,
        default=TASK_POLL_S,
        help=f"FLWR_SUPEREXEC_TASK_POLL_INTERVAL (default {TASK_POLL_S})",
    )
    j.add_argument(
        "--supernode-poll-s",
        type=float,
        default=DEFAULT_POLL_S,
        help=f"cap on Flower's fixed SuperNode waits (edgetune.flower.polls; default {DEFAULT_POLL_S})",
    )
    j.add_argument(
        "--max-wait-s",
        type=float,
        default=600.0,
        help="give up after the SuperLink was unreachable this long (Flower's --max-wait-time; default 600)",
    )
    j.add_argument("--print-command", action="store_true", help="print the flower-supernode line and exit")
    j.set_defaults(func=_needs_flower(_join))


def _needs_flower(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command``, with a missing Flower console script reported in one line (exit 1), never a traceback."""

    def run(args: argparse.Namespace) -> int:
        from edgetune.flower.commands import FlowerMissing

        try:
            return command(args)
        except FlowerMissing as exc:
            print(f"edgetune: error: {exc}", file=sys.stderr)
            return 1

    return run


def _show(cmd: list[str]) -> str:
    """A command line for people: the program by name, not by path."""
    return shlex.join([Path(cmd[0]).name, *cmd[1:]])


def _spec(args: argparse.Namespace) -> tuple[Any, Path | None]:
    """The run spec the experiment file, ``--set`` and the flags spell; and the folder paths are relative to."""
    from edgetune.cli.flags import build_spec
    from edgetune.errors import InputError
    from edgetune.runs.spec import apply_overrides, read_toml

    doc: dict[str, Any] = {}
    base_dir: Path | None = None
    if args.experiment is not None:
        doc = read_toml(args.experiment)
        base_dir = Path(args.experiment).resolve().parent
    doc = apply_overrides(doc, args.overrides)
    run = doc.setdefault("run", {})
    if not isinstance(run, dict):
        raise InputError("run", run, "must be a table of settings")
    if run.setdefault("engine", "flower") != "flower":
        raise InputError("run.engine", run["engine"], '`edgetune flower` runs specs with run.engine = "flower"')
    fleet_file = getattr(args, "spec:fleet.file", None)
    if fleet_file:  # a flag's path is relative to the working directory, the file's to its folder
        setattr(args, "spec:fleet.file", str(Path(fleet_file).resolve()))
    return build_spec(args, SPEC_FLAGS, doc), base_dir


def _check_out(out: Path) -> None:
    from edgetune.runs.folder import RunFolder

    RunFolder(out).check_writable()


def _serve(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.flower.commands import (
        TLSFiles,
        flower_env,
        flwr_run_command,
        gateway_command,
        is_loopback,
        superlink_command,
        supernode_command,
    )
    from edgetune.flower.config import FlowerEngineConfig
    from edgetune.flower.deploy import Deployment, free_port
    from edgetune.runs.execute import resolve_fleet

    spec, base_dir = _spec(args)
    fleet = resolve_fleet(spec, base_dir)
    if not 0 <= args.local_nodes <= len(fleet.nodes):
        raise InputError("--local-nodes", args.local_nodes, f"must be in 0..{len(fleet.nodes)} (the fleet's nodes)")
    if not 0.01 <= args.task_poll_s <= 60:
        raise InputError("--task-poll-s", args.task_poll_s, "must be in [0.01, 60] (Flower's bounds)")
    if not 0 < args.timeout_s <= MAX_RUN_S:
        raise InputError("--timeout-s", args.timeout_s, f"must be positive and at most {MAX_RUN_S:g}")
    _check_port("--port", args.port)
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise InputError("--ssl-certfile/--ssl-keyfile", args.ssl_certfile or args.ssl_keyfile, "give both or neither")
    for flag in ("--ssl-ca-certfile", "--ssl-certfile", "--ssl-keyfile"):
        _check_file(flag, getattr(args, flag[2:].replace("-", "_")))
    tls = TLSFiles(args.ssl_ca_certfile, args.ssl_certfile, args.ssl_keyfile)
    if args.enable_supernode_auth and tls.insecure:
        raise InputError("--enable-supernode-auth", True, "needs TLS (--ssl-certfile/--ssl-keyfile): Flower's rule")
    exposed = not is_loopback(args.host)
    if exposed and tls.insecure and not args.insecure:
        raise InputError(
            "--host",
            args.host,
            "exposing the Fleet API off loopback needs TLS (--ssl-certfile/--ssl-keyfile) or --insecure",
        )
    out = Path(args.out).resolve()
    _check_out(out)
    if exposed and tls.insecure:
        print(
            f"edgetune: warning: --insecure: the Fleet API on {args.host}:{args.port} is plain HTTP without "
            "authentication: anyone who reaches it can join as a SuperNode, read the model and send updates "
            "(run submission stays on 127.0.0.1)",
            file=sys.stderr,
        )
    poll_s = spec.engine.supernode_poll_s if isinstance(spec.engine, FlowerEngineConfig) else DEFAULT_POLL_S
    if args.print_commands:
        env = " ".join(f"{k}={v}" for k, v in flower_env(args.task_poll_s).items())
        link = ("127.0.0.1", free_port()) if exposed else (args.host, args.port)
        print(env, _show(superlink_command(link[0], link[1], tls, args.enable_supernode_auth)))
        if exposed:
            print(_show(gateway_command(f"{args.host}:{args.port}", f"{link[0]}:{link[1]}", tls)), " # Fleet API only")
        for k, node in enumerate(fleet.nodes):
            cfg = {"partition-id": k, "node-id": node.id, "compute": node.compute}
            print(env, _show(supernode_command(f"{args.host}:{args.port}", cfg, 9094 + k, tls, poll_s=poll_s)))
        print(
            env, _show(flwr_run_command("APP_DIR", "run-config.toml")), "  # APP_DIR, run-config.toml: docs/flower.md"
        )
        return 0
    _check_northbound(spec.northbound.url)
    from edgetune.runs.flower import launch, wait_for_run

    dep = Deployment(
        Path(args.workdir),
        host=args.host,
        port=args.port,
        tls=tls,
        task_poll_s=args.task_poll_s,
        insecure_exposure=args.insecure,
    )
    status: str | None = None
    try:
        try:
            launch(dep, spec, out, fleet, args.local_nodes, base_dir, node_auth=args.enable_supernode_auth)
            print(
                f"SuperLink on {dep.address}; join devices with: edgetune flower join --superlink {dep.address} "
                "--node-id ID",
                file=sys.stderr,
            )
            status = wait_for_run(out, args.timeout_s)
        except KeyboardInterrupt:
            dep.stop()  # SIGTERM reaches the ServerApp, which writes the partial record ("interrupted")
            status = wait_for_run(out, 15.0) or "interrupted"
    except RuntimeError as exc:  # a Flower process did not start: say which, point at the logs
        print(f"edgetune: error: {str(exc).splitlines()[0]} (logs in {dep.workdir})", file=sys.stderr)
        return 1
    finally:
        dep.stop()
    return _report(status, out, f"logs in {dep.workdir}", args.timeout_s)


def _report(status: str | None, out: Path, where: str, timeout_s: float | None = None) -> int:
    from edgetune.runs.flower import ERROR_FILE

    if status == "complete":
        print(f"wrote {out}")
        return 0
    if status == "interrupted":
        print(f"edgetune: interrupted; partial record in {out / 'record.json'}", file=sys.stderr)
        return 130
    if status == "failed":
        print(f"edgetune: run failed; partial record in {out / 'record.json'}", file=sys.stderr)
        return 1
    if status == "error":
        first = (out / ERROR_FILE).read_text(encoding="utf-8").strip().splitlines()[:1]
        print(f"edgetune: error: the ServerApp failed: {first[0] if first else '?'} ({where})", file=sys.stderr)
        return 1
    print(f"edgetune: error: no finished run in {out} within {timeout_s:g} s ({where})", file=sys.stderr)
    return 1


def _sim(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.flower.simulation import backend_config
    from edgetune.runs.execute import RunFailed, resolve_fleet

    spec, base_dir = _spec(args)
    if not 1 <= args.num_cpus <= (os.cpu_count() or 1):
        raise InputError("--num-cpus", args.num_cpus, f"must be in 1..{os.cpu_count()}")
    backend_config(args.num_cpus, args.cpus_per_node)
    resolve_fleet(spec, base_dir)
    out = Path(args.out).resolve()
    _check_out(out)
    _check_northbound(spec.northbound.url)
    from edgetune.runs.flower import simulate

    try:
        simulate(spec, out, args.num_cpus, args.cpus_per_node, args.verbose, base_dir)
    except KeyboardInterrupt:
        return _report("interrupted", out, "")
    except RunFailed:
        return _report("failed", out, "")
    except RuntimeError as exc:
        print(f"edgetune: error: flower sim: {exc}", file=sys.stderr)
        return 1
    return _report("complete", out, "")


def _join(args: argparse.Namespace) -> int:
    import tempfile

    from edgetune.errors import InputError
    from edgetune.flower.commands import TLSFiles, flower_env, supernode_command
    from edgetune.flower.trainer import prepare_dir, trainer_command, wait_ready

    if args.node_id < 0:
        raise InputError("--node-id", args.node_id, "must be non-negative")
    pid = args.node_id if args.partition_id is None else args.partition_id
    if pid < 0:
        raise InputError("--partition-id", pid, "must be non-negative")
    if args.node_id > MAX_NODE_ID:
        raise InputError("--node-id", args.node_id, f"must be at most {MAX_NODE_ID}")
    if pid > MAX_NODE_ID:
        raise InputError("--partition-id", pid, f"must be at most {MAX_NODE_ID}")
    if not 0.01 <= args.task_poll_s <= 60:
        raise InputError("--task-poll-s", args.task_poll_s, "must be in [0.01, 60] (Flower's bounds)")
    if not math.isfinite(args.compute) or not 0 <= args.compute <= MAX_COMPUTE:
        raise InputError("--compute", args.compute, f"must be a finite number in [0, {MAX_COMPUTE:g}] (0: undeclared)")
    if not 1 <= args.max_wait_s <= MAX_RUN_S:  # NaN fails too
        raise InputError("--max-wait-s", args.max_wait_s, f"must be in [1, {MAX_RUN_S:g}] s")
    port = args.port or 9094 + pid
    _check_port("--port", port)
    _check_superlink(args.superlink)
    _check_file("--root-certificates", args.root_certificates)
    _check_file("--auth-key", args.auth_key)
    if args.auth_key and not args.root_certificates:
        raise InputError("--auth-key", args.auth_key, "node authentication needs TLS (--root-certificates)")
    cfg: dict[str, Any] = {"partition-id": pid, "node-id": args.node_id, "compute": args.compute}
    folder = Path(args.trainer_dir or tempfile.mkdtemp(prefix="edgetune-trainer-"))
    if not args.cold:
        cfg["trainer-dir"] = str(folder.resolve())
    tls = TLSFiles(ca_certfile=args.root_certificates)
    if not MIN_POLL_S <= args.supernode_poll_s <= MAX_POLL_S:  # NaN fails too
        raise InputError("--supernode-poll-s", args.supernode_poll_s, f"must be in [{MIN_POLL_S:g}, {MAX_POLL_S:g}] s")
    cmd = supernode_command(args.superlink, cfg, port, tls, args.auth_key, args.supernode_poll_s)
    cmd += ["--max-wait-time", repr(args.max_wait_s)]
    env = flower_env(args.task_poll_s)
    if args.print_command:
        trainer = "" if args.cold else f"{_show(trainer_command(folder))} &  # warm trainer (token in DIR)\n"
        print(trainer + " ".join(f"{k}={v}" for k, v in env.items()), _show(cmd))
        return 0
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if not args.cold:
            prepare_dir(folder)
            procs.append(subprocess.Popen(trainer_command(folder, os.getpid()), env={**os.environ, **env}))
            if not wait_ready(folder, 60.0):
                print(f"edgetune: error: the warm trainer in {folder} did not start", file=sys.stderr)
                return 1
        procs.append(subprocess.Popen(cmd, env={**os.environ, **env}))
        return procs[-1].wait()
    finally:
        for proc in reversed(procs):  # only the processes this command started
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
