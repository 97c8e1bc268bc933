"""Selection policies: which nodes train next epoch (node elimination, all resources)."""

from edgetune.selection.base import POLICIES, NodeMetrics, PolicyConfig, SelectionPolicy, make_policy, register_policy
from edgetune.selection.elimination import elimination_count
from edgetune.selection.scoring import METRIC_NAMES, normalize, perf_scores

# Importing the modules registers the policies.
from edgetune.selection import all_resources as _ar  # noqa: F401  isort: skip
from edgetune.selection import elimination as _ne  # noqa: F401  isort: skip

__all__ = [
    "METRIC_NAMES",
    "POLICIES",
    "NodeMetrics",
    "PolicyConfig",
    "SelectionPolicy",
    "elimination_count",
    "make_policy",
    "normalize",
    "perf_scores",
    "register_policy",
]
