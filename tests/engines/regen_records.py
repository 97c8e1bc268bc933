"""Regenerate the saved simulation records under tests/data (run from the repository root)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgetune.fleet.generate import generate_fleet
from edgetune.network.monitor import MonitorConfig
from edgetune.runs.sweep import simulate

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "data"
    for policy in ("ne", "ar"):
        fleet = generate_fleet(12, "normal", np.random.default_rng(7), seed=7)
        simulate(fleet, policy, 7, monitor_config=MonitorConfig()).save(out / f"simulate_normal12_seed7_{policy}.json")
        print("wrote", out / f"simulate_normal12_seed7_{policy}.json")
