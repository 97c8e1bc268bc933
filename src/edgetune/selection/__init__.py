"""Selection policies: which nodes train next epoch (NE, AR, random, deadline, oort, adaptive)."""

from edgetune.selection.base import (
    POLICIES,
    MetricsTable,
    NodeMetrics,
    PolicyConfig,
    PolicyContext,
    SelectionPolicy,
    make_policy,
    register_policy,
)
from edgetune.selection.elimination import elimination_count
from edgetune.selection.scoring import METRIC_NAMES, normalize, perf_scores

# Importing the modules registers the policies.
from edgetune.selection import all_resources as _ar  # noqa: F401  isort: skip
from edgetune.selection import elimination as _ne  # noqa: F401  isort: skip
from edgetune.selection import random_choice as _random  # noqa: F401  isort: skip
from edgetune.selection import deadline as _deadline  # noqa: F401  isort: skip
from edgetune.selection import oort as _oort  # noqa: F401  isort: skip
from edgetune.selection import adaptive as _adaptive  # noqa: F401  isort: skip

__all__ = [
    "METRIC_NAMES",
    "POLICIES",
    "MetricsTable",
    "NodeMetrics",
    "PolicyConfig",
    "PolicyContext",
    "SelectionPolicy",
    "elimination_count",
    "make_policy",
    "normalize",
    "perf_scores",
    "register_policy",
]
