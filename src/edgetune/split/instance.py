"""Assemble a planner instance (issue 4's contract) from real models, profiles and estimators.

``build_instance`` records (or loads cached) loss curves, trains the chosen estimator, profiles every
(model, bits) variant (:mod:`edgetune.split.profiler`) and returns ``(instance, meta)``:

* ``instance`` — exactly the planner's instance dict (t_max_s, l_max, cloud, device, edge_servers,
  models[].variants[] with layers, partitions, quantize time/energy, loss_jump, epoch_loss_delta, epochs);
  variants that cannot reach L_max (the paper's γ = ∞) are left out. It also sets the planner's optional
  ``samples_per_epoch`` / ``eval_samples_per_epoch`` (n_train / n_val) and per-layer ``output_bits`` /
  ``output_grad_bits``, so the planner charges the device link's activation traffic (its Eq. 9a-10a);
  drop ``samples_per_epoch`` and ``eval_samples_per_epoch`` to plan with the paper's Eq. 9-10 only;
* ``meta`` — what ``finetune-split`` needs to rebuild the same models and data and convert measured
  host seconds into node time (record config, host MAC/s per model, L_a); written next to the instance
  as ``<instance>.meta.json``.

:func:`edgetune.split.options.add_profile_arguments` + :func:`instance_from_args` let any command
(``profile``, or the planner's ``plan --profile``) offer the same options.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edgetune.errors import InputError
from edgetune.io import OutputSet, atomic_write_json, atomic_write_text
from edgetune.split.config import ProfileConfig, RecordConfig
from edgetune.split.energy import profile
from edgetune.split.estimators.curves import (
    Curve,
    build,
    default_cache_dir,
    device_data,
    record_curves,
)
from edgetune.split.estimators.learned import LearnedEstimator, train_learned
from edgetune.split.estimators.powerlaw import predict_epochs
from edgetune.split.estimators.table import targets_for
from edgetune.split.models import model_names
from edgetune.split.options import ESTIMATORS, profile_config_from_args, record_config_from_args
from edgetune.split.profiler import (
    calibrate_host_speed,
    instance_layers,
    loss_terms,
    measure_quantization,
    nodes_section,
    profile_blocks,
    update_compute,
)
from edgetune.split.quant import FULL_PRECISION_BITS, check_bits


def variant_estimates(
    curves: list[Curve],
    model: str,
    bits: int,
    target: float,
    l_a: float,
    prefix: int,
    learned: LearnedEstimator | None,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((γ_exp, γ_rob), (K̂_exp, K̂_rob)) of a variant from its recorded curves' first ``prefix`` epochs."""
    cs = [c for c in curves if c.model == model and c.bits == bits]
    if learned is not None:
        ks = [learned.epochs(model, bits, c.losses[: prefix + 1], target) for c in cs]
        k_exp = float(np.mean([k[0] for k in ks]))
        k_rob = float(np.mean([k[1] for k in ks]))
        return learned.gamma(model, bits), (k_exp, k_rob)
    gammas = [c.losses[0] - l_a for c in cs]
    pl = [predict_epochs(c.losses[: prefix + 1], target) for c in cs]
    k_mean = float(np.mean(pl))
    k_rob = k_mean + 1.2816 * float(np.std(pl)) if math.isfinite(k_mean) else math.inf
    return (float(np.mean(gammas)), float(np.max(gammas))), (k_mean, float(math.ceil(k_rob)))


def build_instance(
    cfg: ProfileConfig,
    rec: RecordConfig,
    seeds: tuple[int, ...] = (0, 1, 2),
    prefix: int = 8,
    margin: float = 0.5,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Profile ``cfg.models`` x ``cfg.bits`` into an instance dict and its meta dict (see module doc)."""
    for b in cfg.bits:
        check_bits(b)
    for name in cfg.models:
        if name not in model_names():
            raise InputError("models", name, f"unknown; choose from {model_names()}")
    if cfg.estimator not in ESTIMATORS:
        raise InputError("estimator", cfg.estimator, f"choose from {list(ESTIMATORS)}")
    if not 1 <= prefix < rec.epochs:
        raise InputError("prefix", prefix, f"must be in [1, {rec.epochs - 1}]")
    cache = cache_dir or default_cache_dir()
    curves = record_curves(cfg.models, cfg.bits, seeds, rec, cache, progress)
    l_a, per_model_max = targets_for(curves, margin)
    l_max = cfg.l_max if cfg.l_max is not None else max(per_model_max.values())
    learned = None
    if cfg.estimator == "lstm":
        learned = train_learned(curves, dict.fromkeys(l_a, l_max), l_a, prefix)
    cloud = profile(cfg.cloud)
    data = device_data(rec)
    n_train, n_val = len(data.y_train), len(data.y_val)
    host_speed: dict[str, float] = {}
    models_out = []
    for model in cfg.models:
        fp = build(model, FULL_PRECISION_BITS, rec)
        host_speed[model] = calibrate_host_speed(fp)
        variants = []
        for bits in sorted(cfg.bits):
            m = build(model, bits, rec)
            gamma, epochs = variant_estimates(curves, model, bits, l_max, l_a[model], prefix, learned)
            terms = loss_terms(l_a[model], l_max, gamma, epochs)
            if terms is None:
                continue
            host_q = measure_quantization(m, data.x_train[: rec.batch_size])
            q_seconds = host_q * host_speed[model] / cloud.mac_per_s
            blocks = profile_blocks(m)
            variants.append(
                {
                    "bits": bits,
                    "quantize_time_s": q_seconds,
                    "quantize_energy_j": q_seconds * cloud.busy_w,
                    "layers": instance_layers(blocks, n_train, n_val),
                    "partitions": m.partitions,
                    **terms,
                }
            )
        if variants:
            models_out.append(
                {
                    "name": model,
                    "loss": l_a[model],
                    "update_compute": update_compute(fp),
                    "variants": variants,
                }
            )
    if not models_out:
        raise InputError("l_max", l_max, "no (model, bits) variant reaches it within the recorded horizon")
    instance = {
        "t_max_s": cfg.t_max_s,
        "l_max": l_max,
        # edgetune's Eq. 9a-10a: per epoch every training sample's activations cross the device link
        # forward and their gradients back, every validation sample's activations forward only
        "samples_per_epoch": n_train,
        "eval_samples_per_epoch": n_val,
        **nodes_section(cfg, max(host_speed.values())),
        "models": models_out,
    }
    if cfg.calibrate_device:
        speed = float(np.median(list(host_speed.values())))
        dev = profile(cfg.device)
        instance["device"] = {"name": dev.name, "speed": speed, "energy_per_unit": dev.busy_w / speed}
    meta = {
        "record": asdict(rec),
        "seeds": list(seeds),
        "prefix": prefix,
        "margin": margin,
        "estimator": cfg.estimator,
        "cache_dir": str(cache),
        "host_mac_per_s": host_speed,
        "l_a": l_a,
        "per_model_l_max": per_model_max,
        "nodes": {"device": cfg.device, "servers": list(cfg.servers), "cloud": cfg.cloud},
        "sizes": {"n_train": n_train, "n_val": n_val},
    }
    return instance, meta


def meta_path(instance_path: str | Path) -> Path:
    """Where the meta of an instance file lives: ``<instance>.meta.json``."""
    p = Path(instance_path)
    return p.with_name(p.name + ".meta.json")


def write_instance(path: str | Path, instance: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write the instance (YAML for .yaml/.yml, else JSON) and its meta file, atomically."""
    import yaml

    p = Path(path)
    with OutputSet() as outs, outs.capture():  # the instance and its meta together or not at all
        if p.suffix in (".yaml", ".yml"):
            atomic_write_text(p, yaml.safe_dump(instance, sort_keys=False))
        else:
            atomic_write_json(p, instance)
        atomic_write_json(meta_path(p), meta)
    return p


def load_mapping(path: str | Path, field: str) -> dict[str, Any]:
    """Read a YAML/JSON mapping (InputError if missing or not a mapping)."""
    from edgetune.inputs import load_document

    p = Path(path)
    data = load_document(p, field, allow_inf=True)  # bounded: regular file, size, UTF-8, depth, no aliases
    if not isinstance(data, dict):
        raise InputError(field, str(p), "must be a mapping")
    return data


def instance_from_args(
    args: argparse.Namespace, progress: Callable[[str], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build ``(instance, meta)`` from the options of :func:`add_profile_arguments`."""
    import torch

    torch.set_num_threads(1)
    cfg = profile_config_from_args(args)
    for name in (cfg.device, cfg.cloud, *cfg.servers):
        profile(name)
    rec = record_config_from_args(args)
    return build_instance(cfg, rec, tuple(range(args.seeds)), args.prefix, args.margin, args.cache_dir, progress)
