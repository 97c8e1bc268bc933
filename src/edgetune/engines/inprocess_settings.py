"""The ``[inprocess]`` section of a run spec, without torch (read by the run spec and the CLI's flags)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetune.errors import InputError


@dataclass(frozen=True)
class InProcessConfig:
    """The ``[inprocess]`` section of a run spec: how host time maps to fleet time.

    Attributes
    ----------
    host_compute : float
        Compute power (fleet units) of one host CPU core; 30 = the fleet's mean node.
    host_seconds_per_token : float
        If positive, every training token costs this many host seconds (forward+backward; evaluation a
        third of it) instead of the measured CPU time, and orchestrator time is not measured: a
        deterministic clock for tests and reproducible records. 0 = measure.
    threads : int
        torch threads of the host process.
    """

    host_compute: float = 30.0
    host_seconds_per_token: float = 0.0
    threads: int = 2

    def __post_init__(self) -> None:
        if not (np.isfinite(self.host_compute) and self.host_compute > 0):
            raise InputError("host_compute", self.host_compute, "must be positive")
        if not (np.isfinite(self.host_seconds_per_token) and self.host_seconds_per_token >= 0):
            raise InputError("host_seconds_per_token", self.host_seconds_per_token, "must be non-negative")
        if not 1 <= self.threads <= 256:
            raise InputError("threads", self.threads, "must be in [1, 256]")
