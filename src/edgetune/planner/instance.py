"""Schema of a JQODI planning instance (paper 004, Section III, Table I).

An instance file (YAML or JSON) describes one end device ``SD_y``, the edge servers ``ES_x``, the
cloud ``CS`` and the candidate models ``M_a`` with their quantized variants ``M_(a,q)``. The field
names are a contract (issue 4); every numeric field states its unit.

Units
-----
* compute: abstract *compute units* (the scenarios use FLOPs); speeds in units/s; per-unit
  energies in J/unit.
* sizes in bits; rates in bits/s; per-bit energies in J/bit; bandwidth in Hz; SNR as a linear ratio.
* times in seconds, energies in joules, losses dimensionless.

Simple constraints are declared on the pydantic models; the cross-field rules (unique names,
partition points inside ``0..n``, robust estimates at least as pessimistic as expected ones) are
checked in one :func:`validate_instance` step. Every failure is an
:class:`edgetune.errors.InputError` naming the field path and the value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from edgetune.errors import InputError, from_pydantic
from edgetune.inputs import load_document

__all__ = [
    "Cloud",
    "Device",
    "EdgeServer",
    "EpochsEstimate",
    "Estimate",
    "Instance",
    "Layer",
    "Model",
    "Variant",
    "instance_from_mapping",
    "load_instance",
    "validate_instance",
]


#: Bounds of every number of an instance, declared once. Numbers are finite (``loss_jump`` may be ``.inf``),
#: strictly typed (a boolean is not a number), at most :data:`MAX_MAGNITUDE` in size, and a quantity that must
#: be positive (a speed, a rate, a bandwidth) is at least :data:`MIN_POSITIVE`, so that no ratio or product
#: of two fields overflows to infinity (1e30 / 1e-30 = 1e60).
MAX_MAGNITUDE = 1e30
MIN_POSITIVE = 1e-30
#: Most epochs an estimate may ask for (``epochs`` and the least-K rule of Eq. 12).
MAX_EPOCHS = 1_000_000
#: Most blocks of one model variant (and so the largest partition point).
MAX_LAYERS = 100_000

Positive = Annotated[float, Field(strict=True, ge=MIN_POSITIVE, le=MAX_MAGNITUDE)]
NonNegative = Annotated[float, Field(strict=True, ge=0, le=MAX_MAGNITUDE)]
Real = Annotated[float, Field(strict=True, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
Epochs = Annotated[int, Field(strict=True, ge=1, le=MAX_EPOCHS)]
Bits = Annotated[int, Field(strict=True, ge=1, le=32)]
PartitionPoint = Annotated[int, Field(strict=True, ge=0, le=MAX_LAYERS)]


def _jump_bounded(value: float) -> float:
    if math.isfinite(value) and value > MAX_MAGNITUDE:
        raise ValueError(f"a finite loss jump must be <= {MAX_MAGNITUDE:g} (.inf = cannot reach L_max)")
    return value


JumpValue = Annotated[float, Field(strict=True, ge=0), AfterValidator(_jump_bounded)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Cloud(_Strict):
    """The cloud server CS."""

    speed: Positive = Field(description="v_c: processing speed in compute units/s.")
    energy_per_unit: NonNegative = Field(description="ε_c: energy per compute unit in J/unit.")


class Device(_Strict):
    """The end device SD_y that fine-tunes the shallow layers."""

    name: str = Field(min_length=1, description="Device name, e.g. ``pi5``.")
    speed: Positive = Field(description="v_y: processing speed in compute units/s.")
    energy_per_unit: NonNegative = Field(description="ε_y: energy per compute unit in J/unit.")


class EdgeServer(_Strict):
    """An edge server ES_x (also the base station of the device's wireless link)."""

    name: str = Field(min_length=1, description="Server name, unique in the instance.")
    speed: Positive = Field(description="v_x: processing speed in compute units/s.")
    energy_per_unit: NonNegative = Field(description="ε_x: energy per compute unit in J/unit.")
    cloud_rate_bps: Positive = Field(description="v_(c,x): cloud<->server rate in bits/s.")
    cloud_energy_per_bit: NonNegative = Field(description="ε_(c,x): cloud<->server energy in J/bit.")
    bandwidth_hz: Positive = Field(description="b_(x,y): wireless bandwidth to the device in Hz.")
    snr: Positive = Field(description="σ: signal-to-noise ratio (linear); v_(x,y) = b·log2(1+σ).")
    device_energy_per_bit: NonNegative = Field(description="ε_(x,y): server<->device energy in J/bit.")


class Layer(_Strict):
    """Layer/block ``i`` of a quantized model M_(a,q)."""

    compute: NonNegative = Field(description="d^i: fine-tuning work of the block per epoch, compute units.")
    size_bits: NonNegative = Field(description="g^i: size of the block's parameters in bits.")
    name: str | None = Field(default=None, description="Optional label, e.g. ``64C3-MP2``.")
    infer_compute: NonNegative | None = Field(
        default=None, description="Per-sample inference work of the block, compute units (Fig. 9)."
    )
    output_bits: NonNegative | None = Field(
        default=None,
        description=(
            "Per-sample size of the block's output activations in bits, as sent over the device link "
            "(Fig. 9; with ``samples_per_epoch`` also the activation traffic of Eq. 9a-10a)."
        ),
    )
    output_grad_bits: NonNegative | None = Field(
        default=None,
        description=(
            "Per-sample size in bits of the loss gradient w.r.t. the block's output, sent back to the device "
            "in split training (Eq. 9a-10a); default ``output_bits`` (e.g. float32 gradients of b-bit "
            "activations: 32 x elements)."
        ),
    )


class Estimate(_Strict):
    """A pair of estimator outputs: the expected value and the robust (pessimistic) one."""

    expected: Real = Field(description="Expected-value estimator.")
    robust: Real = Field(description="Robust-value estimator (at least as pessimistic).")


class LossJump(_Strict):
    """γ_(a,q): loss increase caused by quantizing M_a into M_(a,q); ``.inf`` = cannot reach L_max."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=True)

    expected: JumpValue = Field(description="γ̂_exp (dimensionless loss).")
    robust: JumpValue = Field(description="γ̂_rob (dimensionless loss), >= expected.")


class EpochsEstimate(_Strict):
    """K̂_(a,q): epochs needed to reach L_max."""

    expected: Epochs = Field(description="K̂_exp (epochs).")
    robust: Epochs = Field(description="K̂_rob (epochs), >= expected.")


class Variant(_Strict):
    """A quantized variant M_(a,q) of a model (``bits == 32``: full precision)."""

    bits: Bits = Field(description="π_q: bit-width (32 = full precision, 1 = Minimal Model's).")
    quantize_time_s: NonNegative = Field(description="τ_(a,q): time to quantize M_a on the cloud, s.")
    quantize_energy_j: NonNegative = Field(description="ε_(a,q): energy to quantize M_a on the cloud, J.")
    layers: tuple[Layer, ...] = Field(
        min_length=1, max_length=MAX_LAYERS, description="The n blocks of M_(a,q), in order."
    )
    partitions: tuple[PartitionPoint, ...] | None = Field(
        default=None, description="Allowed partition points j (blocks 1..j on the device); default 1..n-1."
    )
    loss_jump: LossJump = Field(description="γ_(a,q) estimators.")
    epoch_loss_delta: Estimate = Field(
        description="ℓ = γ_update + γ_run per epoch (Eq. 11), estimators; negative when the loss falls."
    )
    epochs: EpochsEstimate | None = Field(
        default=None, description="K̂ estimators; if absent: the least K with L_a + γ + K·ℓ < L_max."
    )
    input_bits: NonNegative | None = Field(
        default=None,
        description=(
            "Per-sample size of one raw input in bits: what the device sends at partition 0 when the "
            "activation traffic of Eq. 9a-10a is modelled (needed only then)."
        ),
    )

    def partition_points(self) -> tuple[int, ...]:
        """The allowed partition points, defaulting to ``1..n-1``."""
        if self.partitions is not None:
            return self.partitions
        return tuple(range(1, len(self.layers)))


class Model(_Strict):
    """A candidate model M_a = {L_a, F_a} with its variants."""

    name: str = Field(min_length=1, description="Model name, unique in the instance.")
    loss: Real = Field(description="L_a: loss of the pre-trained full-precision model (dimensionless).")
    update_compute: NonNegative = Field(
        description="F_a: the cloud's per-epoch work updating the full-precision model, compute units."
    )
    variants: tuple[Variant, ...] = Field(min_length=1, description="The quantized variants M_(a,q).")


class Instance(_Strict):
    """A whole planning instance."""

    t_max_s: Positive = Field(description="T_max: deadline of the fine-tuning, s.")
    l_max: Real = Field(description="L_max: target loss (dimensionless).")
    cloud: Cloud
    device: Device
    edge_servers: tuple[EdgeServer, ...] = Field(min_length=1)
    models: tuple[Model, ...] = Field(min_length=1)
    name: str | None = Field(default=None, description="Optional instance name.")
    description: str | None = Field(default=None, description="Optional free text (sources, assumptions).")
    samples_per_epoch: NonNegative | None = Field(
        default=None,
        description=(
            "edgetune extension: device training samples per epoch. When present, every epoch also moves "
            "each sample's partition activations device -> edge and their gradients back (Eq. 9a-10a); "
            "absent = the paper's Eq. 9-10 exactly."
        ),
    )
    eval_samples_per_epoch: NonNegative | None = Field(
        default=None,
        description=(
            "edgetune extension: device samples per epoch that only cross forward (the epoch's split "
            "inference pass on the validation set); needs ``samples_per_epoch``; default 0."
        ),
    )

    @property
    def has_activation_traffic(self) -> bool:
        """Whether the activation traffic of Eq. 9a-10a is part of the cost (``samples_per_epoch`` set)."""
        return self.samples_per_epoch is not None


def _check_unique(names: list[str], field: str, prefix: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise InputError(f"{prefix}{field}[{i}].name", name, "duplicate name")
        seen.add(name)


def _check_activation_sizes(var: Variant, path: str) -> None:
    """With ``samples_per_epoch`` every allowed partition needs the size of what crosses it."""
    n = len(var.layers)
    for j in var.partition_points():
        if j == 0 and var.input_bits is None:
            raise InputError(f"{path}.input_bits", None, "needed for partition 0 when samples_per_epoch is set")
        if 0 < j < n and var.layers[j - 1].output_bits is None:
            raise InputError(
                f"{path}.layers[{j - 1}].output_bits", None, f"needed for partition {j} when samples_per_epoch is set"
            )


def validate_instance(inst: Instance, source: str = "") -> Instance:
    """Check the cross-field rules of an instance; returns it unchanged.

    Raises
    ------
    InputError
        Duplicate server/model names or bit-widths, partition points outside ``0..n`` (or an empty
        default set for a one-block model), robust estimates less pessimistic than expected ones, or
        (with ``samples_per_epoch``) an allowed partition without the size of what crosses it
        (``layers[j-1].output_bits``, or ``input_bits`` for j = 0). Field paths are prefixed with
        ``source: `` when given.
    """
    prefix = f"{source}: " if source else ""
    if inst.eval_samples_per_epoch is not None and inst.samples_per_epoch is None:
        raise InputError(
            f"{prefix}eval_samples_per_epoch", inst.eval_samples_per_epoch, "needs samples_per_epoch as well"
        )
    _check_unique([s.name for s in inst.edge_servers], "edge_servers", prefix)
    _check_unique([m.name for m in inst.models], "models", prefix)
    for a, model in enumerate(inst.models):
        seen_bits: set[int] = set()
        for q, var in enumerate(model.variants):
            path = f"{prefix}models[{a}].variants[{q}]"
            if var.bits in seen_bits:
                raise InputError(f"{path}.bits", var.bits, "duplicate bit-width for this model")
            seen_bits.add(var.bits)
            n = len(var.layers)
            if var.partitions is None:
                if n < 2:
                    raise InputError(f"{path}.partitions", None, "a one-block model needs explicit partitions")
            else:
                if len(var.partitions) == 0:
                    raise InputError(f"{path}.partitions", [], "at least one partition point is needed")
                if len(set(var.partitions)) != len(var.partitions):
                    raise InputError(f"{path}.partitions", list(var.partitions), "duplicate partition point")
                for i, j in enumerate(var.partitions):
                    if not 0 <= j <= n:
                        raise InputError(f"{path}.partitions[{i}]", j, f"must be in 0..{n} (the model has {n} blocks)")
            if inst.has_activation_traffic:
                _check_activation_sizes(var, path)
            lj = var.loss_jump
            if math.isnan(lj.expected) or math.isnan(lj.robust):
                raise InputError(f"{path}.loss_jump", lj.model_dump(), "NaN is not a loss jump")
            if lj.robust < lj.expected:
                raise InputError(f"{path}.loss_jump.robust", lj.robust, "must be >= loss_jump.expected")
            dl = var.epoch_loss_delta
            if dl.robust < dl.expected:
                raise InputError(f"{path}.epoch_loss_delta.robust", dl.robust, "must be >= epoch_loss_delta.expected")
            if var.epochs is not None and var.epochs.robust < var.epochs.expected:
                raise InputError(f"{path}.epochs.robust", var.epochs.robust, "must be >= epochs.expected")
    return inst


def instance_from_mapping(data: Any, source: str = "") -> Instance:
    """Build and validate an :class:`Instance` from parsed YAML/JSON.

    Parameters
    ----------
    data : Any
        The parsed document (must be a mapping).
    source : str
        Prefix for error messages (e.g. the file name).

    Raises
    ------
    InputError
        Naming the first offending field path and value.
    """
    if not isinstance(data, Mapping):
        prefix = f"{source}: " if source else ""
        raise InputError(prefix + "<root>", type(data).__name__, "an instance must be a mapping")
    try:
        inst = Instance.model_validate(dict(data))
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None
    return validate_instance(inst, source)


def load_instance(path: str | os.PathLike[str]) -> Instance:
    """Read an instance from a YAML or JSON file.

    Raises
    ------
    InputError
        Missing/unreadable file, a parse error, or a schema violation (field path and value).
    """
    p = Path(path)
    data = load_document(p, "instance", allow_inf=True)  # bounded reader; .inf is a valid loss jump
    return instance_from_mapping(data, source=p.name)
