"""Regenerate the saved records of the issue-12 policies under tests/data/policies (from the repo root).

PYTHONPATH=src python -m tests.selection.regen_records
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgetune.fleet.generate import generate_fleet
from edgetune.network.monitor import MonitorConfig
from edgetune.runs.sweep import simulate

POLICIES = ("random", "deadline", "oort", "adaptive")
DATA = Path(__file__).resolve().parents[1] / "data" / "policies"


def record(policy: str) -> dict[str, object]:
    """The seeded run: normal setup, 12 nodes, fleet and run seed 7."""
    fleet = generate_fleet(12, "normal", np.random.default_rng(7), seed=7)
    return simulate(fleet, policy, 7, monitor_config=MonitorConfig()).to_json()


if __name__ == "__main__":
    import json

    DATA.mkdir(parents=True, exist_ok=True)
    for name in POLICIES:
        path = DATA / f"simulate_normal12_seed7_{name}.json"
        path.write_text(json.dumps(record(name), indent=1) + "\n")
        print("wrote", path)
