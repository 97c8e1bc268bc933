"""Issue 16, class 2: property tests that build their inputs from the schemas.

The numeric fields are enumerated from the pydantic models (fleet file, planner instance) and from the
run-spec dataclasses (every section, every engine's config), so a field added later is fuzzed without
touching this file. Each field gets hostile values (NaN, ±inf, 1e308, denormals, negative, zero, huge
integers, booleans, strings, None, lists); the schema must either accept the value, leaving a
document whose numbers are finite and JSON-safe, or refuse it with one :class:`InputError` line.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from edgetune.errors import InputError
from edgetune.fleet.schema import Fleet, fleet_from_dict
from edgetune.planner.estimates import variant_estimate
from edgetune.planner.instance import Instance, instance_from_mapping
from edgetune.runs.spec import LIMITS, MAX_MAGNITUDE, SECTIONS, engine_config_class, spec_from_dict
from tests.fuzz.inputs_fixtures import fleet_doc, instance_doc

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE = st.one_of(
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            1e308,
            -1e308,
            5e-324,
            -5e-324,
            0,
            0.0,
            -1,
            -1.0,
            10**30,
            -(10**30),
            2**63,
            True,
            False,
            None,
            "1",
            "x",
            [],
            {},
            1e-300,
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**40), max_value=10**40),
)


def _numeric(tp: Any) -> bool:
    """Whether annotation ``tp`` is (an optional / annotated) int or float."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return any(_numeric(a) for a in typing.get_args(tp) if a is not type(None))
    return tp in (int, float)


def _model_of(tp: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``tp`` (``X``, ``X | None``, ``list[X]``, ``tuple[X, ...]``)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def model_paths(model: type[BaseModel], doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths (keys and list indices) of every numeric field of ``model`` reachable in ``doc``.

    Optional fields absent from ``doc`` are included too (setting them exercises their bounds).
    """
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        if _numeric(info.annotation):
            yield path
            continue
        sub = _model_of(info.annotation)
        value = doc.get(name) if isinstance(doc, dict) else None
        if sub is None or value is None:
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from model_paths(sub, item, (*path, i))
        else:
            yield from model_paths(sub, value, path)


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def _assert_finite_json(obj: Any) -> None:
    json.dumps(obj, allow_nan=False)  # raises on inf/nan anywhere


FLEET_DOC = fleet_doc(4)
FLEET_PATHS = sorted(set(model_paths(Fleet, FLEET_DOC)), key=str)
INSTANCE_DOC = instance_doc()
INSTANCE_PATHS = sorted(set(model_paths(Instance, INSTANCE_DOC)), key=str)


def test_paths_cover_the_schemas() -> None:
    """The enumeration reaches every numeric field of every model (so new fields are fuzzed)."""
    leaf_names = {p[-1] for p in FLEET_PATHS}
    assert {"compute", "bandwidth_mbps", "delay_ms", "loss_pct", "busy_power_w", "idle_power_w", "id", "seed"} <= (
        leaf_names
    )
    inst_names = {p[-1] for p in INSTANCE_PATHS}
    assert {"speed", "snr", "t_max_s", "l_max", "bits", "samples_per_epoch", "input_bits", "output_bits"} <= inst_names


@SETTINGS
@given(path=st.sampled_from(FLEET_PATHS), value=HOSTILE)
def test_fleet_fields(path: tuple[Any, ...], value: Any) -> None:
    """Every numeric field of a fleet file: accepted and finite, or one InputError line naming it."""
    doc = _set(FLEET_DOC, path, value)
    try:
        fleet = fleet_from_dict(doc, source="f.yaml")
    except InputError as exc:
        assert "\n" not in str(exc)
        assert str(path[-1]) in exc.field or exc.field.startswith("f.yaml"), exc.field
        return
    _assert_finite_json(fleet.model_dump(mode="json"))
    assert not isinstance(value, bool | str)  # strict: never coerced


@SETTINGS
@given(path=st.sampled_from(INSTANCE_PATHS), value=HOSTILE)
def test_instance_fields(path: tuple[Any, ...], value: Any) -> None:
    """Every numeric field of a planner instance: accepted (and its estimates finish), or one line."""
    doc = _set(INSTANCE_DOC, path, value)
    try:
        inst = instance_from_mapping(doc, source="i.yaml")
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert not isinstance(value, bool | str)
    for model in inst.models:
        for var in model.variants:
            for flavour in ("expected", "robust"):
                variant_estimate(model, var, inst.l_max, flavour)  # closed form: always finishes


@SETTINGS
@given(
    delta=st.floats(min_value=-1.0, max_value=0.0, allow_subnormal=True),
    jump=st.floats(min_value=0.0, max_value=10.0),
    l_max=st.floats(min_value=-10.0, max_value=10.0),
)
def test_least_epochs_terminates(delta: float, jump: float, l_max: float) -> None:
    """Any per-epoch loss change, however tiny, gives a bounded K or 'unreachable' (never a spin)."""
    doc = copy.deepcopy(INSTANCE_DOC)
    doc["l_max"] = l_max
    var = doc["models"][0]["variants"][0]
    var["epoch_loss_delta"] = {"expected": delta, "robust": delta}
    var["loss_jump"] = {"expected": jump, "robust": jump}
    try:
        inst = instance_from_mapping(doc)
    except InputError:
        return
    est = variant_estimate(inst.models[0], inst.models[0].variants[0], inst.l_max, "expected")
    assert est.epochs is None or 1 <= est.epochs <= 1_000_000


# ------------------------------------------------------------------------------------------ run spec
def spec_fields() -> list[tuple[str, Any]]:
    """(dotted key, annotation) of every numeric setting of every section and engine config."""
    out: list[tuple[str, Any]] = []

    def walk(cls: type[Any], prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            tp = hints[f.name]
            key = f"{prefix}.{f.name}"
            if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                walk(tp, key)
            elif _numeric(tp) or (typing.get_origin(tp) is tuple and _numeric(typing.get_args(tp)[0])):
                out.append((key, tp))

    for name, cls in SECTIONS.items():
        walk(cls, name)
    for engine in ("simulated", "inprocess", "flower"):
        walk(engine_config_class(engine), engine)
    return out


SPEC_FIELDS = spec_fields()


def test_every_int_setting_has_a_declared_limit() -> None:
    """Work a spec can ask for is bounded: every integer setting is in LIMITS (floats get the generic bound)."""
    ints = [key for key, tp in SPEC_FIELDS if tp is int]
    assert len(ints) >= 10
    missing = [key for key in ints if key not in LIMITS]
    assert not missing, f"add these integer settings to runs.spec.LIMITS: {missing}"


def _doc(key: str, value: Any) -> dict[str, Any]:
    section, *rest = key.split(".")
    doc: dict[str, Any] = {}
    if section in ("inprocess", "flower"):
        doc["run"] = {"engine": section}
    node = doc.setdefault(section, {})
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    node[rest[-1]] = value
    return doc


@SETTINGS
@given(field=st.sampled_from(SPEC_FIELDS), value=HOSTILE)
@example(field=("network.variation.max_period_s", float), value=5e-324)  # CI: the error names min_period_s
def test_spec_fields(field: tuple[str, Any], value: Any) -> None:
    """Every numeric run-spec setting: accepted within its bounds and finite, or one InputError naming the key."""
    key, tp = field
    if typing.get_origin(tp) is tuple:
        value = [value] * 5
    try:
        spec = spec_from_dict(_doc(key, value))
    except InputError as exc:
        assert "\n" not in str(exc)
        # the key itself, or (a constraint across fields, e.g. min_period_s <= max_period_s) its section
        section = key.rsplit(".", 1)[0]
        named = exc.field.split("[")[0]
        assert named in (key, section) or named.startswith((key, section + ".")), (exc.field, key)
        return
    assert not isinstance(value, bool | str | type(None))
    for v in value if isinstance(value, list) else [value]:
        assert math.isfinite(v)
        lo, hi = LIMITS.get(key, (-MAX_MAGNITUDE, MAX_MAGNITUDE))
        assert lo <= v <= hi
    _assert_finite_json(spec.to_dict())


@pytest.mark.parametrize(("key", "tp"), SPEC_FIELDS, ids=[k for k, _ in SPEC_FIELDS])
@pytest.mark.parametrize("value", [math.nan, math.inf, 1e308, True, "x", 10**30], ids=str)
def test_spec_fields_table(key: str, tp: Any, value: Any) -> None:
    """The same, for every setting and the worst values (deterministic, so a CI run sees each once)."""
    if typing.get_origin(tp) is tuple:
        value = [value] * 5
    with pytest.raises(InputError) as info:
        spec_from_dict(_doc(key, value))
    assert "\n" not in str(info.value)
