"""Fleet files: round trip and validation errors that name the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from edgetune.errors import InputError
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import load_fleet, save_fleet


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
