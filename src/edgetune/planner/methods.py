"""Planner methods: a small ABC with a registry (``register_method`` / ``make_method``).

========================  ==================================================================
``jqodi``                 Algorithms 1-4 as approximate DP over the layered time-energy graph
``jqodi-literal``         Algorithms 1-4 as written (full time-energy tree, bounded enumeration)
``jqodi-stationary``      Algorithms 1-4 on the tree that keeps one action per path
``exact``                 edgetune's exact minimum-energy plan under the robust estimates
``optimum``               the paper's Optimum: exact minimum under the expected estimates
``full``                  Full Model: 32-bit variants only, exact, expected estimates
``minimal``               Minimal Model: 1-bit variants only, exact, expected estimates
``brute``                 brute force over every ordered schedule (tests, benchmark)
========================  ==================================================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from edgetune.errors import InputError
from edgetune.planner.brute import DEFAULT_MAX_SCHEDULES, plan_brute
from edgetune.planner.estimates import Flavour
from edgetune.planner.exact import plan_exact
from edgetune.planner.instance import Instance
from edgetune.planner.jqodi import DEFAULT_MAX_VERTICES, TreeShape, plan_jqodi
from edgetune.planner.jqodi_dp import DEFAULT_MAX_LABELS, plan_jqodi_dp
from edgetune.planner.plan import Plan

__all__ = ["METHODS", "PlannerMethod", "make_method", "method_names", "register_method"]


class PlannerMethod(ABC):
    """A planner: turns an instance into a :class:`Plan`.

    Subclasses set ``name`` and ``estimates`` (the estimators the plan is feasible under).
    """

    name: ClassVar[str] = ""
    estimates: ClassVar[Flavour] = "expected"

    @abstractmethod
    def plan(self, instance: Instance) -> Plan:
        """Plan ``instance``; raises :class:`SearchLimitExceeded` if an enumeration bound is hit."""


METHODS: dict[str, type[PlannerMethod]] = {}


def register_method(cls: type[PlannerMethod]) -> type[PlannerMethod]:
    """Class decorator adding a method to :data:`METHODS` under ``cls.name``."""
    if not cls.name or cls.name in METHODS:
        raise ValueError(f"bad or duplicate planner method name {cls.name!r}")
    METHODS[cls.name] = cls
    return cls


def method_names() -> list[str]:
    """Registered method names, in registration order."""
    return list(METHODS)


def make_method(name: str, **options: Any) -> PlannerMethod:
    """Instantiate method ``name`` with keyword ``options``.

    Raises
    ------
    InputError
        Unknown method name.
    """
    if name not in METHODS:
        raise InputError("method", name, f"unknown planner method (known: {', '.join(METHODS)})")
    return METHODS[name](**options)


@register_method
class Jqodi(PlannerMethod):
    """Algorithms 1-4 as approximate DP over the layered time-energy graph (polynomial, Property 2)."""

    name = "jqodi"
    estimates: ClassVar[Flavour] = "robust"

    def __init__(self, max_labels: int = DEFAULT_MAX_LABELS) -> None:
        self.max_labels = max_labels
        self.last_vertices = 0
        self.last_labels = 0
        self.last_merged = False

    def plan(self, instance: Instance) -> Plan:
        plan, stats = plan_jqodi_dp(instance, self.name, self.max_labels)
        self.last_vertices, self.last_labels, self.last_merged = stats.vertices, stats.labels, stats.merged
        return plan


class _JqodiTree(PlannerMethod):
    shape: ClassVar[TreeShape] = "full"
    estimates: ClassVar[Flavour] = "robust"

    def __init__(self, max_vertices: int = DEFAULT_MAX_VERTICES) -> None:
        self.max_vertices = max_vertices
        self.last_vertices = 0
        self.last_paths = 0

    def plan(self, instance: Instance) -> Plan:
        plan, stats = plan_jqodi(instance, self.name, self.shape, self.max_vertices)
        self.last_vertices, self.last_paths = stats.vertices, stats.paths
        return plan


@register_method
class JqodiLiteral(_JqodiTree):
    """Algorithms 1-4 of the paper, literally: every ordered action sequence is a path (bounded)."""

    name = "jqodi-literal"


@register_method
class JqodiStationary(_JqodiTree):
    """Algorithms 1-4 on the tree whose paths keep their first (server, partition) every epoch."""

    name = "jqodi-stationary"
    shape = "stationary"


class _Exact(PlannerMethod):
    bits: ClassVar[int | None] = None

    def __init__(self, **_: Any) -> None:
        pass

    def plan(self, instance: Instance) -> Plan:
        return plan_exact(instance, self.estimates, self.name, self.bits)


@register_method
class Exact(_Exact):
    """Minimum energy, feasible under the robust estimates (never worse than ``jqodi``)."""

    name = "exact"
    estimates = "robust"


@register_method
class Optimum(_Exact):
    """The paper's Optimum: minimum energy under the expected estimates."""

    name = "optimum"
    estimates = "expected"


@register_method
class FullModel(_Exact):
    """The paper's Full Model: 32-bit variants, best model/server/partitions (expected estimates)."""

    name = "full"
    bits = 32


@register_method
class MinimalModel(_Exact):
    """The paper's Minimal Model: 1-bit variants, best model/server/partitions (expected estimates)."""

    name = "minimal"
    bits = 1


@register_method
class Brute(PlannerMethod):
    """Brute force over every ordered schedule of every variant (robust estimates by default)."""

    name = "brute"
    estimates = "robust"

    def __init__(
        self, max_schedules: int = DEFAULT_MAX_SCHEDULES, flavour: Flavour = "robust", bits: int | None = None
    ) -> None:
        self.max_schedules = max_schedules
        self.flavour: Flavour = flavour
        self.bits = bits

    def plan(self, instance: Instance) -> Plan:
        return plan_brute(instance, self.flavour, self.name, self.bits, self.max_schedules)
