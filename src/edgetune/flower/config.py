"""The Flower engine's settings (the run spec's ``[flower]`` section) and its registry entry.

Kept apart from :mod:`edgetune.flower.engine` so that reading a run spec (or building the CLI's
flags) does not import ``flwr``: the registry entry :class:`FlowerEntry` names the config class and
refuses to build the engine outside a ServerApp, where the Flower ``Grid`` it needs exists
(:meth:`edgetune.flower.engine.FlowerEngine.for_run`, called by :mod:`edgetune.runs.flower`).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgetune.engines.base import BuildContext, RegisteredEngine, register_engine
from edgetune.errors import InputError
from edgetune.flower.polls import DEFAULT_POLL_S, MAX_POLL_S, MIN_POLL_S
from edgetune.flower.task import BACKENDS
from edgetune.orchestrator.engine import Engine

#: Upper bound of every wait a spec may ask for (a day).
MAX_WAIT_S = 86_400.0
#: How a node's training time reaches the policy: as measured, or ``work_s / compute`` (deterministic).
TRAIN_TIMES: tuple[str, ...] = ("measured", "modelled")


@dataclass(frozen=True)
class FlowerEngineConfig:
    """The ``[flower]`` section of a run spec: the Flower engine's own settings, one default each.

    None of the waits can be infinite, so a missing node never hangs a run.

    Attributes
    ----------
    connect_timeout_s : float
        Longest wait for the SuperNodes to identify themselves (distribution).
    round_timeout_s : float
        Hard cap on one round.
    straggler_ratio : float
        0 = off; else after the first reply at ``t1`` wait at most ``max(ratio * t1, t1 + straggler_min_s)``.
    straggler_min_s : float
        Least extra wait the straggler deadline gives.
    sync_timeout_s : float
        Longest wait for the final model's sync replies.
    poll_interval_s : float
        The ServerApp's poll of the SuperLink for replies.
    liveness_check_s : float
        How often the SuperLink's node list is read during a round (a dropped node fails at once).
    train_time : str
        ``measured`` (the nodes' reported wall time) or ``modelled`` (``work_s / compute``: the
        policy's inputs become deterministic, to compare engines).
    work_s : float
        Seconds a node of compute power 1 needs for one epoch under ``train_time = "modelled"``.
    backend : str
        The task's implementation: ``training`` (the training package, as the in-process engine),
        ``synthetic`` (a tiny GPT-2 on a seeded byte corpus, for hosts without the corpora) or ``auto``.
    supernode_poll_s : float
        Longest of Flower's fixed waits in a deployment's SuperNodes, ClientApps and ServerApp: the
        SuperNode's 3 s sleep after an empty pull and 0.5 s reply-wait steps, and the 1 s first retry
        of an object that is not uploaded yet (a patch of Flower 1.41 constants,
        :mod:`edgetune.flower.polls`). Shorter waits cost CPU: every poll is an HTTP request.
    """

    connect_timeout_s: float = 120.0
    round_timeout_s: float = 600.0
    straggler_ratio: float = 0.0
    straggler_min_s: float = 5.0
    sync_timeout_s: float = 60.0
    poll_interval_s: float = 0.05
    liveness_check_s: float = 5.0
    train_time: str = "measured"
    work_s: float = 30.0
    backend: str = "auto"
    supernode_poll_s: float = DEFAULT_POLL_S

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "round_timeout_s", "sync_timeout_s", "poll_interval_s", "liveness_check_s"):
            value = getattr(self, name)
            if not 0 < value <= MAX_WAIT_S:
                raise InputError(name, value, f"must be positive and at most {MAX_WAIT_S:g} s")
        if self.straggler_ratio != 0 and not 1 <= self.straggler_ratio <= 1000:
            raise InputError("straggler_ratio", self.straggler_ratio, "must be 0 (off) or in [1, 1000]")
        if not 0 <= self.straggler_min_s <= MAX_WAIT_S:
            raise InputError("straggler_min_s", self.straggler_min_s, f"must be in [0, {MAX_WAIT_S:g}] s")
        if self.train_time not in TRAIN_TIMES:
            raise InputError("train_time", self.train_time, f"choose from {', '.join(TRAIN_TIMES)}")
        if not 0 < self.work_s <= MAX_WAIT_S:
            raise InputError("work_s", self.work_s, f"must be positive and at most {MAX_WAIT_S:g}")
        if self.backend not in BACKENDS:
            raise InputError("backend", self.backend, f"choose from {', '.join(BACKENDS)}")
        if not MIN_POLL_S <= self.supernode_poll_s <= MAX_POLL_S:
            raise InputError(
                "supernode_poll_s", self.supernode_poll_s, f"must be in [{MIN_POLL_S:g}, {MAX_POLL_S:g}] s"
            )

    @property
    def ttl_s(self) -> float:
        """Message time-to-live: longer than any wait, short enough that stale work expires."""
        return self.connect_timeout_s + self.round_timeout_s + self.sync_timeout_s


@register_engine
class FlowerEntry(RegisteredEngine):
    """The registry entry of ``run.engine = "flower"``: its config class; never instantiated.

    A Flower run needs SuperNodes and the ``Grid`` of a running ServerApp, which the runs layer's
    :func:`~edgetune.runs.execute.run` does not have: :meth:`build` says how to run such a spec.
    """

    name = "flower"
    time_base = "wall"
    config_cls = FlowerEngineConfig

    @classmethod
    def build(cls, ctx: BuildContext) -> Engine:
        """Refused with the command that runs a Flower spec."""
        raise InputError(
            "run.engine",
            "flower",
            "a Flower run needs SuperNodes: run this spec with `edgetune flower serve EXPERIMENT.toml "
            "--local-nodes N` (loopback deployment) or `edgetune flower sim EXPERIMENT.toml`",
        )
