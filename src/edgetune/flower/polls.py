"""Flower 1.41's fixed waits, shortened in the processes edgetune starts (a patch of Flower constants).

Flower 1.41 lets a deployment set one poll (``FLWR_SUPEREXEC_TASK_POLL_INTERVAL``, see
:func:`edgetune.flower.deploy.flower_env`). Its other waits are written into the code, and on a
loopback host they are most of a round:

* **The SuperNode's loop** (``flwr.supernode.start_client_internal``): ``time.sleep(3)`` after a pull
  from the SuperLink that brought no message, and ``time.sleep(0.5)`` steps while it waits for the
  ClientApp's reply and for each reply object to be stored. A round therefore waits up to 3 s for a
  node to notice its message and up to 0.5 s more for the reply to leave.
* **Object pulls** (``flwr.supercore.inflatable.inflatable_utils.pull_objects`` and
  ``pull_and_inflate_object_from_tree``): a message becomes visible as soon as it is registered, before
  its objects (records, arrays) are uploaded. A peer that pulls it in that window is told "not yet
  available" and retries after 1 s, doubling up to 10 s (``PULL_INITIAL_BACKOFF``,
  ``PULL_BACKOFF_CAP``). Every hop does this: a SuperNode pulling the ServerApp's message, the ClientApp
  pulling it from its SuperNode, and the ServerApp pulling a reply -- the last one blocks the
  ServerApp's whole poll loop.

This module changes exactly those values, nothing else, and only in processes edgetune starts:

* :func:`shorten_supernode_waits` replaces the module global ``time`` of
  ``start_client_internal`` with :class:`CappedSleep`, which is the ``time`` module except that
  ``sleep(s)`` sleeps ``min(s, poll_s)``. Other modules' ``time.sleep`` are untouched.
* :func:`shorten_object_pull_backoff` sets the two functions' keyword defaults
  ``initial_backoff`` and ``backoff_cap`` (Flower's callers pass neither, so the defaults rule).

Both check that Flower still has the names they change and raise :class:`FlowerPatchError` if not,
so an upgraded Flower fails loudly instead of silently keeping its waits. They are applied by
:mod:`edgetune.flower.supernode_launch` (the SuperNode), :mod:`edgetune.flower.forkserver` (the
ClientApp processes) and the ServerApp (:mod:`edgetune.runs.flower`), with the one setting
``[flower] supernode_poll_s`` (:class:`~edgetune.flower.config.FlowerEngineConfig`).
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

#: Flower 1.41's values that this module shortens (seconds), for the record and the docs.
FLOWER_FIXED_WAITS_S = {
    "supernode_idle_pull": 3.0,
    "supernode_reply_wait": 0.5,
    "object_pull_initial_backoff": 1.0,
    "object_pull_backoff_cap": 10.0,
}
#: Bounds of ``poll_s``: below 10 ms the polls cost more CPU than they save; above Flower's own 3 s
#: they would lengthen a wait.
MIN_POLL_S, MAX_POLL_S = 0.01, 3.0
#: ``[flower] supernode_poll_s``'s default: every wait above at most 0.5 s. Each poll costs CPU on
#: both ends (a SuperNode's empty pull is an HTTP request through the SuperLink's middleware stack),
#: so the cap is not lower: 24 SuperNodes polling every 0.5 s are 48 requests a second.
DEFAULT_POLL_S = 0.5
#: The object-pull backoff never grows past this many ``poll_s`` (Flower: 10 s from 1 s).
BACKOFF_CAP_POLLS = 10


class FlowerPatchError(RuntimeError):
    """The installed Flower lacks a name this module patches (not the Flower 1.41 it was written for)."""


class CappedSleep:
    """The :mod:`time` module, except that :meth:`sleep` waits at most ``cap_s`` seconds.

    Parameters
    ----------
    cap_s : float
        Longest single sleep.
    """

    def __init__(self, cap_s: float) -> None:
        self.cap_s = cap_s

    def sleep(self, seconds: float) -> None:
        """``time.sleep(min(seconds, cap_s))``."""
        time.sleep(min(seconds, self.cap_s))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def check_poll_s(poll_s: float) -> float:
    """``poll_s`` as a float, or :class:`ValueError` outside [:data:`MIN_POLL_S`, :data:`MAX_POLL_S`]."""
    if not MIN_POLL_S <= poll_s <= MAX_POLL_S:  # NaN fails too
        raise ValueError(f"poll_s must be in [{MIN_POLL_S}, {MAX_POLL_S}] s, got {poll_s}")
    return float(poll_s)


def shorten_supernode_waits(poll_s: float) -> ModuleType:
    """Cap every sleep of Flower's SuperNode loop at ``poll_s``; returns the patched module."""
    import flwr.supernode.start_client_internal as sci

    poll_s = check_poll_s(poll_s)
    current = getattr(sci, "time", None)
    if current is not time and not isinstance(current, CappedSleep):
        raise FlowerPatchError("flwr.supernode.start_client_internal has no module global `time` to patch")
    sci.time = CappedSleep(poll_s)  # type: ignore[assignment]
    return sci


def shorten_object_pull_backoff(poll_s: float) -> dict[str, float]:
    """Object pulls retry after ``poll_s``, doubling up to ``BACKOFF_CAP_POLLS * poll_s`` (at most Flower's 10 s)."""
    from flwr.supercore.inflatable import inflatable_utils as iu

    poll_s = check_poll_s(poll_s)
    values = {
        "initial_backoff": poll_s,
        "backoff_cap": min(BACKOFF_CAP_POLLS * poll_s, FLOWER_FIXED_WAITS_S["object_pull_backoff_cap"]),
    }
    for fn in (iu.pull_objects, iu.pull_and_inflate_object_from_tree):
        defaults = fn.__kwdefaults__
        if defaults is None or not set(values) <= set(defaults):
            raise FlowerPatchError(f"{fn.__qualname__} has no keyword defaults {sorted(values)} to patch")
        defaults.update(values)
    return values


def apply(poll_s: float, supernode: bool = False) -> None:
    """Both patches (``supernode=True``, in a SuperNode) or only the object-pull one (other processes)."""
    if supernode:
        shorten_supernode_waits(poll_s)
    shorten_object_pull_backoff(poll_s)


__all__ = [
    "DEFAULT_POLL_S",
    "FLOWER_FIXED_WAITS_S",
    "CappedSleep",
    "FlowerPatchError",
    "apply",
    "check_poll_s",
    "shorten_object_pull_backoff",
    "shorten_supernode_waits",
]
