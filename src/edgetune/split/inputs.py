"""Schemas of split fine-tuning's inputs: the record configuration, and ``finetune-split``'s plan, instance, meta.

Every number is typed, finite and ranged here, once: :func:`record_config` serves the ``profile`` /
``estimate`` flags and the meta file alike, :func:`check_execution` checks the three files of
``finetune-split`` before any work (a bad file is one :class:`~edgetune.errors.InputError` naming the
field, never a ``KeyError`` or a division by zero halfway through training). Files may carry more keys
than these schemas read (a plan has ``method``, ``timings`` ...); those are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError

from edgetune.errors import InputError, from_pydantic
from edgetune.split.config import DATA_SPECS, RecordConfig

#: Upper bounds that bound the work one file can ask for (named in the error).
MAX_EPOCHS = 1_000
MAX_IMAGES = 100_000
MAX_IMAGE_SIZE = 256
MAX_WIDTH = 4.0
MAX_SERVERS = 1_000
MAX_SEEDS = 100


def _number(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("must be a number (not a string or boolean)")
    return v


#: A finite float given as a number (no NaN/inf, no string, no boolean).
Finite = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Schema(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class RecordSchema(_Schema):
    """:class:`~edgetune.split.config.RecordConfig`, typed and ranged (unknown keys refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    width: Annotated[Finite, Field(gt=0, le=MAX_WIDTH)] = RecordConfig.width
    image_size: Annotated[StrictInt, Field(ge=8, le=MAX_IMAGE_SIZE)] = RecordConfig.image_size
    in_channels: Annotated[StrictInt, Field(ge=1, le=3)] = RecordConfig.in_channels
    data: Annotated[str, Field(pattern="^(" + "|".join(DATA_SPECS) + ")$")] = RecordConfig.data
    n_train: Annotated[StrictInt, Field(ge=1, le=MAX_IMAGES)] | None = RecordConfig.n_train
    n_val: Annotated[StrictInt, Field(ge=1, le=MAX_IMAGES)] | None = RecordConfig.n_val
    epochs: Annotated[StrictInt, Field(ge=2, le=MAX_EPOCHS)] = RecordConfig.epochs
    batch_size: Annotated[StrictInt, Field(ge=1, le=4096)] = RecordConfig.batch_size
    pretrain_images: Annotated[StrictInt, Field(ge=1, le=MAX_IMAGES)] = RecordConfig.pretrain_images
    pretrain_epochs: Annotated[StrictInt, Field(ge=1, le=100)] = RecordConfig.pretrain_epochs
    data_seed: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)] = RecordConfig.data_seed


def record_config(values: Any, source: str = "") -> RecordConfig:
    """A validated :class:`RecordConfig` from a mapping (``source`` prefixes the field in the error)."""
    try:
        return RecordConfig(**RecordSchema.model_validate(values).model_dump())
    except ValidationError as exc:
        raise from_pydantic(exc, source) from None


class StepSchema(_Schema):
    """One epoch of a plan's schedule."""

    epoch: Annotated[StrictInt, Field(ge=1, le=MAX_EPOCHS)]
    edge_server: Name
    partition: Annotated[StrictInt, Field(ge=0, le=1_000)]


class PlanSchema(_Schema):
    """What ``finetune-split`` reads of a plan (docs/planner.md's contract)."""

    feasible: bool
    reason: str | None = None
    model: Name | None = None
    bits: StrictInt | None = None
    schedule: Annotated[list[StepSchema], Field(max_length=MAX_EPOCHS)] = []
    energy_j: Finite | None = None
    time_s: Finite | None = None
    final_loss: Finite | None = None


class NodeSchema(_Schema):
    """The device or the cloud: speed (MAC/s) and energy per MAC."""

    name: Name = "device"
    speed: Annotated[Finite, Field(gt=0)]
    energy_per_unit: Annotated[Finite, Field(ge=0)]


class ServerSchema(NodeSchema):
    """An edge server and its links (the device's Wi-Fi, the cloud backhaul)."""

    name: Name
    cloud_rate_bps: Annotated[Finite, Field(gt=0)]
    cloud_energy_per_bit: Annotated[Finite, Field(ge=0)]
    bandwidth_hz: Annotated[Finite, Field(gt=0)]
    snr: Annotated[Finite, Field(gt=0)]
    device_energy_per_bit: Annotated[Finite, Field(ge=0)]


class InstanceSchema(_Schema):
    """What ``finetune-split`` reads of an instance."""

    device: NodeSchema
    cloud: NodeSchema
    edge_servers: Annotated[list[ServerSchema], Field(min_length=1, max_length=MAX_SERVERS)]
    l_max: Finite | None = None


class MetaSchema(_Schema):
    """What ``finetune-split`` reads of an instance's meta file (written by ``profile``)."""

    record: RecordSchema
    cache_dir: Annotated[str, Field(min_length=1)]
    host_mac_per_s: Annotated[dict[Name, Annotated[Finite, Field(gt=0)]], Field(min_length=1)]


def _validate(schema: type[BaseModel], data: Any, source: str) -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = from_pydantic(exc)
        if err.field == "<root>":
            raise InputError(source, type(data).__name__, err.reason) from None
        raise InputError(f"{source}.{err.field}", err.value, err.reason) from None


def check_execution(plan: Any, instance: Any, meta: Any) -> tuple[PlanSchema, InstanceSchema, MetaSchema, RecordConfig]:
    """Validate ``finetune-split``'s three files together; raise :class:`InputError` naming the first bad field."""
    from edgetune.split.models import model_names
    from edgetune.split.quant import check_bits

    p = _validate(PlanSchema, plan, "plan")
    if not p.feasible:
        raise InputError("plan.feasible", False, f"nothing to execute ({p.reason})")
    inst = _validate(InstanceSchema, instance, "instance")
    m = _validate(MetaSchema, meta, "meta")
    if p.model is None or p.bits is None:
        raise InputError("plan.model" if p.model is None else "plan.bits", None, "a feasible plan names both")
    if not p.schedule:
        raise InputError("plan.schedule", [], "a feasible plan needs a schedule of at least one epoch")
    epochs = [s.epoch for s in p.schedule]
    if sorted(epochs) != list(range(1, len(epochs) + 1)):
        raise InputError("plan.schedule", epochs, "the epochs must be 1..K, each once")
    names = [s.name for s in inst.edge_servers]
    if len(set(names)) != len(names):
        raise InputError("instance.edge_servers", names, "edge server names must be unique")
    if p.model not in model_names():
        raise InputError("plan.model", p.model, f"unknown model (known: {', '.join(model_names())})")
    check_bits(p.bits, "plan.bits")
    if p.model not in m.host_mac_per_s:
        raise InputError("plan.model", p.model, "not profiled in this instance's meta")
    servers = {s.name for s in inst.edge_servers}
    for i, step in enumerate(sorted(p.schedule, key=lambda s: s.epoch)):
        if step.edge_server not in servers:
            raise InputError(
                f"plan.schedule[{i}].edge_server", step.edge_server, f"not in the instance {sorted(servers)}"
            )
    return p, inst, m, RecordConfig(**m.record.model_dump())
