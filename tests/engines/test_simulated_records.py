"""Issue 17: the simulator's arithmetic is unchanged by the monitor that measures only what is read.

The saved ``tests/data/simulate_normal12_seed7_noisefree_*.json`` records were written by the simulator
before issue 17 (commit 810d4b4, ``python -m tests.engines.noisefree``) with a noise-free monitor; the
present simulator must reproduce every number of them (docs/network.md, "What the monitor costs").
With noise, NE's records differ because noise is now drawn only for the paths read (the saved noisy
records were regenerated; the numbers that changed are listed in docs/network.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.engines.noisefree import DATA, noise_free_record


def _assert_same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{k}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-12), path  # summation order only
    else:
        assert a == b, path


@pytest.mark.parametrize("policy", ["ne", "ar"])
def test_noise_free_record_equals_the_one_before_issue_17(policy: str) -> None:
    saved = json.loads((DATA / f"simulate_normal12_seed7_noisefree_{policy}.json").read_text())
    got = json.loads(json.dumps(noise_free_record(policy).to_json()))
    saved.pop("timings")
    got.pop("timings")
    _assert_same(saved, got)
