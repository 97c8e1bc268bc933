"""Collaborative inference cost per sample (paper 004, Fig. 9-10): the device alone vs device + ES_x.

With the plan's variant M_(a,q) split at partition j, one sample costs, on the device alone,
``Σ_i c^i / v_y`` seconds and ``Σ_i c^i·ε_y`` joules (``c^i``: the block's per-sample inference work,
``infer_compute``); with edge server ES_x the device runs blocks 1..j, sends the block-j output
(``output_bits``) over the wireless link (``v_(x,y) = b·log2(1+σ)``, ``ε_(x,y)`` J/bit) and the server
runs blocks j+1..n:

``latency = Σ_{i<=j} c^i/v_y + o^j/v_(x,y) + Σ_{i>j} c^i/v_x``,
``energy  = Σ_{i<=j} c^i·ε_y + o^j·ε_(x,y) + Σ_{i>j} c^i·ε_x``.

The model's raw input is not sent for ``j = 0`` (the paper's partition point 0 keeps the data at the
device's side of the link; its size is not in the instance), and the result returned to the device
is neglected, as in Eq. 9.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from edgetune.errors import InputError
from edgetune.planner.cost import device_link_rate_bps
from edgetune.planner.instance import Instance, Model, Variant
from edgetune.planner.plan import Plan

__all__ = ["InferenceCost", "collaborative_inference", "plan_inference"]


@dataclass(frozen=True)
class InferenceCost:
    """Per-batch inference cost of one setup.

    Attributes
    ----------
    setup : str
        ``"pi5"`` (device alone) or ``"pi5+rtx3090"`` (device + server).
    partition : int
        Blocks 1..partition on the device (n for the device alone).
    device_s, transfer_s, server_s : float
        Latency components, seconds.
    latency_s, energy_j : float
        Totals for ``samples`` samples.
    """

    setup: str
    partition: int
    device_s: float
    transfer_s: float
    server_s: float
    latency_s: float
    energy_j: float

    def to_json(self) -> dict[str, object]:
        """Plain-JSON form."""
        return dict(self.__dict__)


def _find(inst: Instance, model_name: str, bits: int) -> tuple[int, Model, int, Variant]:
    for a, model in enumerate(inst.models):
        if model.name == model_name:
            for q, var in enumerate(model.variants):
                if var.bits == bits:
                    return a, model, q, var
            raise InputError("bits", bits, f"model {model_name!r} has no {bits}-bit variant")
    raise InputError("model", model_name, "no such model in the instance")


def collaborative_inference(
    inst: Instance, model_name: str, bits: int, partition: int, samples: int = 1
) -> list[InferenceCost]:
    """Inference cost of ``samples`` samples: the device alone, then device + each edge server.

    Raises
    ------
    InputError
        A layer without ``infer_compute`` / ``output_bits``, an unknown model/bit-width, or a partition
        outside ``0..n``.
    """
    a, _model, q, var = _find(inst, model_name, bits)
    n = len(var.layers)
    if not 0 <= partition <= n:
        raise InputError("partition", partition, f"must be in 0..{n}")
    if samples < 1:
        raise InputError("samples", samples, "must be >= 1")
    work: list[float] = []
    for i, layer in enumerate(var.layers):
        if layer.infer_compute is None:
            raise InputError(f"models[{a}].variants[{q}].layers[{i}].infer_compute", None, "needed for inference")
        work.append(layer.infer_compute)
    out_bits = 0.0
    if 1 <= partition < n:
        layer = var.layers[partition - 1]
        if layer.output_bits is None:
            raise InputError(
                f"models[{a}].variants[{q}].layers[{partition - 1}].output_bits", None, "needed for inference"
            )
        out_bits = layer.output_bits
    dev = inst.device
    total = math.fsum(work)
    rows = [
        InferenceCost(
            dev.name,
            n,
            samples * total / dev.speed,
            0.0,
            0.0,
            samples * total / dev.speed,
            samples * total * dev.energy_per_unit,
        )
    ]
    head, tail = math.fsum(work[:partition]), math.fsum(work[partition:])
    for srv in inst.edge_servers:
        dev_s = samples * head / dev.speed
        tr_s = samples * out_bits / device_link_rate_bps(srv)
        srv_s = samples * tail / srv.speed
        energy = samples * (
            head * dev.energy_per_unit + out_bits * srv.device_energy_per_bit + tail * srv.energy_per_unit
        )
        rows.append(
            InferenceCost(f"{dev.name}+{srv.name}", partition, dev_s, tr_s, srv_s, dev_s + tr_s + srv_s, energy)
        )
    return rows


def plan_inference(inst: Instance, plan: Plan, samples: int = 1) -> list[InferenceCost]:
    """:func:`collaborative_inference` for a plan's model and bit-width at its most used partition."""
    if not plan.feasible or plan.model is None or plan.bits is None or not plan.schedule:
        raise InputError("plan", plan.method, "an infeasible plan has no model to run inference with")
    partition = Counter(e.partition for e in plan.schedule).most_common(1)[0][0]
    return collaborative_inference(inst, plan.model, plan.bits, partition, samples)
