"""Random small planning instances for the planner tests (seeded numpy Generators)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgetune.planner.instance import Instance, instance_from_mapping


def random_instance_doc(
    rng: np.random.Generator,
    n_servers: int = 2,
    n_layers: int = 3,
    n_models: int = 2,
    n_variants: int = 2,
    k_max: int = 4,
    tightness: float | None = None,
    activations: bool = False,
) -> dict[str, Any]:
    """A random instance document; epochs (expected <= robust <= k_max) given explicitly.

    ``tightness`` scales T_max between the fastest and the slowest robust plan (drawn when ``None``).
    ``activations`` adds edgetune's optional activation-traffic fields (Eq. 9a-10a): ``samples_per_epoch``,
    sometimes ``eval_samples_per_epoch``, per-layer ``output_grad_bits`` on some layers, and random
    partition sets that may include 0 (with ``input_bits``) and n. Without it the draws (and documents)
    are exactly those of the paper's model.
    """
    servers = [
        {
            "name": f"es{x}",
            "speed": float(rng.uniform(5.0, 50.0)),
            "energy_per_unit": float(rng.uniform(0.5, 3.0)),
            "cloud_rate_bps": float(rng.uniform(50.0, 200.0)),
            "cloud_energy_per_bit": float(rng.uniform(0.0, 0.01)),
            "bandwidth_hz": float(rng.uniform(5.0, 30.0)),
            "snr": float(rng.uniform(1.0, 50.0)),
            "device_energy_per_bit": float(rng.uniform(0.0, 0.05)),
        }
        for x in range(n_servers)
    ]
    models = []
    for a in range(n_models):
        variants = []
        for q, bits in enumerate(sorted(rng.choice([2, 4, 6, 8, 32], size=n_variants, replace=False))):
            k_exp = int(rng.integers(1, k_max + 1))
            k_rob = int(rng.integers(k_exp, k_max + 1))
            excess = float(rng.uniform(0.001, 0.01))
            variants.append(
                {
                    "bits": int(bits),
                    "quantize_time_s": float(rng.uniform(0.0, 0.5)),
                    "quantize_energy_j": float(rng.uniform(0.0, 2.0)),
                    "layers": [
                        {
                            "compute": float(rng.uniform(1.0, 20.0)),
                            "size_bits": float(rng.uniform(1.0, 30.0)),
                            "infer_compute": float(rng.uniform(0.1, 2.0)),
                            "output_bits": float(rng.uniform(1.0, 5.0)),
                        }
                        for _ in range(n_layers)
                    ],
                    "loss_jump": {"expected": excess, "robust": excess},
                    "epoch_loss_delta": {
                        "expected": -excess / (k_exp - 0.5),
                        "robust": -excess / (k_rob - 0.5),
                    },
                    "epochs": {"expected": k_exp, "robust": k_rob},
                }
            )
            _ = q
        models.append(
            {
                "name": f"m{a}",
                "loss": 0.02,
                "update_compute": float(rng.uniform(0.0, 5.0)),
                "variants": variants,
            }
        )
    if activations:
        _add_activation_fields(rng, models, n_layers)
    doc: dict[str, Any] = {
        "t_max_s": 1.0,
        "l_max": 0.02,
        "cloud": {"speed": 100.0, "energy_per_unit": 0.5},
        "device": {
            "name": "dev",
            "speed": float(rng.uniform(0.5, 5.0)),
            "energy_per_unit": float(rng.uniform(0.1, 1.0)),
        },
        "edge_servers": servers,
        "models": models,
    }
    if activations:
        doc["samples_per_epoch"] = float(rng.uniform(0.0, 3.0))
        if rng.random() < 0.5:
            doc["eval_samples_per_epoch"] = float(rng.uniform(0.0, 2.0))
    # choose T_max between the fastest and the slowest robust plans of all variants
    inst = instance_from_mapping(doc)
    from edgetune.planner.problem import candidates

    pool, _ = candidates(inst, "robust")
    lo = min(c.variant.quantize_time_s + c.epochs * float(c.options.time_s.min()) for c in pool)
    hi = max(c.variant.quantize_time_s + c.epochs * float(c.options.time_s.max()) for c in pool)
    frac = float(rng.uniform(-0.1, 1.1)) if tightness is None else tightness
    doc["t_max_s"] = (lo + frac * (hi - lo) if frac >= 0 else lo * (1.0 + frac)) + 1e-6
    return doc


def _add_activation_fields(rng: np.random.Generator, models: list[dict[str, Any]], n_layers: int) -> None:
    """Optional per-layer gradient sizes, raw-input sizes and partition sets (in place)."""
    for model in models:
        for var in model["variants"]:
            for layer in var["layers"]:
                if rng.random() < 0.5:
                    layer["output_grad_bits"] = float(rng.uniform(1.0, 20.0))
            var["input_bits"] = float(rng.uniform(1.0, 10.0))
            n_parts = int(rng.integers(1, n_layers + 2))
            var["partitions"] = sorted(int(j) for j in rng.choice(n_layers + 1, size=n_parts, replace=False))


def random_instance(rng: np.random.Generator, **kw: Any) -> Instance:
    """:func:`random_instance_doc` validated into an :class:`Instance`."""
    return instance_from_mapping(random_instance_doc(rng, **kw))


def small_doc() -> dict[str, Any]:
    """A hand-checkable instance: 3 layers, one server with log2(1+3) = 2 (v_xy = 4e7 bit/s)."""
    return {
        "t_max_s": 10.0,
        "l_max": 0.0186,
        "cloud": {"speed": 1.9e13, "energy_per_unit": 2.1e-11},
        "device": {"name": "pi5", "speed": 3.0e10, "energy_per_unit": 4.0e-10},
        "edge_servers": [
            {
                "name": "rtx3090",
                "speed": 3.5e13,
                "energy_per_unit": 1.0e-11,
                "cloud_rate_bps": 1.0e9,
                "cloud_energy_per_bit": 1.0e-9,
                "bandwidth_hz": 2.0e7,
                "snr": 3.0,
                "device_energy_per_bit": 5.0e-8,
            }
        ],
        "models": [
            {
                "name": "lenet",
                "loss": 0.0186,
                "update_compute": 1.0e9,
                "variants": [
                    {
                        "bits": 8,
                        "quantize_time_s": 2.0,
                        "quantize_energy_j": 300.0,
                        "layers": [
                            {
                                "compute": 1.0e9,
                                "size_bits": 1.0e5,
                                "infer_compute": 1.0e6,
                                "output_bits": 8.0e3,
                            },
                            {
                                "compute": 2.0e9,
                                "size_bits": 2.0e5,
                                "infer_compute": 2.0e6,
                                "output_bits": 4.0e3,
                            },
                            {
                                "compute": 3.0e9,
                                "size_bits": 3.0e5,
                                "infer_compute": 3.0e6,
                                "output_bits": 80.0,
                            },
                        ],
                        "partitions": [1, 2],
                        "loss_jump": {"expected": 0.004, "robust": 0.005},
                        "epoch_loss_delta": {"expected": -1.0e-4, "robust": -8.0e-5},
                        "epochs": {"expected": 3, "robust": 4},
                    }
                ],
            }
        ],
    }
