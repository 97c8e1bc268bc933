"""Valid input files the fuzz tests start from (so that an error comes from the one thing mutated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edgetune.fleet.generate import generate_fleet


def fleet_doc(nodes: int = 4) -> dict[str, Any]:
    """A small valid fleet document (plain types, as a file would hold)."""
    fleet = generate_fleet(nodes, "normal", np.random.default_rng(0))
    doc: dict[str, Any] = fleet.model_dump(mode="json", exclude_none=True)
    return doc


def instance_doc() -> dict[str, Any]:
    """A small valid planner instance document (one server, one model, two variants)."""
    layer = {"compute": 1.0e9, "size_bits": 1.2e5}
    return {
        "t_max_s": 10_000.0,
        "l_max": 0.5,
        "cloud": {"speed": 1.0e13, "energy_per_unit": 1.0e-11},
        "device": {"name": "pi", "speed": 1.0e10, "energy_per_unit": 1.0e-9},
        "edge_servers": [
            {
                "name": "es",
                "speed": 1.0e12,
                "energy_per_unit": 1.0e-10,
                "cloud_rate_bps": 1.0e8,
                "cloud_energy_per_bit": 1.0e-8,
                "bandwidth_hz": 2.0e7,
                "snr": 100.0,
                "device_energy_per_bit": 1.0e-7,
            }
        ],
        "models": [
            {
                "name": "m",
                "loss": 0.6,
                "update_compute": 1.0e10,
                "variants": [
                    {
                        "bits": 8,
                        "quantize_time_s": 1.0,
                        "quantize_energy_j": 10.0,
                        "layers": [dict(layer) for _ in range(3)],
                        "loss_jump": {"expected": 0.01, "robust": 0.02},
                        "epoch_loss_delta": {"expected": -0.01, "robust": -0.005},
                    },
                    {
                        "bits": 32,
                        "quantize_time_s": 0.0,
                        "quantize_energy_j": 0.0,
                        "layers": [dict(layer) for _ in range(3)],
                        "loss_jump": {"expected": 0.0, "robust": 0.0},
                        "epoch_loss_delta": {"expected": -0.01, "robust": -0.01},
                        "epochs": {"expected": 20, "robust": 25},
                    },
                ],
            }
        ],
    }


def write_yaml(path: Path, doc: Any) -> Path:
    """Write ``doc`` as YAML."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
