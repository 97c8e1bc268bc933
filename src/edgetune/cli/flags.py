"""Command-line flags as spellings of run-spec keys.

Every flag here names one key of :class:`~edgetune.runs.spec.RunSpec` (``--lr`` is ``run.learning_rate``)
and declares no default of its own: argparse leaves an absent flag out (``SUPPRESS``), the spec's
dataclass default applies, and ``--help`` prints that default read from the dataclass. So the CLI,
experiment files and Flower's run config cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgetune.errors import InputError


@dataclass(frozen=True)
class Flag:
    """One flag: its spelling, the spec key it sets, and how its value maps (``scale``: MB -> bytes)."""

    flag: str
    key: str
    help: str
    scale: float = 1.0
    unit: str = ""


SELECT = (Flag("--policy", "run.policy", "selection policy"),)
RUN = (
    Flag("--epochs", "run.epochs", "T, number of epochs"),
    Flag("--lr", "run.learning_rate", "learning rate (server optimiser of FedSGD)"),
    Flag("--seed", "run.seed", "seed of every random choice in the run"),
    Flag("--target-loss", "run.target_loss", "the record's time_to_target_s: first epoch with loss <= this (0 = none)"),
)
POLICY = (
    Flag("--weights", "policy.weights", "Eq. 2 weights w for compute,bandwidth,delay,loss,train-time (sum 1)"),
    Flag("--utopia", "policy.utopia", "Eq. 3 utopia point lambda in [0,1]^5"),
    Flag("--rejoin", "policy.rejoin", "let eliminated nodes rejoin (beyond the paper)"),
    Flag("--min-data-fraction", "policy.min_data_fraction", "adaptive: floor on the share of data trained per epoch"),
)
NETWORK = (
    Flag("--poll-interval-s", "monitor.poll_interval_s", "SDN monitor polling period, s"),
    Flag("--ewma-alpha", "monitor.ewma_alpha", "EWMA weight of a new sample"),
    Flag(
        "--variation",
        "network.variation.bandwidth_sigma",
        "std of the log background bandwidth variation (delay gets 2/3 of it; 0 = off)",
    ),
)
WORKLOAD = (
    Flag("--model-mb", "simulated.model_bytes", "model size, MB", scale=1e6),
    Flag("--dataset-mb", "simulated.dataset_bytes", "data set size split over the nodes, MB", scale=1e6),
    Flag("--compute-s-per-mb", "simulated.compute_s_per_mb", "seconds one MB takes on a node of compute power 1"),
)
FLEET = (
    Flag("--nodes", "fleet.nodes", "number of edge nodes of a generated fleet"),
    Flag("--setup", "fleet.setup", "Table I setup of a generated fleet"),
    Flag("--fleet-seed", "fleet.seed", "seed of the fleet generator"),
)
#: ``edgetune fleet generate``: the same keys, where --seed is the fleet's seed.
FLEET_FILE = (
    Flag("--nodes", "fleet.nodes", "number of edge nodes"),
    Flag("--setup", "fleet.setup", "Table I setup"),
    Flag("--seed", "fleet.seed", "seed of the fleet generator"),
    Flag("--nodes-per-gateway", "fleet.nodes_per_gateway", "edge nodes per gateway switch"),
)
TASK = (
    Flag("--model", "task.model", "model preset, Hugging Face model folder or .gguf file"),
    Flag(
        "--data",
        "task.corpus",
        'fine-tuning text: .txt (blank-line separated), .jsonl ("text") or a folder; empty = the fortunes',
    ),
    Flag("--pretrain-steps", "task.pretrain_steps", "cloud pre-training steps (0 = the model's default)"),
    Flag("--pretrain-seed", "task.pretrain_seed", "seed of the cloud pre-training"),
    Flag("--lora", "task.lora", "LoRA adapters (peft): only adapter tensors train and travel"),
    Flag("--partition", "task.partition", "iid (equal shards) | dirichlet (non-IID by category)"),
    Flag("--alpha", "task.alpha", "Dirichlet concentration"),
    Flag("--train-tokens", "task.train_tokens", "training split size, tokens"),
    Flag("--val-tokens", "task.val_tokens", "held-out split size, tokens"),
    Flag("--block-len", "task.block_len", "sequence length, tokens"),
    Flag("--micro-batch", "task.micro_batch", "blocks per forward/backward"),
    Flag("--optimizer", "task.optimizer", "adam | sgd (sgd = Algorithm 1 line 13 verbatim)"),
    Flag("--local-steps", "task.local_steps", "1 = FedSGD (Algorithm 1); K > 1 = FedAvg with K local steps"),
)
INPROCESS = (
    Flag("--host-compute", "inprocess.host_compute", "compute power of one host core in fleet units"),
    Flag(
        "--host-seconds-per-token",
        "inprocess.host_seconds_per_token",
        "fixed host seconds per training token (0 = measure CPU time)",
    ),
    Flag("--threads", "inprocess.threads", "torch threads"),
)


def _choices(key: str) -> list[str] | None:
    if key == "fleet.setup":
        from edgetune.fleet.generate import SETUPS

        return list(SETUPS)
    if key == "run.policy":
        from edgetune.selection import POLICIES

        return sorted(POLICIES)
    if key == "task.model":
        from edgetune.training.model import SIZES, SMOLLM2

        return [SMOLLM2, *SIZES]
    if key == "task.partition":
        from edgetune.training.partition import PARTITIONERS

        return sorted(PARTITIONERS)
    if key == "task.optimizer":
        from edgetune.training.spec import OPTIMIZER_NAMES

        return list(OPTIMIZER_NAMES)
    return None


def _field(key: str) -> tuple[type[Any], Any]:
    """Type and default of the spec field ``key``."""
    from edgetune.runs.spec import SECTIONS, engine_config_class

    section, *path = key.split(".")
    cls = SECTIONS.get(section) or engine_config_class(section)
    obj: Any = cls()
    for part in path[:-1]:
        obj = getattr(obj, part)
        cls = type(obj)
    hints = typing.get_type_hints(cls)
    return hints[path[-1]], getattr(obj, path[-1])


def add_flags(parser: argparse.ArgumentParser, flags: Sequence[Flag], title: str, **defaults: Any) -> None:
    """Add ``flags`` as a group; ``defaults`` override a shown default for this command (by key)."""
    group = parser.add_argument_group(title)
    for f in flags:
        tp, default = _field(f.key)
        default = defaults.get(f.key, default)
        dest = "spec:" + f.key
        if tp is bool:
            group.add_argument(
                f.flag,
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=f"{f.help} (default {'on' if default else 'off'})",
            )
            continue
        shown = default / f.scale if f.scale != 1 and isinstance(default, int | float) else default
        if isinstance(shown, tuple):
            shown = ",".join(f"{v:g}" for v in shown)
        choices = _choices(f.key)
        kwargs: dict[str, Any] = {"type": tp if tp in (int, float) else str}
        kwargs["metavar"] = "{" + ",".join(choices) + "}" if choices else f.flag.lstrip("-").upper().replace("-", "_")
        group.add_argument(f.flag, dest=dest, default=argparse.SUPPRESS, help=f"{f.help} (default {shown})", **kwargs)


def spec_doc(args: argparse.Namespace, flags: Sequence[Flag], doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The nested spec document the given flags spell (only flags the user gave)."""
    out: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in (doc or {}).items()}
    by_key = {f.key: f for f in flags}
    for dest, value in vars(args).items():
        if not dest.startswith("spec:"):
            continue
        key = dest[5:]
        f = by_key.get(key)
        if f is not None and f.scale != 1 and isinstance(value, int | float):
            value = value * f.scale
        _put(out, key, value)
        if key == "network.variation.bandwidth_sigma" and isinstance(value, int | float):
            _put(out, "network.variation.delay_sigma", value * 2 / 3)
    return out


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    *path, last = key.split(".")
    node = doc
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def build_spec(args: argparse.Namespace, flags: Sequence[Flag], doc: dict[str, Any] | None = None) -> Any:
    """Validate flags into a RunSpec; an error names the flag the user typed (or the dotted key)."""
    from edgetune.runs.spec import spec_from_dict

    try:
        return spec_from_dict(spec_doc(args, flags, doc))
    except InputError as exc:
        for f in flags:
            if exc.field == f.key or exc.field.startswith(f.key + "["):
                value = getattr(args, "spec:" + f.key, exc.value)  # what the user typed
                raise InputError(f.flag, value, exc.reason) from None
        raise


def replace_run(spec: Any, **changes: Any) -> Any:
    """``spec`` with fields of its ``[run]`` section changed."""
    return spec.replace(run=dataclasses.replace(spec.run, **changes))


#: Bounds of the command-line numbers that are not run-spec keys (the spec's own are ``runs.spec.LIMITS``);
#: docs/runs.md "Limits" lists both.
CLI_LIMITS: dict[str, tuple[int, int]] = {
    "seed": (0, 2**63 - 1),
    "threads": (1, 256),
}


def check_limit(flag: str, value: int, name: str) -> int:
    """``value`` of ``flag`` inside ``CLI_LIMITS[name]``, else an :class:`InputError` naming the flag and limit."""
    lo, hi = CLI_LIMITS[name]
    if isinstance(value, bool) or not lo <= value <= hi:
        raise InputError(flag, value, f"must be in [{lo}, {hi}] (CLI_LIMITS[{name!r}])")
    return value
