"""JQODI (paper 004, Section IV): Algorithms 1-4 as written (``jqodi-literal``), with an enumeration bound.

``jqodi`` itself is the approximate DP over the layered graph (:mod:`edgetune.planner.jqodi_dp`); this
module is the literal reading it is checked against, and the ``jqodi-stationary`` variant.

* **Algorithm 1 (CreateTree)** builds the time-energy tree with the *robust* estimators: a root
  vertex per model M_a (``v_m``); an edge of weight ε_(a,q) to a vertex ``(M_a, q, τ_(a,q), L)`` per
  bit-width (``v_q``) when ``τ_(a,q) <= T_max`` (line 12), with ``L = L_a + γ̂_rob`` (line 13); then,
  epoch after epoch up to K̂_rob, an edge of weight ``e = ε^run + ε^tran`` (Eq. 6) from every state
  to a state ``(ES_x, j, T', L')`` per action whenever ``T' = T + τ^run + τ^tran <= T_max``
  (lines 18-37), with ``L' = L + γ̂^update_rob + γ̂^run_rob``. A state at depth K̂_rob with
  ``T < T_max`` and ``L < L_max`` is linked to the virtual vertex Θ (lines 38-39).
* **Algorithms 2-3 (TRAVERSAL)** walk every path from each ``v_m`` and keep those reaching Θ, each
  with its weight w (the sum of its edge weights, i.e. its energy).
* **Algorithm 4 (SelectPath)** scores each path ``w · risk / opp`` with ``opp = T_exp / T_rob``
  (the elapsed time at depth K̂_exp over that at depth K̂_rob on the path) and
  ``risk = L_exp / L_rob`` (Eq. 12 with the expected and the robust estimators), and returns the
  path of least score.

Every path is a different ordered sequence of actions, so the tree has up to ``Σ_k m^k`` vertices
(``m`` = servers × partitions): 8 actions and K̂_rob = 29 give ~10^26. ``max_vertices`` bounds the
tree; exceeding it raises :class:`SearchLimitExceeded` naming the variant and the depth reached.
The ``stationary`` tree keeps one action per path (the paper observes that, in its testbed, "the
combination of quantization bit-width and partition point is relatively fixed"): ``m·K̂_rob``
vertices per variant. See ``docs/planner.md`` for the readings of the paper's text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edgetune.planner.instance import Instance
from edgetune.planner.plan import Plan, SearchLimitExceeded
from edgetune.planner.problem import Candidate, candidates, make_plan
from edgetune.planner.score import canonical_actions, expected_depth, path_scores, risk_factor

__all__ = [
    "DEFAULT_MAX_VERTICES",
    "PathRecord",
    "TimeEnergyTree",
    "TreeShape",
    "create_tree",
    "find_paths",
    "plan_jqodi",
    "select_path",
]

DEFAULT_MAX_VERTICES = 200_000
TreeShape = Literal["full", "stationary"]

_KIND_MODEL, _KIND_QUANT, _KIND_STATE = 0, 1, 2


@dataclass
class TimeEnergyTree:
    """The time-energy tree diagram (V, E) of Algorithm 1, stored as arrays indexed by vertex.

    Attributes
    ----------
    kind : list of int
        0 = model vertex (v_m), 1 = bit-width vertex (v_q), 2 = state vertex (v_e).
    parent : list of int
        Parent vertex (-1 for v_m); the edge parent -> vertex carries ``weight``.
    weight : list of float
        Edge weight into the vertex (energy, J).
    elapsed_s : list of float
        T at the vertex (τ_(a,q) plus the epochs so far).
    loss : list of float
        L at the vertex (robust estimators).
    depth : list of int
        Epoch k of a state vertex (0 for v_m and v_q).
    action : list of int
        Option index (server, partition) of a state vertex (-1 otherwise).
    candidate : list of int
        Index of the vertex's (model, variant) in ``candidates`` (-1 for v_m).
    theta : list of int
        Vertices linked to Θ.
    candidates : list of Candidate
        The robust sub-problems the tree was built from.
    """

    kind: list[int] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    elapsed_s: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    action: list[int] = field(default_factory=list)
    candidate: list[int] = field(default_factory=list)
    theta: list[int] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.kind)

    def _add(
        self, kind: int, parent: int, weight: float, t: float, loss: float, depth: int, action: int, cand: int
    ) -> int:
        self.kind.append(kind)
        self.parent.append(parent)
        self.weight.append(weight)
        self.elapsed_s.append(t)
        self.loss.append(loss)
        self.depth.append(depth)
        self.action.append(action)
        self.candidate.append(cand)
        return len(self.kind) - 1

    def children(self) -> list[list[int]]:
        """Adjacency lists parent -> children (the edges of E, without the Θ links)."""
        kids: list[list[int]] = [[] for _ in self.kind]
        for v, p in enumerate(self.parent):
            if p >= 0:
                kids[p].append(v)
        return kids


def create_tree(inst: Instance, shape: TreeShape = "full", max_vertices: int = DEFAULT_MAX_VERTICES) -> TimeEnergyTree:
    """Algorithm 1 (CreateTree) with the robust estimators.

    Raises
    ------
    SearchLimitExceeded
        When the tree would have more than ``max_vertices`` vertices.
    """
    pool, _ = candidates(inst, "robust")
    tree = TimeEnergyTree(candidates=list(pool))
    by_model: dict[str, list[int]] = {}
    for ci, cand in enumerate(pool):
        by_model.setdefault(cand.model.name, []).append(ci)
    for model in inst.models:  # lines 2-3: one v_m per model
        root = tree._add(_KIND_MODEL, -1, 0.0, 0.0, model.loss, 0, -1, -1)
        for ci in by_model.get(model.name, []):  # lines 10-17
            cand = pool[ci]
            tau = cand.variant.quantize_time_s
            if tau > inst.t_max_s:
                continue
            loss = model.loss + cand.estimate.loss_jump
            vq = tree._add(_KIND_QUANT, root, cand.variant.quantize_energy_j, tau, loss, 0, -1, ci)
            _grow(tree, inst, cand, ci, vq, shape, max_vertices)
    return tree


def _grow(
    tree: TimeEnergyTree,
    inst: Instance,
    cand: Candidate,
    ci: int,
    vq: int,
    shape: TreeShape,
    max_vertices: int,
) -> None:
    """Lines 18-39 for one bit-width vertex: the epochs' state vertices and the Θ links."""
    t_opt, e_opt = cand.options.time_s, cand.options.energy_j
    m, k_rob = len(cand.options), cand.epochs
    delta = cand.estimate.epoch_delta
    level_ids = np.asarray([vq], dtype=np.int64)
    level_t = np.asarray([tree.elapsed_s[vq]])
    level_loss = tree.loss[vq]
    level_act = np.asarray([-1], dtype=np.int64)
    for k in range(1, k_rob + 1):
        if shape == "full" or k == 1:
            par = np.repeat(np.arange(level_ids.shape[0]), m)
            act = np.tile(np.arange(m, dtype=np.int64), level_ids.shape[0])
        else:
            par = np.arange(level_ids.shape[0])
            act = level_act
        new_t = level_t[par] + t_opt[act]
        ok = new_t <= inst.t_max_s  # lines 21 and 31 (an infeasible action gets no edge)
        par, act, new_t = par[ok], act[ok], new_t[ok]
        if len(tree) + new_t.shape[0] > max_vertices:
            raise SearchLimitExceeded(
                f"{'jqodi-literal' if shape == 'full' else 'jqodi-stationary'}: the time-energy tree exceeds "
                f"{max_vertices} vertices at {cand.label}, epoch {k} of "
                f"K_rob={k_rob} ({m} (server, partition) actions per epoch: up to {m}^{k_rob} = "
                f"10^{k_rob * math.log10(max(m, 1)):.1f} paths); use --method jqodi (the graph DP), "
                "or raise --jqodi-max-vertices"
            )
        level_loss = level_loss + delta  # lines 23 and 33
        ids = np.empty(new_t.shape[0], dtype=np.int64)
        for n in range(new_t.shape[0]):
            ids[n] = tree._add(
                _KIND_STATE,
                int(level_ids[par[n]]),
                float(e_opt[act[n]]),
                float(new_t[n]),
                level_loss,
                k,
                int(act[n]),
                ci,
            )
        level_ids, level_t, level_act = ids, new_t, act
        if level_ids.shape[0] == 0:
            return
    for n in range(level_ids.shape[0]):  # lines 38-39: feasible final states -> Θ
        if level_t[n] < inst.t_max_s and level_loss < inst.l_max:
            tree.theta.append(int(level_ids[n]))


@dataclass(frozen=True)
class PathRecord:
    """A path from a model vertex to Θ: its last state vertex and its weight w (energy, J).

    The vertex sequence is ``TimeEnergyTree`` parents from ``end`` up to the model vertex.
    """

    end: int
    weight: float


def find_paths(tree: TimeEnergyTree) -> list[PathRecord]:
    """Algorithms 2-3: depth-first TRAVERSAL from every model vertex, collecting the paths into Θ."""
    kids = tree.children()
    linked = set(tree.theta)
    paths: list[PathRecord] = []
    for root, kind in enumerate(tree.kind):  # Algorithm 2, line 1: for v in v_m
        if kind != _KIND_MODEL:
            continue
        # Algorithm 3 with an explicit stack; w is carried per frame (w + weight on the way down,
        # restored on the way back, as lines 8 and 11)
        stack: list[tuple[int, float]] = [(root, 0.0)]
        while stack:
            v, w = stack.pop()
            if v in linked:  # the edge v -> Θ: lines 1-4 record (path, w)
                paths.append(PathRecord(v, w))
            for child in reversed(kids[v]):  # line 5
                stack.append((child, w + tree.weight[child]))
    return paths


def _ancestor_at_depth(tree: TimeEnergyTree, v: int, depth: int) -> int:
    while tree.depth[v] > depth:
        v = tree.parent[v]
    return v


def select_path(inst: Instance, tree: TimeEnergyTree, paths: list[PathRecord]) -> tuple[PathRecord, float] | None:
    """Algorithm 4 (SelectPath): the path of least ``w · risk / opp``; returns it with its score.

    ``opp = T_exp / T_rob`` (line 4) with ``T_rob`` the elapsed time at depth K̂_rob and ``T_exp`` at
    depth K̂_exp on the same path; ``risk = L_exp / L_rob`` (line 7); see :mod:`edgetune.planner.score`.
    Ties keep the first path in traversal order.
    """
    best: tuple[float, int] | None = None
    cache: dict[int, tuple[int, float]] = {}
    for n, rec in enumerate(paths):
        ci = tree.candidate[rec.end]
        if ci not in cache:
            cand = tree.candidates[ci]
            cache[ci] = (expected_depth(inst, cand), risk_factor(inst, cand))
        k_exp, risk = cache[ci]
        t_rob = tree.elapsed_s[rec.end]
        t_exp = tree.elapsed_s[_ancestor_at_depth(tree, rec.end, k_exp)]
        score = float(path_scores(rec.weight, t_exp, t_rob, risk))
        if best is None or score < best[0]:
            best = (score, n)
    if best is None:
        return None
    return paths[best[1]], best[0]


def path_actions(tree: TimeEnergyTree, rec: PathRecord) -> list[int]:
    """The option index of each epoch along a path, first epoch first."""
    acts: list[int] = []
    v = rec.end
    while tree.kind[v] == _KIND_STATE:
        acts.append(tree.action[v])
        v = tree.parent[v]
    return acts[::-1]


@dataclass(frozen=True)
class JqodiStats:
    """Size of the search: tree vertices and paths reaching Θ."""

    vertices: int
    paths: int


def plan_jqodi(
    inst: Instance, method: str = "jqodi-literal", shape: TreeShape = "full", max_vertices: int = DEFAULT_MAX_VERTICES
) -> tuple[Plan, JqodiStats]:
    """Run Algorithms 1-4 and return the plan (robust schedule of K̂_rob epochs) and search sizes.

    Raises
    ------
    SearchLimitExceeded
        When the tree exceeds ``max_vertices`` (``shape="full"`` explodes with K̂_rob).
    """
    start = time.perf_counter()
    tree = create_tree(inst, shape, max_vertices)
    paths = find_paths(tree)
    stats = JqodiStats(len(tree), len(paths))
    chosen = select_path(inst, tree, paths)
    if chosen is None:
        _, dropped = candidates(inst, "robust")
        reason = f"no path of the time-energy tree reaches Θ (T < T_max={inst.t_max_s:g} s, L < L_max)"
        if dropped:
            reason += ": " + "; ".join(dropped)
        return Plan.infeasible(method, reason, time.perf_counter() - start, "robust"), stats
    rec, _score = chosen
    cand = tree.candidates[tree.candidate[rec.end]]
    actions = canonical_actions(path_actions(tree, rec), expected_depth(inst, cand))
    plan = make_plan(inst, method, cand, actions)
    return plan.with_solve_time(time.perf_counter() - start), stats
