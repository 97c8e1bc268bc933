"""Injected node faults: the run spec's ``[faults]`` section, honoured by every engine.

A fault schedule is one string, the same in every spelling (``--faults``, ``faults.events`` in an
experiment file, ``faults.events`` in Flower's run config)::

    EVENTS := EVENT ("," EVENT)*
    EVENT  := NODE ":" KIND "@" EPOCHS ["x" FACTOR]
    KIND   := "crash" | "down" | "slow"
    EPOCHS := E          epoch E only
            | E "-" F    epochs E through F (inclusive)
            | E "-"      epoch E to the end of the run (slow, down)

e.g. ``"3:crash@2, 5:down@4-6, 7:slow@3-x2.5"``. What each kind means, in every engine:

* ``crash`` (one epoch): the node's work raises at that epoch; the engine records the node in the
  epoch's ``failed`` with the reason, and the node is asked again like any node that failed once;
* ``down``: the node does not answer in those epochs (``failed``) and answers again afterwards;
* ``slow`` (``xFACTOR``, 1 <= FACTOR <= 1000): the node's compute time is multiplied by FACTOR.

Bounds: NODE and the epochs are ASCII digits (NODE < 10**9, 1 <= E <= F <= 10,000), at most
:data:`MAX_EVENTS` events, and no node has two faults in the same epoch. Whether the nodes are in the
fleet and the epochs within ``run.epochs`` is checked when a run is wired
(:meth:`FaultSpec.check`). Every error is an :class:`~edgetune.errors.InputError` naming ``events``
(the run spec reports it as ``faults.events``, the CLI as ``--faults``).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from edgetune.errors import InputError

FaultKind = Literal["crash", "down", "slow"]
KINDS: tuple[str, ...] = ("crash", "down", "slow")
MAX_EVENTS = 1024
MAX_EPOCH = 10_000
MAX_NODE = 10**9
MAX_FACTOR = 1000.0

_EVENT = re.compile(
    r"(?P<node>[0-9]{1,10}):(?P<kind>[a-z]{1,10})@(?P<first>[0-9]{1,6})(?P<range>-(?P<last>[0-9]{1,6})?)?"
    r"(?:x(?P<factor>[0-9]{1,4}(?:\.[0-9]{1,6})?))?",
    re.ASCII,
)


class FaultEvent(NamedTuple):
    """One injected fault: ``node`` is ``kind`` from epoch ``first`` to ``last`` (inclusive).

    ``last = 0`` means to the end of the run; ``factor`` is the slow-down of a ``slow`` fault (1 else).
    """

    node: int
    kind: str
    first: int
    last: int
    factor: float = 1.0

    def covers(self, epoch: int) -> bool:
        """Whether the fault is in effect in ``epoch``."""
        return self.first <= epoch and (self.last == 0 or epoch <= self.last)

    def spelling(self) -> str:
        """The event in the schedule grammar (what :func:`parse_events` reads back)."""
        epochs = str(self.first) if self.last == self.first else f"{self.first}-{self.last or ''}"
        return f"{self.node}:{self.kind}@{epochs}" + (f"x{self.factor:g}" if self.kind == "slow" else "")

    def reason(self) -> str:
        """What the record's ``failed`` says about a node this fault stopped."""
        what = "crashed" if self.kind == "crash" else "down (did not answer)"
        return f"{what}: injected fault {self.spelling()}"


class InjectedCrash(RuntimeError):
    """Raised inside a node's work by a ``crash`` fault (engines catch it like any other node error)."""


@functools.lru_cache(maxsize=64)
def parse_events(text: str) -> tuple[FaultEvent, ...]:
    """Parse a fault schedule (grammar in the module docstring); empty or blank text = no faults."""
    items = [t.strip() for t in text.split(",")] if text.strip() else []
    if len(items) > MAX_EVENTS:
        raise InputError("events", f"[{len(items)} events]", f"at most {MAX_EVENTS} events")
    events: list[FaultEvent] = []
    for item in items:
        m = _EVENT.fullmatch(item)
        if m is None:
            raise InputError(
                "events", item, "expected NODE:crash@EPOCH, NODE:down@FROM[-[TO]] or NODE:slow@FROM[-[TO]]xFACTOR"
            )
        node, kind, first = int(m["node"]), m["kind"], int(m["first"])
        if kind not in KINDS:
            raise InputError("events", item, f"unknown fault {kind!r}; choose from {', '.join(KINDS)}")
        if node >= MAX_NODE:
            raise InputError("events", item, f"node id must be below {MAX_NODE}")
        if not 1 <= first <= MAX_EPOCH:
            raise InputError("events", item, f"epochs are in 1..{MAX_EPOCH}")
        if m["range"] is None:
            last = first
        else:
            last = 0 if m["last"] is None else int(m["last"])
            if last and not first <= last <= MAX_EPOCH:
                raise InputError("events", item, f"need FROM <= TO <= {MAX_EPOCH}")
        factor = 1.0
        if kind == "slow":
            if m["factor"] is None:
                raise InputError("events", item, "a slow fault needs xFACTOR (e.g. 3:slow@2x2.5)")
            factor = float(m["factor"])
            if not (math.isfinite(factor) and 1.0 <= factor <= MAX_FACTOR):
                raise InputError("events", item, f"FACTOR must be in [1, {MAX_FACTOR:g}]")
        elif m["factor"] is not None:
            raise InputError("events", item, f"only slow faults take xFACTOR, not {kind}")
        if kind == "crash" and last != first:
            raise InputError("events", item, "a crash is one epoch (use down for a span)")
        events.append(FaultEvent(node, kind, first, last, factor))
    _check_overlaps(events)
    return tuple(events)


def _check_overlaps(events: Iterable[FaultEvent]) -> None:
    by_node: dict[int, list[FaultEvent]] = {}
    for ev in events:
        by_node.setdefault(ev.node, []).append(ev)
    for evs in by_node.values():
        evs.sort(key=lambda e: e.first)
        for a, b in itertools.pairwise(evs):
            if a.last == 0 or b.first <= a.last:
                raise InputError(
                    "events", f"{a.spelling()},{b.spelling()}", f"node {a.node} has two faults in epoch {b.first}"
                )


@dataclass(frozen=True)
class FaultSpec:
    """The ``[faults]`` section of a run spec: which nodes fail, when and how (grammar: module docstring).

    Attributes
    ----------
    events : str
        The fault schedule, e.g. ``"3:crash@2,5:down@4-6,7:slow@3-x2.5"``; empty = no faults.
    """

    events: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.events, str):
            raise InputError("events", self.events, "must be a string like 3:crash@2,5:down@4-6")
        parse_events(self.events)

    @property
    def parsed(self) -> tuple[FaultEvent, ...]:
        """The events, in the order written (parsed once per distinct schedule)."""
        return parse_events(self.events)

    def __bool__(self) -> bool:
        return bool(self.parsed)

    def at(self, epoch: int) -> dict[int, FaultEvent]:
        """Node id -> the fault in effect in ``epoch`` (nodes without one are absent)."""
        return {ev.node: ev for ev in self.parsed if ev.covers(epoch)}

    def check(self, node_ids: Iterable[int], epochs: int) -> None:
        """Refuse events naming a node outside the fleet or starting after epoch ``epochs`` (T)."""
        known = set(node_ids)
        for ev in self.parsed:
            if ev.node not in known:
                raise InputError("events", ev.spelling(), f"node {ev.node} is not in the fleet")
            if ev.first > epochs or ev.last > epochs:
                raise InputError("events", ev.spelling(), f"the run has {epochs} epochs")


def split_round(
    faults: FaultSpec, epoch: int, active: Iterable[int]
) -> tuple[list[int], dict[int, FaultEvent], dict[int, float]]:
    """Apply ``faults`` to one epoch's active nodes.

    Returns the nodes that answer (in ``active``'s order, crashing ones included: their work must
    raise), the ``down`` nodes with their fault, and the compute-time factor of every ``slow`` node.
    """
    now = faults.at(epoch)
    if not now:
        return list(active), {}, {}
    run: list[int] = []
    down: dict[int, FaultEvent] = {}
    slow: dict[int, float] = {}
    for i in active:
        ev = now.get(i)
        if ev is not None and ev.kind == "down":
            down[i] = ev
            continue
        run.append(i)
        if ev is not None and ev.kind == "slow":
            slow[i] = ev.factor
    return run, down, slow


__all__ = [
    "KINDS",
    "MAX_EVENTS",
    "FaultEvent",
    "FaultKind",
    "FaultSpec",
    "InjectedCrash",
    "parse_events",
    "split_round",
]
