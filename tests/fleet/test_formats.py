"""Fleet file formats (issue 17): YAML, JSON and columnar npz round-trip the same fleet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgetune.errors import InputError
from edgetune.fleet.formats import fleet_format, read_document
from edgetune.fleet.generate import generate_fleet
from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec, load_fleet, save_fleet


def odd_fleet() -> Fleet:
    """Non-default names, a gateway declared before the aggregation switch, ids out of order."""
    return Fleet(
        setup="custom",
        seed=2**63 - 1,
        orchestrator=OrchestratorSpec(name="srv", switch="agg", link=LinkSpec(bandwidth_mbps=1e3, delay_ms=0.25)),
        switches=[
            SwitchSpec(id="g1", kind="gateway", parent="agg", uplink=LinkSpec(bandwidth_mbps=0.1 + 0.2, delay_ms=1)),
            SwitchSpec(id="agg", kind="aggregation"),
        ],
        nodes=[
            NodeSpec(id=9, compute=1e-3, gateway="g1", link=LinkSpec(bandwidth_mbps=1 / 3, delay_ms=0.0)),
            NodeSpec(
                id=2,
                name="b ü",
                compute=30.5,
                idle_power_w=0,
                gateway="g1",
                link=LinkSpec(bandwidth_mbps=5, delay_ms=7.5, loss_pct=99.9),
            ),
        ],
    )


@pytest.mark.parametrize("make", [odd_fleet, lambda: generate_fleet(100, "limited", np.random.default_rng(4), seed=4)])
@pytest.mark.parametrize("suffix", [".yaml", ".json", ".npz"])
def test_round_trip_is_identical(tmp_path: Path, suffix: str, make: object) -> None:
    fleet = make()  # type: ignore[operator]
    path = save_fleet(fleet, tmp_path / f"fleet{suffix}")
    assert fleet_format(path) == suffix[1:]
    again = load_fleet(path)
    assert again == fleet
    assert again.model_dump() == fleet.model_dump()


def test_the_three_formats_hold_one_document(tmp_path: Path) -> None:
    fleet = generate_fleet(40, "normal", np.random.default_rng(1), seed=1)
    docs = [read_document(save_fleet(fleet, tmp_path / f"f{s}")) for s in (".yaml", ".json", ".npz")]
    assert docs[0] == docs[1] == docs[2] == fleet.model_dump(mode="json", exclude_none=True)


def test_yaml_goes_through_libyaml_when_present() -> None:
    from edgetune.fleet.formats import _yaml_loader

    assert _yaml_loader() is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_other_suffixes_are_yaml_as_before(tmp_path: Path) -> None:
    fleet = odd_fleet()
    path = tmp_path / "fleet.txt"
    save_fleet(fleet, path)
    assert yaml.safe_load(path.read_text()) == fleet.model_dump(mode="json", exclude_none=True)
    assert load_fleet(path) == fleet


def test_bad_npz_is_one_input_error(tmp_path: Path) -> None:
    path = tmp_path / "f.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="malformed npz"):
        load_fleet(path)
    buf = io.BytesIO()
    np.savez(buf, meta=np.asarray("{}"), node_id=np.arange(3))
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="missing arrays"):
        load_fleet(path)
    good = save_fleet(odd_fleet(), tmp_path / "g.npz")
    with np.load(good) as z:
        cols = {k: z[k] for k in z.files}
    cols["node_gateway"] = np.array([0, 7])
    buf = io.BytesIO()
    np.savez(buf, **cols)
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match=r"nodes\[1\]\.gateway=7"):  # names the node and field, as YAML does
        load_fleet(path)
    cols["node_gateway"] = np.array([0, 0])
    cols["node_link_bandwidth_mbps"] = np.array([1.0, -1.0])  # validation is the same as for YAML
    buf = io.BytesIO()
    np.savez(buf, **cols)
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="bandwidth_mbps"):
        load_fleet(path)


def test_bad_json_is_one_input_error(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text('{"nodes": [')
    with pytest.raises(InputError, match="malformed JSON"):
        load_fleet(path)


# -- npz columns are validated with numpy, against the same rules as YAML/JSON (issue 17) ------------------
def _columns_of(fleet: Fleet) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in fleet.columns().as_dict().items()}


def _write_npz(path: Path, cols: dict[str, np.ndarray], meta: str) -> Path:
    buf = io.BytesIO()
    np.savez(buf, meta=np.asarray(meta), **cols)  # type: ignore[arg-type]
    path.write_bytes(buf.getvalue())
    return path


def _error(path: Path) -> str | None:
    try:
        load_fleet(path)
    except InputError as exc:
        return str(exc).split(": ", 1)[1]  # without the file name
    return None


_FLOAT_CELLS = [
    ("node_compute", 1, "nodes[1].compute"),
    ("node_idle_power_w", 0, "nodes[0].idle_power_w"),
    ("node_busy_power_w", 1, "nodes[1].busy_power_w"),
    ("node_radio_j_per_mb", 0, "nodes[0].radio_j_per_mb"),
    ("node_link_bandwidth_mbps", 1, "nodes[1].link.bandwidth_mbps"),
    ("node_link_delay_ms", 0, "nodes[0].link.delay_ms"),
    ("node_link_loss_pct", 1, "nodes[1].link.loss_pct"),
    ("switch_uplink_bandwidth_mbps", 0, "switches[0].uplink.bandwidth_mbps"),
    ("switch_uplink_loss_pct", 0, "switches[0].uplink.loss_pct"),
]


@pytest.mark.parametrize(("column", "row", "field"), _FLOAT_CELLS)
@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), 5e-324, 100.0, 1e12])
def test_a_bad_npz_cell_names_field_and_node_as_yaml_does(
    tmp_path: Path, column: str, row: int, field: str, value: float
) -> None:
    fleet = odd_fleet()
    cols = _columns_of(fleet)
    cols[column][row] = value
    npz = _write_npz(tmp_path / "f.npz", cols, json.dumps(_meta(fleet)))
    doc = fleet.model_dump(mode="json", exclude_none=True)
    where: dict = doc["switches"][0]["uplink"] if column.startswith("switch_") else doc["nodes"][row]
    where = where["link"] if "_link_" in column else where
    where[column.split("_", 2 if column.startswith(("node_link", "switch_uplink")) else 1)[-1]] = value
    yml = tmp_path / "f.yaml"
    yml.write_text(yaml.safe_dump(doc))
    got, want = _error(npz), _error(yml)
    if np.isfinite(value):
        assert got == want  # the same words as for YAML
    else:  # YAML has no nan/inf (its parser refuses them); the npz names the same field
        assert want is not None and want.startswith(field + "=")
    if want is not None:
        assert got is not None and got.startswith(field + "=")


def _meta(fleet: Fleet) -> dict:
    return {
        "version": 1,
        "setup": fleet.setup,
        "seed": fleet.seed,
        "orchestrator": fleet.orchestrator.model_dump(mode="json", exclude_none=True),
    }


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda c: c.update(node_id=np.array([9, 9])), r"<root>=9: Value error, duplicate node id 9"),
        (lambda c: c.update(node_id=np.array([9.0, 2.0])), r"node_id='float64': must be an integer array"),
        (lambda c: c.update(node_id=np.array([True, False])), r"node_id='bool': must be an integer array"),
        (lambda c: c.update(node_id=np.array([9, -2])), r"nodes\[1\]\.id=-2"),
        (lambda c: c.update(node_compute=np.array([1, 2])), r"node_compute='int64': must be a float array"),
        (
            lambda c: c.update(node_compute=np.array([1.0, 2.0, 3.0])),
            r"node_compute='\(3,\)': must be a 1-D array of 2",
        ),
        (lambda c: c.update(node_gateway=np.array([0, 1])), r"nodes\[1\]\.gateway=1: must be the row of a gateway"),
        (lambda c: c.update(node_name=np.array(["a", "x" * 300])), r"nodes\[1\]\.name='xxx.*at most 256 characters"),
        (
            lambda c: c.update(switch_kind=np.array(["gateway", "router"])),
            r"switches\[1\]\.kind='router': Input should be 'gateway' or 'aggregation'",
        ),
        (lambda c: c.update(switch_id=np.array(["agg", "agg"])), r"duplicate switch id"),
        (lambda c: c.update(switch_has_uplink=np.array([False, False])), r"gateway 'g1' has no uplink"),
        (lambda c: c.update(switch_parent=np.array(["g1", ""])), r"gateway 'g1' has no aggregation parent"),
        (
            lambda c: c.update({k: v[:0] for k, v in c.items() if k.startswith("node_")}),
            r"nodes=\[\]: List should have at least 1 item",
        ),
    ],
)
def test_bad_npz_columns_are_one_input_error(tmp_path: Path, mutate: object, expect: str) -> None:
    fleet = odd_fleet()
    cols = _columns_of(fleet)
    mutate(cols)  # type: ignore[operator]
    path = _write_npz(tmp_path / "f.npz", cols, json.dumps(_meta(fleet)))
    with pytest.raises(InputError, match=expect) as exc:
        load_fleet(path)
    assert str(exc.value).startswith("f.npz: ")


def test_bad_npz_meta_is_validated_by_the_schema(tmp_path: Path) -> None:
    fleet = odd_fleet()
    meta = _meta(fleet)
    meta["seed"] = -1
    path = _write_npz(tmp_path / "f.npz", _columns_of(fleet), json.dumps(meta))
    with pytest.raises(InputError, match=r"f.npz: seed=-1: Input should be greater than or equal to 0"):
        load_fleet(path)
    meta = _meta(fleet)
    meta["orchestrator"]["switch"] = "g1"
    path = _write_npz(tmp_path / "f.npz", _columns_of(fleet), json.dumps(meta))
    with pytest.raises(InputError, match=r"orchestrator.switch 'g1' is not an aggregation switch"):
        load_fleet(path)


def test_npz_reads_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgetune.fleet import formats

    path = save_fleet(generate_fleet(50, "normal", np.random.default_rng(1)), tmp_path / "f.npz")
    monkeypatch.setattr(formats, "MAX_FLEET_BYTES", path.stat().st_size - 1)
    with pytest.raises(InputError, match="larger than the limit"):
        load_fleet(path)
    bomb = tmp_path / "bomb.npz"
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.asarray("{}"), node_id=np.zeros(10**6, dtype=np.int64))  # 8 MB in ~8 kB
    bomb.write_bytes(buf.getvalue())
    monkeypatch.setattr(formats, "MAX_FLEET_BYTES", 1_000_000)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(InputError, match="unpacks to more than the limit"):
        load_fleet(bomb)


def test_the_npz_arrays_are_the_fleet_columns() -> None:
    from edgetune.fleet.formats import NPZ_COLUMNS
    from edgetune.fleet.schema import FleetColumns

    assert FleetColumns.names() == NPZ_COLUMNS  # formats does not import the schema, so it names them itself
