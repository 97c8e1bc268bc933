"""``edgetune flower serve|join|sim``: the orchestrator as a Flower ServerApp, devices as SuperNodes.

``edgetune flower serve`` starts a SuperLink, submits edgetune's Flower app with ``flwr run`` (the
ServerApp runs the orchestrator loop with the Flower engine), waits for the run record and stops the
SuperLink. ``--local-nodes N`` also starts N SuperNodes (each with its warm trainer) on this machine
(a loopback deployment). ``edgetune flower join`` runs one device: its warm trainer
(:mod:`edgetune.flower.trainer`) and its SuperNode. ``edgetune flower sim`` runs the same apps on
Flower's simulation runtime (``flower-sim``). ``--print-commands`` / ``--print-command`` show the
equivalent ``flower-superlink`` / ``flower-supernode`` / ``flwr run`` lines instead of running them
(docs/flower.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any


def _job_options(s: Any) -> None:
    """The options ``serve`` and ``sim`` share: fleet, policy, job, timeouts."""
    s.add_argument("--fleet", required=True, help="fleet file (YAML)")
    s.add_argument("--out", default="run-flower.json", help="run record to write (default run-flower.json)")
    s.add_argument(
        "--northbound-url",
        default="http://127.0.0.1:8181",
        help="SDN controller northbound API (default http://127.0.0.1:8181, `edgetune controller serve`)",
    )
    s.add_argument("--policy", default="ne", help="selection policy: ne or ar (default ne)")
    s.add_argument("--epochs", type=int, default=3, help="epochs T (default 3)")
    s.add_argument("--lr", type=float, default=3e-3, help="learning rate (default 3e-3, server Adam)")
    s.add_argument("--optimizer", default="adam", help="FedSGD server / FedAvg local optimiser: adam or sgd")
    s.add_argument("--aggregator", default="fedsgd", help="fedsgd (Algorithm 1) or fedavg (default fedsgd)")
    s.add_argument("--local-steps", type=int, default=1, help="FedAvg local steps per epoch (default 1)")
    s.add_argument("--lora", action="store_true", help="train (and send) only LoRA adapters")
    s.add_argument("--weights", default="0.2,0.2,0.2,0.2,0.2", help="Eq. 2 weights wC,wB,wD,wL,wT")
    s.add_argument("--utopia", default="1,1,1,1,1", help="Eq. 3 utopia point (5 numbers in [0, 1])")
    s.add_argument("--seed", type=int, default=0, help="job seed: data split and partitions (default 0)")
    s.add_argument("--model", default="tiny", help="model: tiny or small (default tiny)")
    s.add_argument("--train-tokens", type=int, default=24_576, help="fine-tuning tokens over all nodes")
    s.add_argument("--backend", default="auto", help="task backend: auto, training or synthetic")
    s.add_argument("--round-timeout-s", type=float, default=600.0, help="hard cap per round (default 600)")
    s.add_argument("--connect-timeout-s", type=float, default=120.0, help="wait for SuperNodes (default 120)")
    s.add_argument(
        "--straggler-ratio",
        type=float,
        default=0.0,
        help="after the first reply at t1 wait at most max(ratio*t1, t1+5 s); 0 = off",
    )
    s.add_argument("--timeout-s", type=float, default=3600.0, help="give up on the whole run after this long")


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
    _job_options(s)
    s.add_argument("--host", default="127.0.0.1", help="SuperLink bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=9093, help="SuperLink HTTP port (default 9093)")
    s.add_argument("--local-nodes", type=int, default=0, help="also start this many SuperNodes here (loopback)")
    s.add_argument("--ssl-ca-certfile", help="CA certificate (TLS)")
    s.add_argument("--ssl-certfile", help="SuperLink certificate (TLS)")
    s.add_argument("--ssl-keyfile", help="SuperLink private key (TLS)")
    s.add_argument("--enable-supernode-auth", action="store_true", help="accept only registered SuperNodes")
    s.add_argument("--workdir", default=".edgetune-flower", help="logs and Flower state (default .edgetune-flower)")
    s.add_argument(
        "--task-poll-s",
        type=float,
        default=0.1,
        help="FLWR_SUPEREXEC_TASK_POLL_INTERVAL of the local Flower processes (default 0.1; Flower 1)",
    )
    s.add_argument("--print-commands", action="store_true", help="print the Flower command lines and exit")
    s.set_defaults(func=_serve)

    m = sub.add_parser(
        "sim",
        help="run on Flower's simulation runtime (virtual SuperNodes, Ray)",
        description="The same ServerApp and ClientApp under flwr.simulation.run_simulation: one "
        "virtual SuperNode per fleet node, executed by a pool of Ray actors on this machine.",
    )
    _job_options(m)
    m.add_argument("--num-cpus", type=int, default=2, help="CPUs Ray may use (default 2)")
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
    j.add_argument("--task-poll-s", type=float, default=0.1, help="FLWR_SUPEREXEC_TASK_POLL_INTERVAL (default 0.1)")
    j.add_argument("--print-command", action="store_true", help="print the flower-supernode line and exit")
    j.set_defaults(func=_join)


def _show(cmd: list[str]) -> str:
    """A command line for people: the program by name, not by path."""
    return shlex.join([Path(cmd[0]).name, *cmd[1:]])


def _check(args: argparse.Namespace) -> None:
    from edgetune.errors import InputError
    from edgetune.fleet.schema import load_fleet
    from edgetune.selection import POLICIES, PolicyConfig

    fleet = load_fleet(args.fleet)
    if args.policy not in POLICIES:
        raise InputError("--policy", args.policy, f"unknown policy; choose from {', '.join(sorted(POLICIES))}")
    try:
        weights = tuple(float(x) for x in args.weights.split(","))
        utopia = tuple(float(x) for x in args.utopia.split(","))
    except ValueError:
        raise InputError("--weights/--utopia", f"{args.weights} / {args.utopia}", "must be numbers") from None
    PolicyConfig(weights=weights, utopia=utopia)
    if args.aggregator not in ("fedsgd", "fedavg"):
        raise InputError("--aggregator", args.aggregator, "choose from fedsgd, fedavg")
    if not 1 <= args.local_steps <= 10_000:
        raise InputError("--local-steps", args.local_steps, "must be in 1..10000")
    if args.epochs < 1:
        raise InputError("--epochs", args.epochs, "must be at least 1")
    if not args.lr > 0:
        raise InputError("--lr", args.lr, "must be positive")
    local = getattr(args, "local_nodes", 0)
    if local < 0:
        raise InputError("--local-nodes", local, "must be non-negative")
    if local > len(fleet.nodes):
        raise InputError("--local-nodes", local, f"the fleet has {len(fleet.nodes)} nodes")
    if not 0.01 <= getattr(args, "task_poll_s", 0.1) <= 60:
        raise InputError("--task-poll-s", args.task_poll_s, "must be in [0.01, 60] (Flower's bounds)")
    if args.backend not in ("auto", "training", "synthetic"):
        raise InputError("--backend", args.backend, "choose from auto, training, synthetic")
    if args.optimizer not in ("adam", "sgd"):
        raise InputError("--optimizer", args.optimizer, "choose from adam, sgd")
    for name in ("round_timeout_s", "connect_timeout_s", "timeout_s"):
        if not 0 < getattr(args, name) < float("inf"):
            raise InputError("--" + name.replace("_", "-"), getattr(args, name), "must be positive")
    if args.straggler_ratio and args.straggler_ratio < 1:
        raise InputError("--straggler-ratio", args.straggler_ratio, "must be 0 (off) or at least 1")
    if bool(getattr(args, "ssl_certfile", None)) != bool(getattr(args, "ssl_keyfile", None)):
        raise InputError("--ssl-certfile/--ssl-keyfile", args.ssl_certfile or args.ssl_keyfile, "give both or neither")


def _serve(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.fleet.schema import load_fleet
    from edgetune.flower.deploy import (
        Deployment,
        TLSFiles,
        flower_env,
        flwr_run_command,
        superlink_command,
        supernode_command,
        wait_for_file,
    )

    _check(args)
    fleet = load_fleet(args.fleet)
    out = Path(args.out).resolve()
    settings = _settings(args, out)
    tls = TLSFiles(args.ssl_ca_certfile, args.ssl_certfile, args.ssl_keyfile)
    if args.print_commands:
        env = " ".join(f"{k}={v}" for k, v in flower_env(args.task_poll_s).items())
        print(env, _show(superlink_command(args.host, args.port, tls, args.enable_supernode_auth)))
        for k, node in enumerate(fleet.nodes):
            cfg = {"partition-id": k, "node-id": node.id, "compute": node.compute}
            print(env, _show(supernode_command(f"{args.host}:{args.port}", cfg, 9094 + k, tls)))
        print(
            env,
            _show(flwr_run_command("APP_DIR", "run-config.toml")),
            "  # APP_DIR, run-config.toml: see docs/flower.md",
        )
        return 0
    for stale in (out, Path(str(out) + ".error")):
        stale.unlink(missing_ok=True)
    dep = Deployment(Path(args.workdir), host=args.host, port=args.port, tls=tls, task_poll_s=args.task_poll_s)
    try:
        dep.start_superlink(node_auth=args.enable_supernode_auth)
        for k, node in enumerate(fleet.nodes[: args.local_nodes]):
            dep.start_supernode(f"node{node.id}", {"partition-id": k, "node-id": node.id, "compute": node.compute})
        print(
            f"SuperLink on {dep.address}; join devices with: edgetune flower join --superlink {dep.address} "
            "--node-id ID",
            file=sys.stderr,
        )
        dep.submit(settings.to_run_config())
        got = wait_for_file(out, args.timeout_s, also=[Path(str(out) + ".error")])
    except RuntimeError as exc:  # a Flower process did not start: say which, point at the logs
        print(f"edgetune: error: {str(exc).splitlines()[0]} (logs in {dep.workdir})", file=sys.stderr)
        return 1
    finally:
        dep.stop()
    if got is None:
        raise InputError("--timeout-s", args.timeout_s, f"no run record within the timeout (logs in {args.workdir})")
    if got != out:
        print(got.read_text(encoding="utf-8"), file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def _settings(args: argparse.Namespace, out: Path) -> Any:
    from edgetune.flower.serverapp import ServerSettings

    return ServerSettings(
        fleet=str(Path(args.fleet).resolve()),
        out=str(out),
        progress=str(out.with_suffix(".progress.json")),
        northbound_url=args.northbound_url,
        policy=args.policy,
        epochs=args.epochs,
        learning_rate=args.lr,
        weights=args.weights,
        utopia=args.utopia,
        seed=args.seed,
        model=args.model,
        optimizer=args.optimizer,
        aggregator=args.aggregator,
        local_steps=args.local_steps,
        lora=args.lora,
        train_tokens=args.train_tokens,
        backend=args.backend,
        connect_timeout_s=args.connect_timeout_s,
        round_timeout_s=args.round_timeout_s,
        straggler_ratio=args.straggler_ratio,
    )


def _sim(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.fleet.schema import load_fleet

    _check(args)
    if not 1 <= args.num_cpus <= (os.cpu_count() or 1):
        raise InputError("--num-cpus", args.num_cpus, f"must be in 1..{os.cpu_count()}")
    if not 0 < args.cpus_per_node <= args.num_cpus:
        raise InputError("--cpus-per-node", args.cpus_per_node, "must be in (0, --num-cpus]")
    fleet = load_fleet(args.fleet)
    out = Path(args.out).resolve()
    from edgetune.flower.simulation import run_simulation

    try:
        run_simulation(_settings(args, out), len(fleet.nodes), args.num_cpus, args.cpus_per_node)
    except RuntimeError as exc:
        print(f"edgetune: error: flower sim: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def _join(args: argparse.Namespace) -> int:
    import tempfile

    from edgetune.errors import InputError
    from edgetune.flower.deploy import TLSFiles, flower_env, supernode_command
    from edgetune.flower.trainer import prepare_dir, trainer_command, wait_ready

    if args.node_id < 0:
        raise InputError("--node-id", args.node_id, "must be non-negative")
    pid = args.node_id if args.partition_id is None else args.partition_id
    if pid < 0:
        raise InputError("--partition-id", pid, "must be non-negative")
    if not 0.01 <= args.task_poll_s <= 60:
        raise InputError("--task-poll-s", args.task_poll_s, "must be in [0.01, 60] (Flower's bounds)")
    cfg: dict[str, Any] = {"partition-id": pid, "node-id": args.node_id, "compute": args.compute}
    folder = Path(args.trainer_dir or tempfile.mkdtemp(prefix="edgetune-trainer-"))
    if not args.cold:
        cfg["trainer-dir"] = str(folder.resolve())
    tls = TLSFiles(ca_certfile=args.root_certificates)
    cmd = supernode_command(args.superlink, cfg, args.port or 9094 + pid, tls, args.auth_key)
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
