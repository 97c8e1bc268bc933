"""The JQODI paper's testbed as planning scenarios (paper 004, Section V, Tables II-VII, footnotes 4-6).

``src/edgetune/scenarios/jqodi_testbed.yaml`` holds the sources: the hardware (Tables II-IV plus
vendors' peak FP32 throughput), the architectures split at the partition points of footnotes 4-6, the
epoch estimates of Tables VI (Data 1, T_max 180 s) and VII (Data 2, T_max 2000 s), and the stated
assumptions. :func:`build_scenario` turns it into an :class:`Instance`:

* per block, forward FLOPs per image from the layer shapes on 32x32x3 inputs (conv 3x3 "same":
  ``2·H·W·C_out·9·C_in``; fully connected ``2·in·out``; pooling free);
* per-epoch work ``d^i = s(q)·(3·N_train + N_val)·FLOP^i`` with ``s(q) = 0.25 + 0.75·q/32``;
  size ``g^i = params^i·q`` bits; per-sample inference work ``s(q)·FLOP^i`` and output
  ``elements·q`` bits;
* speeds: the Pi's effective 2.2e10 FLOP/s (Fig. 9), the GPUs' peak x utilisation (1%); per-unit
  energy = (rated - idle power) / speed (a busy node draws its rated power; the idle share is not
  counted, as in the paper);
* ``F_a`` = 10 FLOP per parameter; ``τ_(a,q)``, ``ε_(a,q)`` = a 1000-image calibration pass of the
  full-precision model on the cloud (0 for 32-bit);
* loss estimators reproducing the tables' K̂ with the least-K rule (see the YAML file).

:func:`write_scenario_files` regenerates ``jqodi_data1.yaml`` and ``jqodi_data2.yaml`` from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from edgetune.errors import InputError
from edgetune.inputs import load_yaml
from edgetune.planner.instance import Instance, instance_from_mapping, load_instance

__all__ = [
    "SCENARIOS",
    "BlockStats",
    "ScenarioInfo",
    "architecture_stats",
    "build_scenario",
    "build_scenario_mapping",
    "host_description",
    "load_scenario",
    "paper_reference",
    "scenario_help",
    "scenario_path",
    "testbed",
    "write_measured_scenario",
    "write_scenario_files",
]

_TESTBED = "jqodi_testbed.yaml"
_MEASURED = "jqodi_measured.yaml"


@dataclass(frozen=True)
class ScenarioInfo:
    """A shipped scenario: its instance file, a one-line summary and how it is made.

    Attributes
    ----------
    file : str
        Instance file under ``edgetune/scenarios``.
    summary : str
        One line for ``edgetune plan --help``.
    testbed_key : str or None
        The ``scenarios`` / ``paper`` entry of ``jqodi_testbed.yaml`` it is generated from (``None``
        for a scenario that is not generated from the testbed file).
    """

    file: str
    summary: str
    testbed_key: str | None


SCENARIOS: dict[str, ScenarioInfo] = {
    "jqodi-data1": ScenarioInfo(
        "jqodi_data1.yaml",
        "paper testbed, Data 1 (2000/500 CIFAR-10 images, T_max 180 s), FLOP-based costs",
        "jqodi-data1",
    ),
    "jqodi-data2": ScenarioInfo(
        "jqodi_data2.yaml",
        "paper testbed, Data 2 (5000/1000 CIFAR-100 images, T_max 2000 s), FLOP-based costs",
        "jqodi-data2",
    ),
    "jqodi-testbed": ScenarioInfo(
        "jqodi_data1.yaml", "the testbed file's headline experiment: the same instance as jqodi-data1", "jqodi-data1"
    ),
    "jqodi-measured": ScenarioInfo(
        _MEASURED,
        "measured per-variant costs and epoch estimates (edgetune profile) on the project's 2-core Intel Xeon "
        "build host; see the file's description",
        None,
    ),
}


def scenario_help() -> str:
    """``name: summary`` of every shipped scenario, for ``--help``."""
    return "; ".join(f"{name}: {info.summary}" for name, info in SCENARIOS.items())


def paper_reference(name: str) -> dict[str, Any] | None:
    """The paper's figures for scenario ``name`` (``jqodi_testbed.yaml``'s ``paper`` entry), or ``None``."""
    info = SCENARIOS.get(name)
    if info is None or info.testbed_key is None:
        return None
    ref = testbed().get("paper", {}).get(info.testbed_key)
    return dict(ref) if isinstance(ref, dict) else None


def _scenario_dir() -> Path:
    return Path(str(resources.files("edgetune") / "scenarios"))


def testbed() -> dict[str, Any]:
    """The parsed ``jqodi_testbed.yaml``."""
    data = yaml.safe_load((_scenario_dir() / _TESTBED).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class BlockStats:
    """Forward FLOPs per image, parameters and output elements of one block."""

    flops: float
    params: float
    out_elements: float


def architecture_stats(blocks: list[list[dict[str, Any]]], input_hwc: tuple[int, int, int]) -> list[BlockStats]:
    """FLOPs, parameters and output size of each block (ops: conv, pool, fc, gap, stage)."""
    h, w, c = input_hwc
    stats: list[BlockStats] = []
    for block in blocks:
        macs = 0.0
        params = 0.0
        for op in block:
            kind = op["op"]
            if kind == "conv":
                out = int(op["out"])
                macs += h * w * out * 9 * c
                params += 9 * c * out + out
                c = out
            elif kind == "pool":
                h, w = h // 2, w // 2
            elif kind == "gap":
                h, w = 1, 1
            elif kind == "fc":
                out = int(op["out"])
                fan_in = h * w * c
                macs += fan_in * out
                params += fan_in * out + out
                h, w, c = 1, 1, out
            elif kind == "stage":
                out, n_blocks, stride = int(op["out"]), int(op["blocks"]), int(op["stride"])
                h2, w2 = h // stride, w // stride
                macs += h2 * w2 * out * 9 * c + h2 * w2 * out * 9 * out
                params += 9 * c * out + 9 * out * out
                if stride != 1 or c != out:  # 1x1 projection shortcut
                    macs += h2 * w2 * out * c
                    params += c * out
                macs += (n_blocks - 1) * 2 * h2 * w2 * out * 9 * out
                params += (n_blocks - 1) * 2 * 9 * out * out
                h, w, c = h2, w2, out
            else:
                raise ValueError(f"unknown op {kind!r}")
        stats.append(BlockStats(flops=2.0 * macs, params=params, out_elements=float(h * w * c)))
    return stats


def _dynamic_w(node: dict[str, Any]) -> float:
    """Power above idle (the paper does not count idle nodes' energy): rated - idle, in W."""
    return float(node["power_w"]) - float(node.get("idle_w", 0.0))


def _bit_work(bits: int, floor: float) -> float:
    return floor + (1.0 - floor) * bits / 32.0


def build_scenario_mapping(name: str) -> dict[str, Any]:
    """The instance document (plain mapping, ready for YAML) of scenario ``name``."""
    tb = testbed()
    if name not in tb["scenarios"]:
        raise InputError("scenario", name, f"unknown scenario (known: {', '.join(tb['scenarios'])})")
    sc = tb["scenarios"][name]
    hw, wl = tb["hardware"], tb["workload"]
    util = float(hw["gpu_utilization"])
    links = hw["links"]
    dev = hw["device"]
    v_y = float(dev["effective_flops"])
    cloud_v = float(hw["cloud"]["peak_flops"]) * util
    cloud_eps = _dynamic_w(hw["cloud"]) / cloud_v
    servers = []
    for s in hw["edge_servers"]:
        v = float(s["peak_flops"]) * util
        servers.append(
            {
                "name": s["name"],
                "speed": v,
                "energy_per_unit": _dynamic_w(s) / v,
                "cloud_rate_bps": float(links["cloud_rate_bps"]),
                "cloud_energy_per_bit": float(links["cloud_energy_per_bit"]),
                "bandwidth_hz": float(links["bandwidth_hz"]),
                "snr": float(links["snr"]),
                "device_energy_per_bit": float(links["device_energy_per_bit"]),
            }
        )
    passes = float(wl["train_passes"]) * float(sc["train_images"]) + float(sc["val_images"])
    floor = float(wl["bit_work_floor"])
    l_max = float(sc["l_max"])
    jumps = {int(k): float(v) for k, v in tb["loss_jump_above_target"].items()}
    models = []
    for arch in tb["models"]:
        stats = architecture_stats(arch["blocks"], tuple(wl["input"]))
        total_flops = math.fsum(b.flops for b in stats)
        total_params = math.fsum(b.params for b in stats)
        l_a = float(arch["loss"])
        variants = []
        for bits_key, ks in sc["epochs"][arch["name"]].items():
            bits = int(bits_key)
            s_q = _bit_work(bits, floor)
            layers = [
                {
                    "compute": s_q * passes * b.flops,
                    "size_bits": b.params * bits,
                    "infer_compute": s_q * b.flops,
                    "output_bits": b.out_elements * bits,
                }
                for b in stats
            ]
            if bits == 32:
                tau = eps = 0.0
            else:
                work = float(wl["calibration_images"]) * total_flops
                tau, eps = work / cloud_v, work * cloud_eps
            var: dict[str, Any] = {
                "bits": bits,
                "quantize_time_s": tau,
                "quantize_energy_j": eps,
                "layers": layers,
            }
            if ks is None:
                var["loss_jump"] = {"expected": math.inf, "robust": math.inf}
                var["epoch_loss_delta"] = {"expected": 0.0, "robust": 0.0}
            else:
                k_exp, k_rob = int(ks[0]), int(ks[1])
                gamma = max(0.0, l_max - l_a) + jumps[bits]
                excess = l_a + gamma - l_max
                var["loss_jump"] = {"expected": gamma, "robust": gamma}
                var["epoch_loss_delta"] = {
                    "expected": -excess / (k_exp - 0.5),
                    "robust": -excess / (k_rob - 0.5),
                }
                var["epochs"] = {"expected": k_exp, "robust": k_rob}
            variants.append(var)
        models.append(
            {
                "name": arch["name"],
                "loss": l_a,
                "update_compute": float(wl["update_flops_per_param"]) * total_params,
                "variants": variants,
            }
        )
    return {
        "name": name,
        "description": f"{sc['description']} (generated from {_TESTBED} by edgetune.planner.scenarios)",
        "t_max_s": float(sc["t_max_s"]),
        "l_max": l_max,
        "cloud": {"speed": cloud_v, "energy_per_unit": cloud_eps},
        "device": {"name": dev["name"], "speed": v_y, "energy_per_unit": _dynamic_w(dev) / v_y},
        "edge_servers": servers,
        "models": models,
    }


def build_scenario(name: str) -> Instance:
    """Build scenario ``name``: from the testbed file if it is generated from it, else load its file."""
    info = _info(name)
    if info.testbed_key is None:
        return load_scenario(name)
    return instance_from_mapping(build_scenario_mapping(info.testbed_key), source=name)


def _info(name: str) -> ScenarioInfo:
    if name not in SCENARIOS:
        raise InputError("scenario", name, f"unknown scenario (known: {', '.join(SCENARIOS)})")
    return SCENARIOS[name]


def scenario_path(name: str) -> Path:
    """Path of the instance file of scenario ``name``."""
    return _scenario_dir() / _info(name).file


def load_scenario(name: str) -> Instance:
    """Load the generated instance file of scenario ``name``."""
    return load_instance(scenario_path(name))


def write_scenario_files(folder: Path | None = None) -> list[Path]:
    """Regenerate the scenario instance files (YAML) from the testbed; returns their paths."""
    from edgetune.io import atomic_write_text

    out = folder or _scenario_dir()
    written = []
    for name, info in SCENARIOS.items():
        if info.testbed_key != name:
            continue
        fname = info.file
        doc = build_scenario_mapping(name)
        header = f"# {name}: generated by `python -m edgetune.planner.scenarios` from {_TESTBED}; do not edit.\n"
        text = header + yaml.safe_dump(doc, sort_keys=False, width=110)
        written.append(atomic_write_text(out / fname, text))
    return written


def host_description() -> str:
    """This host's CPU model, logical CPU count and OS, e.g. ``Intel(R) Xeon(R) Processor, 2 CPUs, Linux``."""
    import os
    import platform

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def write_measured_scenario(profiled: Path, command: str, folder: Path | None = None) -> Path:
    """Turn a profiled instance (``edgetune profile --out``) into the named scenario ``jqodi-measured``.

    The instance is kept as measured; ``name`` and a ``description`` naming this host and the command
    that produced it are set. Raises :class:`InputError` if ``profiled`` is not a valid instance.
    """
    from edgetune.io import atomic_write_text

    load_instance(profiled)  # validate first
    doc = load_yaml(profiled, "instance", allow_inf=True)
    desc = (
        f"Measured on host {host_description()}: per-block MACs, quantization times and the device speed "
        f"(--calibrate-device) measured by `{command}`; K̂ and γ from loss curves recorded on this host "
        "(LSTM estimator); edge-server and cloud speeds/powers are edgetune.split.energy's profiles "
        "(assumed). Unit of work: MAC."
    )
    doc = {
        "name": "jqodi-measured",
        "description": desc,
        **{k: v for k, v in doc.items() if k not in ("name", "description")},
    }
    header = f"# jqodi-measured: written by `python -m edgetune.planner.scenarios --measured` from `{command}`.\n"
    return atomic_write_text(
        (folder or _scenario_dir()) / _MEASURED, header + yaml.safe_dump(doc, sort_keys=False, width=110)
    )


if __name__ == "__main__":  # pragma: no cover
    import sys

    if len(sys.argv) >= 3 and sys.argv[1] == "--measured":
        print(write_measured_scenario(Path(sys.argv[2]), " ".join(sys.argv[3:]) or "edgetune profile"))
    else:
        for p in write_scenario_files():
            print(p)
