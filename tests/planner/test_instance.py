"""Instance schema: the contract's fields, errors naming field path and value."""

from __future__ import annotations

import json

import pytest

from edgetune.errors import InputError
from edgetune.inputs import parse_yaml
from edgetune.planner.instance import instance_from_mapping, load_instance

from .helpers import small_doc


def test_issue_example_parses(tmp_path):
    text = """
t_max_s: 180
l_max: 0.0186
cloud: {speed: 1.9e13, energy_per_unit: 2.1e-11}
device: {name: pi5, speed: 3.0e10, energy_per_unit: 4.0e-10}
edge_servers:
  - {name: rtx3090, speed: 3.5e13, energy_per_unit: 1.0e-11, cloud_rate_bps: 1.0e9,
     cloud_energy_per_bit: 1.0e-9, bandwidth_hz: 2.0e7, snr: 100.0, device_energy_per_bit: 5.0e-8}
models:
  - name: lenet
    loss: 0.0186
    update_compute: 1.0e9
    variants:
      - bits: 8
        quantize_time_s: 2.0
        quantize_energy_j: 300.0
        layers:
          - {compute: 1.0e9, size_bits: 1.2e5}
          - {compute: 1.0e9, size_bits: 1.2e5}
          - {compute: 1.0e9, size_bits: 1.2e5}
          - {compute: 1.0e9, size_bits: 1.2e5}
        partitions: [1, 2, 3]
        loss_jump: {expected: 0.004, robust: 0.005}
        epoch_loss_delta: {expected: -1.0e-4, robust: -8.0e-5}
        epochs: {expected: 26, robust: 29}
      - bits: 1
        quantize_time_s: 1.0
        quantize_energy_j: 100.0
        layers: [{compute: 1.0e9, size_bits: 1.0e4}, {compute: 1.0e9, size_bits: 1.0e4}]
        loss_jump: {expected: .inf, robust: .inf}
        epoch_loss_delta: {expected: 0.0, robust: 0.0}
"""
    p = tmp_path / "inst.yaml"
    p.write_text(text)
    inst = load_instance(p)
    assert inst.edge_servers[0].name == "rtx3090"
    assert inst.models[0].variants[1].partition_points() == (1,)
    j = tmp_path / "inst.json"
    j.write_text(json.dumps(parse_yaml(text, "F", "inst.yaml", allow_inf=True)))  # .inf -> Infinity
    assert load_instance(j).models[0].variants[0].epochs is not None


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["edge_servers"][0].__setitem__("speed", -1.0), "edge_servers[0].speed"),
        (lambda d: d["device"].pop("speed"), "device.speed"),
        (lambda d: d["edge_servers"][0].__setitem__("typo", 1), "edge_servers[0].typo"),
        (
            lambda d: d["models"][0]["variants"][0]["layers"][1].__setitem__("compute", "x"),
            "models[0].variants[0].layers[1].compute",
        ),
        (
            lambda d: d["models"][0]["variants"][0].__setitem__("partitions", [1, 4]),
            "models[0].variants[0].partitions[1]",
        ),
        (
            lambda d: d["models"][0]["variants"][0]["epochs"].__setitem__("robust", 2),
            "models[0].variants[0].epochs.robust",
        ),
        (
            lambda d: d["models"][0]["variants"][0]["loss_jump"].__setitem__("robust", 0.001),
            "models[0].variants[0].loss_jump.robust",
        ),
        (lambda d: d["edge_servers"].append(dict(d["edge_servers"][0])), "edge_servers[1].name"),
        (lambda d: d["models"][0]["variants"][0].__setitem__("bits", 64), "models[0].variants[0].bits"),
        (lambda d: d.__setitem__("t_max_s", float("nan")), "t_max_s"),
        # edgetune's optional activation traffic (Eq. 9a-10a)
        (lambda d: d.__setitem__("samples_per_epoch", -1.0), "samples_per_epoch"),
        (lambda d: d.__setitem__("eval_samples_per_epoch", 5.0), "eval_samples_per_epoch"),
        (
            lambda d: (
                d.__setitem__("samples_per_epoch", 10.0),
                d["models"][0]["variants"][0]["layers"][1].pop("output_bits"),
            ),
            "models[0].variants[0].layers[1].output_bits",
        ),
        (
            lambda d: (
                d.__setitem__("samples_per_epoch", 10.0),
                d["models"][0]["variants"][0].__setitem__("partitions", [0, 1]),
            ),
            "models[0].variants[0].input_bits",
        ),
        (
            lambda d: d["models"][0]["variants"][0]["layers"][0].__setitem__("output_grad_bits", -2.0),
            "models[0].variants[0].layers[0].output_grad_bits",
        ),
    ],
)
def test_errors_name_the_field(mutate, field):
    doc = small_doc()
    mutate(doc)
    with pytest.raises(InputError) as err:
        instance_from_mapping(doc, source="x.yaml")
    assert err.value.field == f"x.yaml: {field}"


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_instance(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("t_max_s: [1,\n")
    with pytest.raises(InputError, match="malformed YAML"):
        load_instance(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n")
    with pytest.raises(InputError, match="mapping"):
        load_instance(lst)


def test_activation_fields_are_optional():
    """Absent fields: the paper's model; a missing output_bits only matters with samples_per_epoch."""
    doc = small_doc()
    doc["models"][0]["variants"][0]["layers"][1].pop("output_bits")
    assert not instance_from_mapping(doc).has_activation_traffic
    doc = small_doc()
    doc["samples_per_epoch"] = 10.0
    doc["models"][0]["variants"][0]["layers"][2].pop("output_bits")  # block 3 is never a partition here
    assert instance_from_mapping(doc).has_activation_traffic
