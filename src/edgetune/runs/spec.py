"""The run spec: every setting of a run, declared once, in one nest of frozen dataclasses.

A :class:`RunSpec` is what ``edgetune run EXPERIMENT.toml`` reads, what every runner (``simulate``,
``finetune``, ``compare``, ``flower serve``, ``testbed run``) builds from its flags, and what a run folder
keeps as ``spec.toml`` (fully resolved: every default written out), so a run can be replayed. The
sections and the dataclass each one is::

    [run]         RunSettings       engine, policy, seed, epochs T, learning rate, target loss (orchestrator)
    [fleet]       FleetSpec         a fleet file, or nodes / setup / seed of a generated one
    [policy]      PolicyConfig      Eq. 2-3 weights and utopia point, rejoin, adaptive's data floor
    [network]     NetworkConfig     the simulated network ([network.variation]: background dynamics)
    [monitor]     MonitorConfig     the simulated SDN monitor's polling and smoothing
    [northbound]  NorthboundConfig  a real controller's northbound URL and outage grace
    [task]        TrainingSpec      the training task (engines that train: inprocess, flower)
    [faults]      FaultSpec         injected node faults (crash, down, slow), honoured by every engine
    [ENGINE]      the engine's own config, the section named like ``run.engine``
                  ([simulated] SimWorkload, [inprocess] InProcessConfig, [flower] FlowerEngineConfig, ...)

Each field has one default, in its dataclass; validation is the dataclasses' own checks plus the
types and bounds declared here, and every error is an :class:`~edgetune.errors.InputError` naming the
dotted key (``policy.weights``, ``flower.straggler_min_s``). The CLI flags, experiment files and
Flower's run config are spellings of this one spec: :func:`spec_from_dict` parses them all.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from edgetune.errors import InputError
from edgetune.fleet.faults import FaultSpec
from edgetune.network.monitor import MonitorConfig
from edgetune.network.northbound import NorthboundConfig
from edgetune.network.simulated import NetworkConfig
from edgetune.orchestrator.loop import OrchestratorConfig
from edgetune.selection.base import POLICIES, PolicyConfig
from edgetune.training.spec import TrainingSpec

#: Engines by name and the module that registers each (imported only when that engine is chosen).
ENGINE_MODULES: dict[str, str] = {
    "simulated": "edgetune.engines.simulated",
    "inprocess": "edgetune.engines.inprocess_entry",
    "flower": "edgetune.flower.config",
    "testbed": "edgetune.testbed.engine",
}

#: Largest values a spec may ask for: every unit of work a setting can request is bounded.
LIMITS: dict[str, tuple[float, float]] = {
    "run.epochs": (1, 10_000),
    "run.seed": (0, 2**63 - 1),
    "fleet.nodes": (1, 1_000_000),
    "fleet.seed": (0, 2**63 - 1),
    "fleet.nodes_per_gateway": (1, 100_000),
    "task.train_tokens": (1, 100_000_000),
    "task.val_tokens": (1, 10_000_000),
    "task.block_len": (2, 8192),
    "task.local_steps": (1, 10_000),
    "task.micro_batch": (1, 4096),
    "task.pretrain_steps": (0, 1_000_000),
    "task.pretrain_seed": (0, 2**63 - 1),
    "network.mss_bytes": (64, 65_535),
    "network.variation.components": (0, 64),
    "monitor.loss_probes": (1, 1_000_000),
    "inprocess.threads": (1, 256),
}
#: Every other number of a spec is finite and at most this large in magnitude (a float ``1e308`` or an
#: integer ``10**30`` would overflow a time, a size or a JSON record downstream).
MAX_MAGNITUDE = 1e15
MAX_FILE_BYTES = 1_000_000  # an experiment file larger than this is refused


@dataclass(frozen=True)
class RunSettings(OrchestratorConfig):
    """The ``[run]`` section: Algorithm 1's T and learning rate, plus what runs and how it is seeded.

    Attributes
    ----------
    engine : str
        ``simulated`` | ``inprocess`` | ``flower`` | ``testbed``.
    policy : str
        A registered selection policy (``ne``, ``ar``, ...).
    seed : int
        Seed of every random choice in the run (network dynamics, monitor noise, data split, partitions,
        mini-batches); the fleet has its own (``fleet.seed``).
    """

    engine: str = "simulated"
    policy: str = "ne"
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not math.isfinite(self.learning_rate):
            raise InputError("learning_rate", self.learning_rate, "must be finite")
        if self.engine not in ENGINE_MODULES:
            raise InputError("engine", self.engine, f"choose from {', '.join(ENGINE_MODULES)}")
        if self.policy not in POLICIES:
            raise InputError("policy", self.policy, f"choose from {', '.join(sorted(POLICIES))}")


@dataclass(frozen=True)
class FleetSpec:
    """The ``[fleet]`` section: a fleet file, or a fleet drawn for a Table I setup (Sec. IV-A).

    Attributes
    ----------
    file : str
        A fleet YAML (relative to the spec file's folder); empty: generate one from the fields below.
    nodes : int
    setup : str
        ``normal`` | ``limited`` | ``prolific``.
    seed : int
        Seed of the fleet generator (``fleet.generate.fleet_rng(seed, nodes, setup)``).
    nodes_per_gateway : int
        Edge nodes per gateway switch of a generated fleet.
    """

    file: str = ""
    nodes: int = 12
    setup: str = "normal"
    seed: int = 0
    nodes_per_gateway: int = 4

    def __post_init__(self) -> None:
        from edgetune.fleet.generate import SETUPS

        if self.setup not in SETUPS:
            raise InputError("setup", self.setup, f"choose from {', '.join(SETUPS)}")


def engine_config_class(engine: str) -> type[Any]:
    """The config dataclass of a registered engine (imports its module)."""
    from edgetune.engines.base import ENGINES

    if engine not in ENGINES:
        importlib.import_module(ENGINE_MODULES[engine])
    if engine not in ENGINES:
        raise InputError("run.engine", engine, f"not run from an experiment file; use `edgetune {engine} run`")
    cls: type[Any] = ENGINES[engine].config_cls
    return cls


@dataclass(frozen=True)
class RunSpec:
    """Every setting of a run (see the module docstring for the sections).

    ``engine`` holds the config of ``run.engine`` (``None`` = that engine's defaults).
    """

    run: RunSettings = field(default_factory=RunSettings)
    fleet: FleetSpec = field(default_factory=FleetSpec)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    northbound: NorthboundConfig = field(default_factory=NorthboundConfig)
    task: TrainingSpec = field(default_factory=TrainingSpec)
    faults: FaultSpec = field(default_factory=FaultSpec)
    engine: Any = None

    def __post_init__(self) -> None:
        if self.engine is None:
            object.__setattr__(self, "engine", engine_config_class(self.run.engine)())

    def replace(self, **sections: Any) -> RunSpec:
        """A copy with whole sections replaced (``run=``, ``policy=`` ...)."""
        return dataclasses.replace(self, **sections)

    def with_policy(self, policy: str) -> RunSpec:
        """The same spec with another selection policy."""
        return self.replace(run=dataclasses.replace(self.run, policy=policy))

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict; the engine's section is keyed by its name."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "engine":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        out[self.run.engine] = _plain(self.engine)
        return out

    def to_toml(self) -> str:
        """The resolved spec as TOML (every default written out)."""
        import tomli_w

        header = "# edgetune run spec: every setting, resolved (edgetune run THIS_FILE replays the run)\n"
        return header + tomli_w.dumps(self.to_dict())


SECTIONS: dict[str, type[Any]] = {
    "run": RunSettings,
    "fleet": FleetSpec,
    "policy": PolicyConfig,
    "network": NetworkConfig,
    "monitor": MonitorConfig,
    "northbound": NorthboundConfig,
    "task": TrainingSpec,
    "faults": FaultSpec,
}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """``value`` as type ``tp`` (the field's annotation), or InputError naming ``key``."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(key, args[0], value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise InputError(key, value, "must be true or false")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(key, value, "must be an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(key, value, "must be a number")
        if not math.isfinite(value):
            raise InputError(key, value, "must be finite")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(key, value, "must be a string")
        if len(value) > 4096:
            raise InputError(key, value[:40] + "...", "longer than 4096 characters")
        return value
    if origin is tuple:
        (inner, *_rest) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
            try:
                value = [float(v) for v in value] if inner is float else value
            except ValueError:
                raise InputError(key, ",".join(value), "expected comma-separated numbers") from None
        if not isinstance(value, list | tuple):
            raise InputError(key, value, "must be a list")
        if len(value) > 64:
            raise InputError(key, f"[{len(value)} items]", "at most 64 items")
        return tuple(_coerce(f"{key}[{k}]", inner, v) for k, v in enumerate(value))
    if isinstance(tp, type) and is_dataclass(tp):
        return build_section(tp, value, key)
    raise InputError(key, value, f"unsupported type {_type_name(tp)}")  # pragma: no cover (spec bug)


def _check_bounds(key: str, value: Any) -> None:
    """``LIMITS[key]`` when declared, else the generic magnitude bounds; recurses into tuples."""
    if isinstance(value, tuple):
        for k, v in enumerate(value):
            _check_bounds(f"{key}[{k}]", v)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    base = key.split("[", 1)[0]
    if base in LIMITS:
        lo, hi = LIMITS[base]
        if not lo <= value <= hi:
            raise InputError(key, value, f"must be in [{lo:g}, {hi:g}] (LIMITS[{base!r}])")
        return
    if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        raise InputError(key, value, f"magnitude above the limit of {MAX_MAGNITUDE:g}")


def build_section(cls: type[Any], data: Any, prefix: str) -> Any:
    """Dataclass ``cls`` from a mapping; unknown keys, bad types, out-of-range values name ``prefix.key``."""
    if not isinstance(data, Mapping):
        raise InputError(prefix, data, "must be a table of settings")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls) if f.init}
    for k in data:
        if k not in names:
            raise InputError(f"{prefix}.{k}", data[k], f"unknown setting; known: {', '.join(sorted(names))}")
    kwargs: dict[str, Any] = {}
    for name in names:
        if name in data:
            key = f"{prefix}.{name}"
            value = _coerce(key, hints[name], data[name])
            _check_bounds(key, value)
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except InputError as exc:
        dotted = exc.field if exc.field.startswith(prefix + ".") else f"{prefix}.{exc.field.lstrip('-')}"
        raise InputError(dotted.replace("-", "_"), exc.value, exc.reason) from None
    except (ValueError, TypeError) as exc:
        raise InputError(prefix, dict(data), str(exc)) from None


def spec_from_dict(doc: Mapping[str, Any]) -> RunSpec:
    """The one validation step: a nested mapping (TOML document, flags, run config) -> :class:`RunSpec`.

    Missing sections and keys take their defaults; a section named after another engine than
    ``run.engine`` is refused (it would be silently ignored otherwise).
    """
    if not isinstance(doc, Mapping):
        raise InputError("spec", doc, "must be a table of sections")
    run = build_section(RunSettings, doc.get("run", {}), "run")
    for key in doc:
        if key not in SECTIONS and key != run.engine:
            if key in ENGINE_MODULES:
                raise InputError(key, "[...]", f"settings of engine {key!r}, but run.engine is {run.engine!r}")
            known = ", ".join([*SECTIONS, run.engine])
            raise InputError(key, "[...]", f"unknown section; known: {known}")
    parts = {name: build_section(cls, doc.get(name, {}), name) for name, cls in SECTIONS.items() if name != "run"}
    engine = build_section(engine_config_class(run.engine), doc.get(run.engine, {}), run.engine)
    return RunSpec(run=run, engine=engine, **parts)


def parse_value(text: str) -> Any:
    """A ``--set`` value with TOML's syntax (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except (ValueError, RecursionError):  # an integer past 4300 digits, a thousand nested lists
        shown = text[:40] + ("..." if len(text) > 40 else "")
        raise InputError("--set", shown, "value too large or too deep") from None


def apply_overrides(doc: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (``--set``) to a nested document, in order."""
    out = _deep_copy(doc)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")) or "." not in key:
            raise InputError("--set", pair, "expected SECTION.KEY=VALUE")
        *path, last = key.split(".")
        node = out
        for part in path:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise InputError("--set", pair, f"{part} is not a section")
            node = nxt
        node[last] = parse_value(text)
    return out


def _deep_copy(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in doc.items()}


def read_toml(path: str | Path, field_name: str = "experiment") -> dict[str, Any]:
    """Read a TOML file safely: regular file, bounded size, UTF-8, valid TOML; errors name the file."""
    from edgetune.inputs import load_toml

    return load_toml(path, field_name, MAX_FILE_BYTES)


def load_spec(path: str | Path, overrides: list[str] | None = None) -> tuple[RunSpec, Path]:
    """Read an experiment file (+ ``--set`` overrides); returns the spec and the file's folder.

    A relative ``fleet.file`` is relative to that folder (so ``DIR/spec.toml`` finds ``DIR/fleet.yaml``).
    """
    doc = apply_overrides(read_toml(path), overrides or [])
    return spec_from_dict(doc), Path(path).resolve().parent
