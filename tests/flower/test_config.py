"""The ``[flower]`` section: the cap on Flower's fixed waits (``supernode_poll_s``)."""

from __future__ import annotations

import pytest

from edgetune.errors import InputError
from edgetune.flower.config import FlowerEngineConfig
from edgetune.flower.polls import DEFAULT_POLL_S
from edgetune.runs.spec import spec_from_dict


def test_supernode_poll_has_one_default_and_is_read_from_the_spec() -> None:
    assert FlowerEngineConfig().supernode_poll_s == DEFAULT_POLL_S == 0.5
    doc = {"run": {"engine": "flower"}, "fleet": {"nodes": 3}, "flower": {"supernode_poll_s": 0.2}}
    engine = spec_from_dict(doc).engine
    assert isinstance(engine, FlowerEngineConfig) and engine.supernode_poll_s == 0.2


@pytest.mark.parametrize("bad", [0.0, 0.001, 3.01, float("nan"), float("inf")])
def test_supernode_poll_out_of_bounds_is_one_input_error(bad: float) -> None:
    with pytest.raises(InputError, match="supernode_poll_s"):
        FlowerEngineConfig(supernode_poll_s=bad)
