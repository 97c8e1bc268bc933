"""``edgetune serve`` and ``edgetune join``: the orchestrator as a Flower ServerApp, devices as SuperNodes.

``edgetune serve`` starts a SuperLink, submits edgetune's Flower app with ``flwr run`` (the ServerApp
runs the orchestrator loop with the Flower engine), waits for the run record and stops the SuperLink.
``--local-nodes N`` also starts N SuperNodes on this machine (a loopback deployment). ``edgetune
join`` runs a SuperNode for one device of the fleet. ``--print-commands`` / ``--print-command`` show
the equivalent ``flower-superlink`` / ``flower-supernode`` / ``flwr run`` lines instead of running
them (docs/flower.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``serve`` and ``join``."""
    s = sub.add_parser(
        "serve",
        help="run the orchestrator as a Flower ServerApp (SuperLink + flwr run)",
        description="Start a Flower SuperLink, run edgetune's ServerApp on it (Algorithm 1 with the Flower "
        "engine) and write the run record. Network metrics come from the SDN controller's northbound API.",
    )
    s.add_argument("--fleet", required=True, help="fleet file (YAML)")
    s.add_argument("--out", default="run-flower.json", help="run record to write (default run-flower.json)")
    s.add_argument("--northbound-url", default="http://127.0.0.1:8181",
                   help="SDN controller northbound API (default http://127.0.0.1:8181, `edgetune controller serve`)")
    s.add_argument("--policy", default="ne", help="selection policy: ne or ar (default ne)")
    s.add_argument("--epochs", type=int, default=3, help="epochs T (default 3)")
    s.add_argument("--lr", type=float, default=3e-3, help="learning rate (default 3e-3, server Adam)")
    s.add_argument("--optimizer", default="adam", help="server optimiser of FedSGD: adam or sgd (default adam)")
    s.add_argument("--weights", default="0.2,0.2,0.2,0.2,0.2", help="Eq. 2 weights wC,wB,wD,wL,wT")
    s.add_argument("--utopia", default="1,1,1,1,1", help="Eq. 3 utopia point (5 numbers in [0, 1])")
    s.add_argument("--seed", type=int, default=0, help="job seed: data split and partitions (default 0)")
    s.add_argument("--model", default="tiny", help="model: tiny or small (default tiny)")
    s.add_argument("--train-tokens", type=int, default=24_576, help="fine-tuning tokens over all nodes")
    s.add_argument("--backend", default="auto", help="task backend: auto, training or synthetic")
    s.add_argument("--host", default="127.0.0.1", help="SuperLink bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=9093, help="SuperLink HTTP port (default 9093)")
    s.add_argument("--local-nodes", type=int, default=0, help="also start this many SuperNodes here (loopback)")
    s.add_argument("--round-timeout-s", type=float, default=600.0, help="hard cap per round (default 600)")
    s.add_argument("--connect-timeout-s", type=float, default=120.0, help="wait for SuperNodes (default 120)")
    s.add_argument("--straggler-ratio", type=float, default=0.0,
                   help="after the first reply at t1 wait at most max(ratio*t1, t1+15 s); 0 = off")
    s.add_argument("--timeout-s", type=float, default=3600.0, help="give up on the whole run after this long")
    s.add_argument("--ssl-ca-certfile", help="CA certificate (TLS)")
    s.add_argument("--ssl-certfile", help="SuperLink certificate (TLS)")
    s.add_argument("--ssl-keyfile", help="SuperLink private key (TLS)")
    s.add_argument("--enable-supernode-auth", action="store_true", help="accept only registered SuperNodes")
    s.add_argument("--workdir", default=".edgetune-flower", help="logs and Flower state (default .edgetune-flower)")
    s.add_argument("--print-commands", action="store_true", help="print the Flower command lines and exit")
    s.set_defaults(func=_serve)

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
    if args.epochs < 1:
        raise InputError("--epochs", args.epochs, "must be at least 1")
    if not args.lr > 0:
        raise InputError("--lr", args.lr, "must be positive")
    if args.local_nodes < 0:
        raise InputError("--local-nodes", args.local_nodes, "must be non-negative")
    if args.local_nodes > len(fleet.nodes):
        raise InputError("--local-nodes", args.local_nodes, f"the fleet has {len(fleet.nodes)} nodes")
    if args.backend not in ("auto", "training", "synthetic"):
        raise InputError("--backend", args.backend, "choose from auto, training, synthetic")
    if args.optimizer not in ("adam", "sgd"):
        raise InputError("--optimizer", args.optimizer, "choose from adam, sgd")
    for name in ("round_timeout_s", "connect_timeout_s", "timeout_s"):
        if not 0 < getattr(args, name) < float("inf"):
            raise InputError("--" + name.replace("_", "-"), getattr(args, name), "must be positive")
    if args.straggler_ratio and args.straggler_ratio < 1:
        raise InputError("--straggler-ratio", args.straggler_ratio, "must be 0 (off) or at least 1")
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise InputError("--ssl-certfile/--ssl-keyfile", args.ssl_certfile or args.ssl_keyfile, "give both or neither")


def _serve(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.fleet.schema import load_fleet
    from edgetune.flower.deploy import (
        Deployment,
        TLSFiles,
        flwr_run_command,
        superlink_command,
        supernode_command,
        wait_for_file,
    )
    from edgetune.flower.serverapp import ServerSettings

    _check(args)
    fleet = load_fleet(args.fleet)
    out = Path(args.out).resolve()
    settings = ServerSettings(
        fleet=str(Path(args.fleet).resolve()), out=str(out), progress=str(out.with_suffix(".progress.json")),
        northbound_url=args.northbound_url, policy=args.policy, epochs=args.epochs, learning_rate=args.lr,
        weights=args.weights, utopia=args.utopia, seed=args.seed, model=args.model, optimizer=args.optimizer,
        train_tokens=args.train_tokens, backend=args.backend, connect_timeout_s=args.connect_timeout_s,
        round_timeout_s=args.round_timeout_s, straggler_ratio=args.straggler_ratio, straggler_min_s=15.0,
    )
    tls = TLSFiles(args.ssl_ca_certfile, args.ssl_certfile, args.ssl_keyfile)
    if args.print_commands:
        env = "FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1"
        print(env, _show(superlink_command(args.host, args.port, tls, args.enable_supernode_auth)))
        for k, node in enumerate(fleet.nodes):
            cfg = {"partition-id": k, "node-id": node.id, "compute": node.compute}
            print(env, _show(supernode_command(f"{args.host}:{args.port}", cfg, 9094 + k, tls)))
        print(env, _show(flwr_run_command("APP_DIR", "run-config.toml")),
              "  # APP_DIR, run-config.toml: see docs/flower.md")
        return 0
    for stale in (out, Path(str(out) + ".error")):
        stale.unlink(missing_ok=True)
    dep = Deployment(Path(args.workdir), host=args.host, port=args.port, tls=tls)
    try:
        dep.start_superlink(node_auth=args.enable_supernode_auth)
        for k, node in enumerate(fleet.nodes[: args.local_nodes]):
            dep.start_supernode(f"node{node.id}", {"partition-id": k, "node-id": node.id, "compute": node.compute})
        print(f"SuperLink on {dep.address}; join devices with: edgetune join --superlink {dep.address} --node-id ID",
              file=sys.stderr)
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


def _join(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.flower.deploy import FLOWER_ENV, TLSFiles, supernode_command

    if args.node_id < 0:
        raise InputError("--node-id", args.node_id, "must be non-negative")
    pid = args.node_id if args.partition_id is None else args.partition_id
    if pid < 0:
        raise InputError("--partition-id", pid, "must be non-negative")
    cfg = {"partition-id": pid, "node-id": args.node_id, "compute": args.compute}
    tls = TLSFiles(ca_certfile=args.root_certificates)
    cmd = supernode_command(args.superlink, cfg, args.port or 9094 + pid, tls, args.auth_key)
    if args.print_command:
        print("FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1", _show(cmd))
        return 0
    env = {**os.environ, **FLOWER_ENV}
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
