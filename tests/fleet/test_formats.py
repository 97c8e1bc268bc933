"""Fleet file formats (issue 17): YAML, JSON and columnar npz round-trip the same fleet."""

from __future__ import annotations

import io
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
