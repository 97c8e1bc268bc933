"""The run spec: defaults declared once, one validation step, TOML and flag spellings round-trip."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgetune.cli.flags import NETWORK, POLICY, RUN, SELECT, WORKLOAD, add_flags, build_spec
from edgetune.engines.simulated import SimWorkload
from edgetune.errors import InputError
from edgetune.runs.spec import RunSpec, apply_overrides, load_spec, spec_from_dict

FLAGS = (*SELECT, *RUN, *POLICY, *WORKLOAD, *NETWORK)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    for flags in (SELECT, RUN, POLICY, WORKLOAD, NETWORK):
        add_flags(p, flags, "g")
    return p


def test_minimal_file_takes_every_other_default(tmp_path: Path) -> None:
    exp = tmp_path / "exp.toml"
    exp.write_text(
        '[run]\nengine = "simulated"\npolicy = "ne"\nepochs = 10\nseed = 11\n\n'
        '[fleet]\nnodes = 17\nsetup = "limited"\nseed = 5\n'
    )
    spec, base = load_spec(exp)
    assert base == tmp_path
    assert (spec.run.epochs, spec.run.seed, spec.fleet.nodes, spec.fleet.setup, spec.fleet.seed) == (
        10,
        11,
        17,
        "limited",
        5,
    )
    assert spec.engine == SimWorkload()
    assert spec == RunSpec(run=spec.run, fleet=spec.fleet)  # everything else is the declared default


def test_flags_to_spec_to_toml_to_spec_round_trip() -> None:
    args = _parser().parse_args(
        [
            "--policy",
            "ar",
            "--epochs",
            "4",
            "--lr",
            "0.01",
            "--seed",
            "3",
            "--weights",
            "0.4,0.3,0.1,0.1,0.1",
            "--rejoin",
            "--model-mb",
            "50",
            "--variation",
            "0.3",
            "--poll-interval-s",
            "2",
        ]
    )
    spec = build_spec(args, FLAGS)
    assert spec.run.policy == "ar" and spec.run.epochs == 4 and spec.run.learning_rate == 0.01
    assert spec.policy.weights == (0.4, 0.3, 0.1, 0.1, 0.1) and spec.policy.rejoin
    assert spec.engine.model_bytes == 50e6
    assert spec.network.variation.bandwidth_sigma == 0.3
    assert spec.network.variation.delay_sigma == pytest.approx(0.2)
    assert spec.monitor.poll_interval_s == 2.0
    again = spec_from_dict(tomllib.loads(spec.to_toml()))
    assert again == spec
    assert again.to_toml() == spec.to_toml()


def test_absent_flags_keep_the_spec_defaults() -> None:
    assert build_spec(_parser().parse_args([]), FLAGS) == RunSpec()


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"policy": {"weights": [1, 1, 1, 1, 1]}}, "policy.weights"),
        ({"policy": {"weights": [0.5, 0.5]}}, "policy.weights"),
        ({"run": {"epochs": 0}}, "run.epochs"),
        ({"run": {"epochs": 10**9}}, "run.epochs"),
        ({"run": {"epochs": "ten"}}, "run.epochs"),
        ({"run": {"epochs": True}}, "run.epochs"),
        ({"run": {"learning_rate": float("nan")}}, "run.learning_rate"),
        ({"run": {"engine": "warp"}}, "run.engine"),
        ({"run": {"policy": "best"}}, "run.policy"),
        ({"run": {"epoch": 3}}, "run.epoch"),
        ({"fleet": {"setup": "huge"}}, "fleet.setup"),
        ({"fleet": {"nodes": 10**7}}, "fleet.nodes"),
        ({"monitor": {"ewma_alpha": 2.0}}, "monitor.ewma_alpha"),
        ({"network": {"variation": {"bandwidth_sigma": -1.0}}}, "network.variation.bandwidth_sigma"),
        ({"simulated": {"model_bytes": -5.0}}, "simulated.model_bytes"),
        ({"flower": {"straggler_min_s": 1.0}}, "flower"),
        ({"task": {"optimizer": "lion"}}, "task.optimizer"),
        ({"task": {"model": "gpt5"}}, "task.model"),
        ({"northbound": {"url": "ftp://x"}}, "northbound.url"),
        ({"colour": {}}, "colour"),
        ({"run": [1, 2]}, "run"),
    ],
)
def test_bad_values_name_the_dotted_key(doc: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as exc:
        spec_from_dict(doc)
    assert exc.value.field == field


def test_overrides_parse_toml_values() -> None:
    doc = apply_overrides(
        {"run": {"epochs": 3}},
        ["run.epochs=5", "policy.weights=[0.2,0.2,0.2,0.2,0.2]", "run.policy=ar", "policy.rejoin=true"],
    )
    assert doc == {
        "run": {"epochs": 5, "policy": "ar"},
        "policy": {"weights": [0.2, 0.2, 0.2, 0.2, 0.2], "rejoin": True},
    }
    for bad in ("epochs=3", "run.=3", "noequals"):
        with pytest.raises(InputError) as exc:
            apply_overrides({}, [bad])
        assert exc.value.field == "--set"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["run", "fleet", "policy", "monitor", "task", "zzz"]),
        st.dictionaries(
            st.text(max_size=12),
            st.one_of(
                st.integers(),
                st.floats(),
                st.text(max_size=8),
                st.booleans(),
                st.none(),
                st.lists(st.floats(), max_size=6),
            ),
            max_size=4,
        ),
        max_size=4,
    )
)
def test_any_document_is_a_spec_or_one_input_error(doc: dict[str, dict[str, object]]) -> None:
    try:
        spec = spec_from_dict(doc)
    except InputError as exc:
        assert exc.field and str(exc)
    else:
        assert spec_from_dict(tomllib.loads(spec.to_toml())) == spec
