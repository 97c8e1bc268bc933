"""Execute a planner plan for real: quantize, then split fine-tune epoch by epoch as scheduled.

Input: the plan (issue 4's output contract), the instance it was solved on and that instance's meta
(written by ``profile``). The model is rebuilt with the meta's record configuration, loaded with the
cached pre-trained weights, quantized to the plan's bit-width (activation ranges calibrated on one
batch, the cloud's τ_(a,q)), and fine-tuned for the plan's K epochs with each epoch's edge server and
partition point (:class:`edgetune.split.splitrun.SplitTrainer`). Node speeds and per-unit energies are
taken from the instance (what the planner saw); measured host seconds are converted with the host speed
calibrated at profiling time. The result puts the plan's predicted energy, time and final loss next to
the measured ones.

Every bit :class:`~edgetune.split.splitrun.Traffic` counts on the device link is charged to the clock:
:class:`~edgetune.split.splitrun.SplitTrainer` charges the training batches' activations, gradients and
labels and the shallow weights, but its validation pass (``_split_eval``) only *counts* its activations;
:func:`run_epoch_fully_charged` charges whatever was counted but not charged after each epoch
(reported as ``uncharged_link_bits``; 0 once the trainer charges them itself).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgetune.errors import InputError
from edgetune.split.energy import LinkProfile, NodeProfile, VirtualClock
from edgetune.split.estimators.curves import build, device_data, pretrained_state
from edgetune.split.splitrun import SplitTrainer, Topology, Traffic

_LINK = "edge<->device"


def _device_link_bits(t: Traffic) -> float:
    """Every bit :class:`Traffic` counts on the device <-> edge link."""
    return t.activation_bits + t.gradient_bits + t.label_bits + t.shallow_weight_bits


def run_epoch_fully_charged(trainer: SplitTrainer, j: int, topo: Topology, rng: np.random.Generator) -> float:
    """``trainer.run_epoch``, then charge the device-link bits it counted but did not put on the clock.

    Returns those bits (the validation pass's activations with the current trainer); they are added to
    the clock's ``edge<->device`` link and to the epoch's record.
    """
    clock = trainer.clock
    link_before = _device_link_bits(trainer.traffic)
    charged_before = clock.bits.get(_LINK, 0.0)
    done = trainer.run_epoch(j, topo, rng)
    missing = (_device_link_bits(trainer.traffic) - link_before) - (clock.bits.get(_LINK, 0.0) - charged_before)
    if missing <= 0.5:
        return 0.0
    done.time_s += clock.transfer(_LINK, topo.wifi, missing)
    done.energy_j += missing * topo.wifi.joule_per_bit
    return missing


def _node(name: str, entry: dict[str, Any]) -> NodeProfile:
    speed = float(entry["speed"])
    return NodeProfile(name, 0.0, float(entry["energy_per_unit"]) * speed, speed)


def execute_plan(plan: dict[str, Any], instance: dict[str, Any], meta: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Run ``plan`` for real; returns predicted vs measured numbers and per-epoch records."""
    from edgetune.split.inputs import check_execution

    checked, inst, checked_meta, rec = check_execution(plan, instance, meta)  # before any work
    model_name, bits = str(checked.model), int(checked.bits or 0)
    servers = {s.name: s.model_dump() for s in inst.edge_servers}
    cache = Path(checked_meta.cache_dir)
    host_speed = checked_meta.host_mac_per_s[model_name]
    clock = VirtualClock(host_speed)
    device = _node(inst.device.name, inst.device.model_dump())
    cloud = _node("cloud", inst.cloud.model_dump())
    schedule = sorted((s.model_dump() for s in checked.schedule), key=lambda s: int(s["epoch"]))

    torch.manual_seed(seed)
    model = build(model_name, bits, rec)
    for i, step in enumerate(schedule):
        if step["partition"] not in model.partitions:
            raise InputError(
                f"plan.schedule[{i}].partition", step["partition"], f"{model_name} allows {model.partitions}"
            )
    model.load_state_dict(pretrained_state(model_name, rec, cache))
    data = device_data(rec)
    # τ_(a,q): the cloud quantizes the weights and calibrates activation ranges on one batch
    t0 = time.perf_counter()
    with torch.no_grad():
        model.train()(data.x_train[: rec.batch_size])
    clock.compute(cloud, time.perf_counter() - t0)
    trainer = SplitTrainer(model, data, clock, batch_size=rec.batch_size)
    rng = np.random.default_rng(seed)
    uncharged = 0.0
    for step in schedule:
        name = str(step["edge_server"])
        s = servers[name]
        topo = Topology(
            device=device,
            server=_node(name, s),
            cloud=cloud,
            wifi=LinkProfile.shannon(float(s["bandwidth_hz"]), float(s["snr"]), float(s["device_energy_per_bit"])),
            backhaul=LinkProfile(float(s["cloud_rate_bps"]), float(s["cloud_energy_per_bit"])),
        )
        uncharged += run_epoch_fully_charged(trainer, int(step["partition"]), topo, rng)
    final = trainer.records[-1].val_loss
    t = trainer.traffic
    return {
        "model": model_name,
        "bits": bits,
        "epochs": len(schedule),
        "predicted": {
            "energy_j": checked.energy_j,
            "time_s": checked.time_s,
            "final_loss": checked.final_loss,
        },
        "measured": {
            "energy_j": clock.total_energy_j,
            "time_s": clock.total_time_s,
            "final_loss": final,
            "final_accuracy": trainer.records[-1].val_acc,
        },
        "l_max": inst.l_max,
        "time_s_by_part": clock.time_s,
        "energy_j_by_part": clock.energy_j,
        "traffic_bytes": {
            "activations": t.activation_bits / 8,
            "gradients": t.gradient_bits / 8,
            "labels": t.label_bits / 8,
            "shallow_weights": t.shallow_weight_bits / 8,
            "full_model": t.full_model_bits / 8,
        },
        "uncharged_link_bits": uncharged,
        "per_epoch": [r.__dict__ for r in trainer.records],
    }


def format_result(result: dict[str, Any]) -> str:
    """Predicted vs measured as a few aligned lines."""
    p, m = result["predicted"], result["measured"]

    def f(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    lines = [
        f"executed {result['model']} {result['bits']}-bit for {result['epochs']} epochs (L_max {result['l_max']})",
        f"{'':12} {'predicted':>12} {'measured':>12}",
        f"{'energy_j':12} {f(p['energy_j'], '12.4g')} {f(m['energy_j'], '12.4g')}",
        f"{'time_s':12} {f(p['time_s'], '12.4g')} {f(m['time_s'], '12.4g')}",
        f"{'final_loss':12} {f(p['final_loss'], '12.4f')} {f(m['final_loss'], '12.4f')}",
        "time by part: " + ", ".join(f"{k} {v:.3g}s" for k, v in result["time_s_by_part"].items()),
        "energy by part: " + ", ".join(f"{k} {v:.3g}J" for k, v in result["energy_j_by_part"].items()),
        "traffic: " + ", ".join(f"{k} {v / 1e6:.3g}MB" for k, v in result["traffic_bytes"].items()),
    ]
    if result.get("uncharged_link_bits"):
        lines.append(
            f"charged here: {result['uncharged_link_bits'] / 8e6:.3g}MB counted on the device link but not "
            "charged by the trainer (validation-pass activations)"
        )
    return "\n".join(lines)
