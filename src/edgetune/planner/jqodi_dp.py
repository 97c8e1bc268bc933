"""JQODI as approximate dynamic programming over the layered time-energy graph (paper 004, Section IV).

The paper's complexity claim (Property 2: ``O(max{A·Q·𝒦, |v_m||v_q|, |v_q||v_e|, |v_e|²})``) counts
one state vertex per (model, bit-width, epoch k, edge server, partition), not one per path. This module
builds that graph and searches it with labels instead of enumerating paths:

* **Graph (Algorithm 1).** ``v_m``: one vertex per model; ``v_q``: one per variant M_(a,q) with
  τ_(a,q) < T_max, reached by an edge of weight ε_(a,q); ``v_e``: per variant, layers
  k = 1..K̂_rob of one vertex per action (ES_x, j), each reached from every vertex of layer k − 1 by
  an edge of weight e(k) (Eq. 6) and time t(k) (Eq. 5). The robust loss L_a + γ̂ + k·ℓ̂ (Eq. 12) is
  the same for every vertex of a layer. Vertices of layer K̂_rob with T < T_max and L < L_max link to
  Θ. An edge's weight depends only on its head vertex, so the labels of all vertices of a layer are
  the previous layer's labels shifted; we keep one label set per layer (O(m·|labels|) work per layer
  instead of the m² edges).
* **Labels (Algorithms 2-3 as DP).** A label is a partial path's (T, E) (its robust loss is the
  layer's). Algorithm 4's score ``w·risk/opp`` with ``opp = T(K̂_exp)/T(K̂_rob)`` rewards a path
  whose first K̂_exp epochs (the *expected phase*) are slow, so in that phase a faster label does
  not dominate a slower one: labels are merged only at equal T (keep the least E). In the last
  K̂_rob − K̂_exp epochs (the *robust tail*) less time and less energy are both better, so the tail is
  a Pareto frontier of (T, E) sums, computed backwards from Θ once per variant (the cost-to-go), and
  joined with every expected-phase label at layer K̂_exp. Both are exact (the literal search's
  optimum is kept).
* **Caps (where optimality can be lost).** When a layer has more than ``max_labels`` labels, they are
  ε-merged: the layer's time range is cut into ``max_labels`` buckets and each keeps its least-energy
  label, plus the fastest label (so a feasible path survives whenever one exists). With more than
  ``max_phase_actions`` actions per epoch, the expected phase extends only with actions on the fast
  (t, e) frontier or on the slow-cheap one (no action both slower-or-equal and cheaper-or-equal).
  The tail only ever needs the fast frontier (exact). Bounds that cannot change the result prune
  labels: a label that can no longer finish before T_max, and one whose LP energy bound times risk
  (score ≥ w·risk since opp ≤ 1) exceeds the best score found so far.
* **Algorithm 4** scores every (expected-phase label, tail label) pair that reaches Θ and returns the
  least score over all variants.

The chosen path lists each phase's actions in option order (:func:`score.canonical_actions`). See
``docs/planner.md`` for the reading next to the paper's words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edgetune.planner.exact import lower_hull, lp_bound, pareto_frontier, solve_epochs
from edgetune.planner.instance import Instance
from edgetune.planner.plan import Plan
from edgetune.planner.problem import Candidate, candidates, make_plan
from edgetune.planner.score import canonical_actions, expected_depth, path_scores, risk_factor

__all__ = ["DEFAULT_MAX_LABELS", "DEFAULT_MAX_PHASE_ACTIONS", "DpStats", "plan_jqodi_dp"]

DEFAULT_MAX_LABELS = 512
DEFAULT_MAX_PHASE_ACTIONS = 64
_SAME_TIME = 1e-12  # labels whose T differ by less than this fraction of T_max have "equal" T

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class DpStats:
    """Size of the search.

    Attributes
    ----------
    vertices : int
        |v_m| + |v_q| + |v_e| of the layered graph (Property 2's count; v_e implicit).
    labels : int
        Labels kept over all layers and variants.
    merged : bool
        Whether a cap was applied (ε-merging or the action restriction); ``False`` means the result
        is the literal Algorithms 1-4's.
    score : float
        Algorithm 4's score of the chosen path (``inf`` when none reaches Θ).
    """

    vertices: int
    labels: int
    merged: bool
    score: float = float("inf")


@dataclass
class _Layers:
    """Back-pointers of the kept labels, layer by layer (layer 0: the start label)."""

    parent: list[IntArray]
    action: list[IntArray]

    def actions(self, last: int) -> list[int]:
        acts: list[int] = []
        idx = last
        for k in range(len(self.parent) - 1, 0, -1):
            acts.append(int(self.action[k][idx]))
            idx = int(self.parent[k][idx])
        return acts[::-1]


def _group_argmin(vals: FloatArray, starts: IntArray) -> IntArray:
    """Position of the least value of each contiguous group (first on ties); groups begin at ``starts``."""
    n = vals.shape[0]
    gmin = np.minimum.reduceat(vals, starts)
    sizes = np.diff(np.append(starts, n))
    idx = np.arange(n, dtype=np.int64)
    hit = np.where(vals == np.repeat(gmin, sizes), idx, n)
    return np.asarray(np.minimum.reduceat(hit, starts), dtype=np.int64)


def _merge_layer(t: FloatArray, e: FloatArray, same: float, max_labels: int) -> tuple[IntArray, bool]:
    """Expected-phase reduction: one label per distinct T (least E), then ε-merging over ``max_labels``.

    Returns the kept indices in time order and whether ε-merging applied. Labels whose times differ by
    at most ``same`` count as equal (exact up to rounding). Over the cap, the time range is cut into
    ``max_labels`` buckets, each keeping its least-energy label, and the fastest label is kept too.
    """
    order = np.argsort(t)  # ties need no order: equal (T, E) labels give the same canonical schedule
    ts, es = t[order], e[order]
    starts = np.flatnonzero(np.concatenate([[True], np.diff(ts) > same]))
    pos = _group_argmin(es, starts)
    if pos.shape[0] <= max_labels:
        return order[pos], False
    tk = ts[pos]
    width = (tk[-1] - tk[0]) / (max_labels - 1) if tk[-1] > tk[0] else 1.0
    key = np.floor((tk - tk[0]) / width).astype(np.int64)
    starts2 = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    sub = _group_argmin(es[pos], starts2)
    if sub[0] != 0:  # the fastest label (a feasible completion exists whenever any does)
        sub = np.concatenate([[0], sub])
    return order[pos[sub]], True


def _frontier(t: FloatArray, e: FloatArray, max_labels: int) -> tuple[IntArray, bool]:
    """Robust-tail reduction: the (T, E) Pareto frontier in time order, ε-merged over ``max_labels``."""
    order = np.argsort(t)
    es = e[order]
    keep = np.ones(order.shape[0], dtype=bool)
    if order.shape[0] > 1:
        keep[1:] = es[1:] < np.minimum.accumulate(es)[:-1]
    pos = np.flatnonzero(keep)
    if pos.shape[0] <= max_labels:
        return order[pos], False
    tk = t[order[pos]]
    width = (tk[-1] - tk[0]) / (max_labels - 1) if tk[-1] > tk[0] else 1.0
    key = np.floor((tk - tk[0]) / width).astype(np.int64)
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    sub = _group_argmin(es[pos], starts)
    if sub[0] != 0:
        sub = np.concatenate([[0], sub])
    return order[pos[sub]], True


def _phase_actions(t: FloatArray, e: FloatArray, limit: int) -> tuple[IntArray, bool]:
    """Actions the expected phase extends with: all, or (over ``limit``) the fast and slow-cheap frontiers."""
    if t.shape[0] <= limit:
        return np.arange(t.shape[0], dtype=np.int64), False
    fast = pareto_frontier(t, e)
    slow = pareto_frontier(-t, e)
    return np.union1d(fast, slow).astype(np.int64), True


@dataclass(frozen=True)
class _VariantResult:
    score: float
    actions: list[int]
    labels: int
    merged: bool


def _expected_phase(
    cand: Candidate,
    inst: Instance,
    k_exp: int,
    acts: IntArray,
    prune: tuple[float, float, FloatArray, FloatArray],
    max_labels: int,
) -> tuple[FloatArray, FloatArray, _Layers, int, bool]:
    """Forward labels (T, E) of layers 1..K̂_exp; T includes τ_(a,q), E includes ε_(a,q)."""
    t_opt, e_opt = cand.options.time_s, cand.options.energy_j
    k_rob, t_max = cand.epochs, inst.t_max_s
    t_min = float(t_opt.min())
    best, risk, hull_t, hull_e = prune
    t_lab = np.asarray([cand.variant.quantize_time_s])
    e_lab = np.asarray([cand.variant.quantize_energy_j])
    layers = _Layers([np.zeros(1, dtype=np.int64)], [np.full(1, -1, dtype=np.int64)])
    n_labels, merged = 1, False
    same = _SAME_TIME * t_max
    for k in range(1, k_exp + 1):
        ct = (t_lab[:, None] + t_opt[acts][None, :]).ravel()
        ce = (e_lab[:, None] + e_opt[acts][None, :]).ravel()
        par = np.repeat(np.arange(t_lab.shape[0], dtype=np.int64), acts.shape[0])
        act = np.tile(acts, t_lab.shape[0])
        ok = ct + (k_rob - k) * t_min < t_max  # can still reach Θ
        if np.isfinite(best):  # score >= risk * w >= risk * (E + LP bound of the rest)
            rest = lp_bound(k_rob - k, t_max - ct, hull_t, hull_e)
            ok &= risk * (ce + rest) <= best * (1 + 1e-12)
        ct, ce, par, act = ct[ok], ce[ok], par[ok], act[ok]
        if ct.shape[0] == 0:
            return ct, ce, layers, n_labels, merged
        keep, capped = _merge_layer(ct, ce, same, max_labels)
        merged |= capped
        t_lab, e_lab = ct[keep], ce[keep]
        layers.parent.append(par[keep])
        layers.action.append(act[keep])
        n_labels += int(keep.shape[0])
    return t_lab, e_lab, layers, n_labels, merged


def _robust_tail(
    cand: Candidate, inst: Instance, r_epochs: int, slack_s: float, max_labels: int
) -> tuple[FloatArray, FloatArray, _Layers, int, bool]:
    """Pareto frontier of (T, E) over the last ``r_epochs`` epochs (fast-frontier actions only: exact)."""
    t_opt, e_opt = cand.options.time_s, cand.options.energy_j
    acts = pareto_frontier(t_opt, e_opt)
    t_min = float(t_opt.min())
    t_lab, e_lab = np.zeros(1), np.zeros(1)
    layers = _Layers([np.zeros(1, dtype=np.int64)], [np.full(1, -1, dtype=np.int64)])
    n_labels, merged = 1, False
    for r in range(1, r_epochs + 1):
        ct = (t_lab[:, None] + t_opt[acts][None, :]).ravel()
        ce = (e_lab[:, None] + e_opt[acts][None, :]).ravel()
        par = np.repeat(np.arange(t_lab.shape[0], dtype=np.int64), acts.shape[0])
        act = np.tile(acts, t_lab.shape[0])
        ok = ct + (r_epochs - r) * t_min < slack_s
        ct, ce, par, act = ct[ok], ce[ok], par[ok], act[ok]
        if ct.shape[0] == 0:
            return ct, ce, layers, n_labels, merged
        keep, capped = _frontier(ct, ce, max_labels)
        merged |= capped
        t_lab, e_lab = ct[keep], ce[keep]
        layers.parent.append(par[keep])
        layers.action.append(act[keep])
        n_labels += int(keep.shape[0])
    return t_lab, e_lab, layers, n_labels, merged


def _solve_variant(
    inst: Instance, cand: Candidate, best: float, max_labels: int, max_phase_actions: int
) -> _VariantResult | None:
    """The least-score path of one variant (``None`` when none reaches Θ or none beats ``best``)."""
    t_opt, e_opt = cand.options.time_s, cand.options.energy_j
    k_rob = cand.epochs
    k_exp = expected_depth(inst, cand)
    risk = risk_factor(inst, cand)
    front = pareto_frontier(t_opt, e_opt)
    hull_t, hull_e = lower_hull(t_opt[front], e_opt[front])
    acts, restricted = _phase_actions(t_opt, e_opt, max_phase_actions)
    t_e, e_e, head, n1, m1 = _expected_phase(cand, inst, k_exp, acts, (best, risk, hull_t, hull_e), max_labels)
    if t_e.shape[0] == 0:
        return None
    slack = inst.t_max_s - float(t_e.min())
    t_r, e_r, tail, n2, m2 = _robust_tail(cand, inst, k_rob - k_exp, slack, max_labels)
    if t_r.shape[0] == 0:
        return None
    total_t = t_e[:, None] + t_r[None, :]
    scores = path_scores(e_e[:, None] + e_r[None, :], t_e[:, None], total_t, risk)
    scores = np.where(total_t < inst.t_max_s, scores, np.inf)  # Θ: T < T_max (L < L_max holds per variant)
    flat = scores.ravel()
    order = np.lexsort((np.arange(flat.shape[0]), flat))
    for idx in order[:8]:  # the first pair make_plan confirms (a sum can differ from T by an ulp)
        if not np.isfinite(flat[idx]) or flat[idx] > best:
            break
        i, j = divmod(int(idx), t_r.shape[0])
        actions = canonical_actions(head.actions(i) + tail.actions(j), k_exp)
        if make_plan(inst, "jqodi", cand, actions).feasible:
            return _VariantResult(float(flat[idx]), actions, n1 + n2, restricted or m1 or m2)
    return _VariantResult(np.inf, [], n1 + n2, restricted or m1 or m2)


def _incumbent(inst: Instance, cand: Candidate) -> tuple[float, list[int]] | None:
    """A path of the graph to prune against: the minimum-energy multiset, its slowest epochs first.

    Putting the slowest actions in the expected phase maximises T_exp for that multiset, hence its opp.
    Only a bound: the DP keeps every label that could score as well, so the result does not depend on it.
    """
    res = solve_epochs(cand.options.time_s, cand.options.energy_j, cand.epochs, cand.budget_s)
    if res is None:
        return None
    acts = sorted((i for i, n in res.counts.items() for _ in range(n)), key=lambda i: (-cand.options.time_s[i], i))
    k_exp = expected_depth(inst, cand)
    actions = canonical_actions(acts, k_exp)
    if not make_plan(inst, "jqodi", cand, actions).feasible:
        return None
    t = cand.options.time_s[np.asarray(actions, dtype=np.int64)]
    e = cand.options.energy_j[np.asarray(actions, dtype=np.int64)]
    tau, eps = cand.variant.quantize_time_s, cand.variant.quantize_energy_j
    score = float(path_scores(eps + float(e.sum()), tau + float(t[:k_exp].sum()), tau + float(t.sum()), 1.0))
    return score * risk_factor(inst, cand), actions


def plan_jqodi_dp(
    inst: Instance,
    method: str = "jqodi",
    max_labels: int = DEFAULT_MAX_LABELS,
    max_phase_actions: int = DEFAULT_MAX_PHASE_ACTIONS,
) -> tuple[Plan, DpStats]:
    """JQODI by approximate DP over the layered time-energy graph; the plan runs K̂_rob epochs.

    Parameters
    ----------
    inst : Instance
        The instance.
    method : str
        Name written into the plan.
    max_labels : int
        Cap on the labels of a layer (ε-merging beyond it).
    max_phase_actions : int
        Above this many (server, partition) actions, the expected phase extends with frontier actions only.
    """
    start = time.perf_counter()
    pool, dropped = candidates(inst, "robust")
    pool = [c for c in pool if c.variant.quantize_time_s < inst.t_max_s]  # Algorithm 1, line 12
    vertices = len(inst.models) + len(pool) + sum(c.epochs * len(c.options) for c in pool)
    # visit variants by their score lower bound risk * (ε + LP energy bound); stop once it cannot win
    bounds = []
    for i, cand in enumerate(pool):
        front = pareto_frontier(cand.options.time_s, cand.options.energy_j)
        ht, he = lower_hull(cand.options.time_s[front], cand.options.energy_j[front])
        lb = risk_factor(inst, cand) * (
            cand.variant.quantize_energy_j + float(lp_bound(cand.epochs, cand.budget_s, ht, he))
        )
        bounds.append((lb, i))
    bounds.sort()
    best: tuple[float, int, list[int]] | None = None
    if bounds and np.isfinite(bounds[0][0]):
        inc = _incumbent(inst, pool[bounds[0][1]])
        if inc is not None:
            best = (inc[0] * (1 + 1e-9), bounds[0][1], inc[1])  # a hair above: the DP's own path wins ties
    labels, merged = 0, False
    for lb, i in bounds:
        if not np.isfinite(lb) or (best is not None and lb > best[0] * (1 + 1e-12)):
            continue
        res = _solve_variant(inst, pool[i], np.inf if best is None else best[0], max_labels, max_phase_actions)
        if res is None:
            continue
        labels += res.labels
        merged |= res.merged
        if res.actions and (best is None or (res.score, i) < (best[0], best[1])):
            best = (res.score, i, res.actions)
    score = float("inf")
    if best is not None:
        cand = pool[best[1]]
        idx = np.asarray(best[2], dtype=np.int64)
        k_exp = expected_depth(inst, cand)
        t, e = cand.options.time_s[idx], cand.options.energy_j[idx]
        tau, eps = cand.variant.quantize_time_s, cand.variant.quantize_energy_j
        w, t_exp, t_rob = eps + float(e.sum()), tau + float(t[:k_exp].sum()), tau + float(t.sum())
        score = float(path_scores(w, t_exp, t_rob, risk_factor(inst, cand)))
    stats = DpStats(vertices, labels, merged, score)
    if best is None:
        reason = f"no path of the time-energy graph reaches Θ (T < T_max={inst.t_max_s:g} s, L < L_max)"
        if dropped:
            reason += ": " + "; ".join(dropped)
        return Plan.infeasible(method, reason, time.perf_counter() - start, "robust"), stats
    plan = make_plan(inst, method, pool[best[1]], best[2])
    return plan.with_solve_time(time.perf_counter() - start), stats
