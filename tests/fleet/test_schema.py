"""Fleet files: round trip and validation errors that name the field."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgetune.errors import InputError
from edgetune.fleet.generate import GeneratorConfig, generate_fleet
from edgetune.fleet.schema import Fleet, fleet_from_dict, load_fleet, save_fleet
from edgetune.network.model import Topology


def _doc() -> dict:
    fleet = generate_fleet(6, "normal", np.random.default_rng(1))
    return fleet.model_dump(mode="json", exclude_none=True)


def test_round_trip(tmp_path: Path) -> None:
    fleet = generate_fleet(6, "normal", np.random.default_rng(1))
    fleet.node(3)  # fills the id cache; it must not leak into the file
    path = save_fleet(fleet, tmp_path / "f.yaml")
    assert "_node_cache" not in path.read_text()
    assert load_fleet(path) == fleet


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["nodes"][2]["link"].__setitem__("bandwidth_mbps", -5), "nodes[2].link.bandwidth_mbps"),
        (lambda d: d["nodes"][0].__setitem__("compute", "fast"), "nodes[0].compute"),
        (lambda d: d["nodes"][1]["link"].pop("delay_ms"), "nodes[1].link.delay_ms"),
        (lambda d: d.pop("orchestrator"), "orchestrator"),
        (lambda d: d["nodes"][0].__setitem__("color", "red"), "nodes[0].color"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    doc = _doc()
    mutate(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as exc:
        load_fleet(path)
    assert exc.value.field == f"bad.yaml: {field}"


def test_unknown_gateway_and_malformed_yaml(tmp_path: Path) -> None:
    doc = _doc()
    doc["nodes"][0]["gateway"] = "gw99"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match="gw99"):
        load_fleet(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("nodes: [1, 2\n")
    with pytest.raises(InputError, match="malformed YAML"):
        load_fleet(tmp_path / "b.yaml")
    with pytest.raises(InputError, match="--fleet"):
        load_fleet(tmp_path / "missing.yaml")


def test_arrays_are_the_node_columns_in_file_order() -> None:
    fleet = generate_fleet(5, "normal", np.random.default_rng(3))
    cols = fleet.arrays()
    assert cols is fleet.arrays()  # cached
    assert cols.ids.tolist() == [n.id for n in fleet.nodes]
    assert cols.compute.tolist() == [n.compute for n in fleet.nodes]
    assert cols.busy_power_w.tolist() == [n.busy_power_w for n in fleet.nodes]
    assert cols.positions([fleet.nodes[3].id, fleet.nodes[0].id]).tolist() == [3, 0]
    with pytest.raises(KeyError):
        cols.positions([10**9])
    with pytest.raises(ValueError):
        cols.compute[0] = 1.0  # read-only: shared by every reader


# -- fleets built from columns (issue 17) --------------------------------------------------------------
def _both(n: int = 9, seed: int = 5) -> tuple[Fleet, Fleet]:
    """The same fleet built from columns (lazy) and validated node by node from its document."""
    lazy = generate_fleet(n, "prolific", np.random.default_rng(seed), GeneratorConfig(nodes_per_gateway=2), seed=seed)
    doc = lazy.model_dump(mode="json", exclude_none=True)  # builds the nodes of a copy below, not of `lazy`
    return generate_fleet(
        n, "prolific", np.random.default_rng(seed), GeneratorConfig(nodes_per_gateway=2), seed=seed
    ), fleet_from_dict(doc)


def test_a_columnar_fleet_builds_no_nodes_for_columns_and_topology() -> None:
    lazy, _ = _both()
    assert lazy.n_nodes == 9 and lazy.n_gateways == 5
    assert lazy.node_ids == list(range(9))
    Topology.from_fleet(lazy)
    lazy.arrays().positions([3])
    assert lazy.node(4).id == 4
    assert "nodes" not in lazy.__dict__ and "switches" not in lazy.__dict__  # still lazy
    assert len(lazy.nodes) == 9 and "nodes" in lazy.__dict__  # built on first read


def test_lazy_construction_equals_validated_construction(tmp_path: Path) -> None:
    lazy, validated = _both()
    assert lazy.model_dump() == validated.model_dump()
    assert lazy.model_dump_json() == validated.model_dump_json()
    from_npz, from_json = (
        load_fleet(save_fleet(lazy, tmp_path / "f.npz")),
        load_fleet(save_fleet(lazy, tmp_path / "f.json")),
    )
    assert "nodes" not in from_npz.__dict__
    assert from_npz.model_dump(exclude_unset=True) == from_json.model_dump(exclude_unset=True)
    assert lazy == validated and validated == lazy
    assert repr(lazy) == repr(validated)
    assert dict(lazy) == dict(validated)
    for a, b in zip(lazy.nodes, validated.nodes, strict=True):
        assert a == b and a.model_fields_set == b.model_fields_set
        assert type(a.id) is int and type(a.compute) is float and type(a.link.delay_ms) is float
    for s, t in zip(lazy.switches, validated.switches, strict=True):
        assert s == t and s.model_fields_set == t.model_fields_set


def test_lazy_fleet_node_lookup_views_and_copies() -> None:
    lazy, validated = _both()
    for node_id in (0, 8, 3):
        assert lazy.node(node_id) == validated.node(node_id)
    with pytest.raises(KeyError):
        lazy.node(99)
    for name in ("ids", "compute", "idle_power_w", "busy_power_w", "radio_j_per_mb"):
        assert getattr(lazy.arrays(), name).tolist() == getattr(validated.arrays(), name).tolist()
    a, b = Topology.from_fleet(lazy), Topology.from_fleet(validated)
    for f in dataclasses.fields(a):
        assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name
    assert pickle.loads(pickle.dumps(_both()[0])) == validated
    assert copy.deepcopy(_both()[0]) == validated
    fewer = _both()[0].model_copy(update={"nodes": validated.nodes[:2]})
    assert fewer.n_nodes == 2 and fewer.arrays().ids.tolist() == [0, 1]  # the update drops the cached columns


def test_a_validated_fleet_has_the_same_columns() -> None:
    lazy, validated = _both()
    for name, col in lazy.columns().as_dict().items():
        assert np.array_equal(col, getattr(validated.columns(), name)), name
    assert validated.columns() is validated.columns()
