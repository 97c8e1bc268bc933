"""Issue 16, class 10: a plan file is a function of its input; wall-clock lives under ``timings`` only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edgetune.cli.main import main


@pytest.mark.parametrize("method", ["exact", "jqodi", "full"])
def test_same_input_gives_byte_identical_plan_but_for_timings(method: str, tmp_path: Path) -> None:
    files = []
    for run in ("a", "b"):
        out, inf = tmp_path / f"{run}.json", tmp_path / f"{run}-inference.json"
        argv = [
            "plan",
            "jqodi-data1",
            "--method",
            method,
            "--out",
            str(out),
            "--inference",
            "--inference-out",
            str(inf),
        ]
        assert main(argv) == 0
        files.append((out.read_bytes(), inf.read_bytes()))
    (plan_a, inf_a), (plan_b, inf_b) = files
    assert inf_a == inf_b  # the inference rows hold no wall clock at all
    timings = re.compile(rb'\n  "timings": \{\n    "solve_time_s": [0-9.e+-]+\n  \}')
    assert len(timings.findall(plan_a)) == 1  # the only wall-clock value, in its one place
    assert timings.sub(b"", plan_a) == timings.sub(b"", plan_b)
    assert set(json.loads(plan_a)["timings"]) == {"solve_time_s"}
