"""edgetune's exact planner: minimum energy over K interchangeable epochs (Eq. 13), label-setting DP.

For one variant M_(a,q) with K̂ epochs and per-epoch options o = (server, partition) of cost
``(t_o, e_o)`` (Eq. 5-10), Eq. 13 asks for ``min Σ_k e_(o_k)`` subject to ``Σ_k t_(o_k) < B`` with
``B = T_max - τ_(a,q)``. Costs do not depend on the epoch or on earlier actions, so only the multiset
of chosen options matters: this is a cardinality-constrained (exactly K items) unbounded knapsack,
which contains subset-sum, hence no polynomial algorithm is expected; the label-setting below is
pseudo-polynomial (the labels of a layer have distinct times) and exact. It uses:

1. **Pareto pruning of the options.** An option with ``t' <= t`` and ``e' <= e`` of another can
   always replace it; only the (time, energy) frontier is kept (sorted by time, energy falling).
2. **Closed forms at the ends.** ``K·t_min >= B``: infeasible. ``K·t_(cheapest) < B``: K copies of
   the cheapest option are optimal (each epoch is at its energy minimum).
3. **An LP bound.** Mixing options fractionally, ``r`` epochs with total time <= ``C`` need at least
   ``r·h(C/r)`` energy, ``h`` the lower convex hull of the frontier. It gives a per-label lower bound
   and an incumbent (round the LP's two hull vertices down to a feasible integer mix, then improve by
   single swaps).
4. **Reduced-cost enumeration.** With the LP's supporting line through its two hull vertices a, b,
   ``E = LP + Σ n_i·r_i + λ·slack`` (``r_i >= 0`` reduced costs), so only the counts of the options
   other than a, b with ``Σ n_i·r_i <= incumbent - LP`` need enumerating, and for each the best
   a/b split is closed-form. If that enumeration would exceed 200 000 nodes (near-collinear
   frontiers), the label-setting below is used instead; both are exact.
5. **Label-setting over epochs.** Layer k holds the Pareto-minimal (T, E) pairs reachable with k
   epochs; permutations of a multiset land on the same label and are merged; a label is dropped when
   ``T + (K-k)·t_min >= B`` (cannot finish) or when ``E + bound > incumbent`` (cannot improve).
   A first pass keeping only the 64 most promising labels per layer (a beam) tightens the incumbent;
   the second, exact pass keeps every label that can still beat it.

Across variants, candidates are visited by increasing LP bound ``ε_(a,q) + K·h(B/K)`` and skipped
when that bound cannot beat the best plan so far. The pruning tolerance (relative 1e-12) only keeps
extra labels; it never drops a better one beyond floating-point rounding of the sums.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edgetune.planner.estimates import Flavour
from edgetune.planner.instance import Instance
from edgetune.planner.plan import Plan
from edgetune.planner.problem import Candidate, candidates, make_plan

__all__ = ["KnapsackResult", "lower_hull", "lp_bound", "pareto_frontier", "plan_exact", "solve_epochs"]

_REL_TOL = 1e-12
_BEAM_WIDTH = 64
_MAX_NODES = 200_000

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def pareto_frontier(time_s: FloatArray, energy_j: FloatArray) -> IntArray:
    """Indices of the non-dominated options, sorted by time ascending (energy strictly falling).

    Of options with identical (time, energy), the lowest index is kept.
    """
    order = np.lexsort((np.arange(time_s.shape[0]), energy_j, time_s))
    e_sorted = energy_j[order]
    keep = np.ones(order.shape[0], dtype=bool)
    if order.shape[0] > 1:
        prev_min = np.minimum.accumulate(e_sorted)[:-1]
        keep[1:] = e_sorted[1:] < prev_min
    return order[keep].astype(np.int64)


def lower_hull(time_s: FloatArray, energy_j: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vertices of the lower convex hull of a frontier (``time_s`` ascending, ``energy_j`` falling)."""
    hull: list[int] = []
    for i in range(time_s.shape[0]):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (time_s[b] - time_s[a]) * (energy_j[i] - energy_j[a]) - (energy_j[b] - energy_j[a]) * (
                time_s[i] - time_s[a]
            )
            if cross <= 0:  # b is on or above the segment a-i
                hull.pop()
            else:
                break
        hull.append(i)
    idx = np.asarray(hull, dtype=np.int64)
    return time_s[idx].astype(np.float64), energy_j[idx].astype(np.float64)


def lp_bound(remaining: int, capacity_s: FloatArray | float, hull_t: FloatArray, hull_e: FloatArray) -> FloatArray:
    """LP lower bound on the energy of ``remaining`` epochs whose total time is at most ``capacity_s``.

    ``remaining·h(capacity/remaining)`` with ``h`` the lower hull (``inf`` when even the fastest
    option does not fit; the cheapest option's energy beyond the hull's right end).
    """
    cap = np.asarray(capacity_s, dtype=np.float64)
    if remaining == 0:
        return np.where(cap > 0, 0.0, np.inf)
    avg = cap / remaining
    val = remaining * np.interp(avg, hull_t, hull_e)
    return np.where(avg >= hull_t[0], val, np.inf)


@dataclass(frozen=True)
class KnapsackResult:
    """Optimal multiset for one variant.

    Attributes
    ----------
    counts : dict of int to int
        Option index -> number of epochs using it.
    time_s, energy_j : float
        Σ t and Σ e of the epochs (without the quantization terms).
    labels : int
        Labels created by the label-setting (0 when a closed form applied).
    """

    counts: dict[int, int]
    time_s: float
    energy_j: float
    labels: int

    def option_indices(self, energy_j: FloatArray, time_s: FloatArray) -> list[int]:
        """One option per epoch, cheapest-energy epochs first (the order only matters for early stops)."""
        order = sorted(self.counts, key=lambda i: (energy_j[i], time_s[i], i))
        return [i for i in order for _ in range(self.counts[i])]


def _incumbent(t: FloatArray, e: FloatArray, k_epochs: int, budget: float) -> dict[int, int] | None:
    """A feasible integer mix: round the LP's hull mix down, then apply improving single swaps."""
    ht, _he = lower_hull(t, e)
    avg = budget / k_epochs
    pos = int(np.searchsorted(ht, avg, side="right")) - 1
    pos = max(0, min(pos, ht.shape[0] - 2))
    ia = int(np.flatnonzero(t == ht[pos])[0])
    ib = int(np.flatnonzero(t == ht[pos + 1])[0])
    n_b = int(np.floor((budget - k_epochs * t[ia]) / (t[ib] - t[ia])))
    n_b = max(0, min(k_epochs, n_b))
    while n_b > 0 and (k_epochs - n_b) * t[ia] + n_b * t[ib] >= budget:
        n_b -= 1
    counts = {ia: k_epochs - n_b}
    if n_b:
        counts[ib] = n_b
    if sum(t[i] * n for i, n in counts.items()) >= budget:
        return None
    # improving single swaps: replace one epoch of option u by option w (cheaper, still fits)
    for _ in range(4 * k_epochs):
        total_t = float(sum(t[i] * n for i, n in counts.items()))
        slack = budget - total_t
        best: tuple[float, int, int] | None = None
        for u in counts:
            fits = (t - t[u] < slack) & (e < e[u])
            if not fits.any():
                continue
            cand = np.flatnonzero(fits)
            w = int(cand[np.argmin(e[cand])])
            gain = float(e[u] - e[w])
            if best is None or gain > best[0]:
                best = (gain, u, w)
        if best is None:
            break
        _, u, w = best
        counts[u] -= 1
        if counts[u] == 0:
            del counts[u]
        counts[w] = counts.get(w, 0) + 1
    return counts


class _NodeLimit(Exception):
    pass


def _reduced_cost_search(
    t: FloatArray,
    e: FloatArray,
    k_epochs: int,
    budget_s: float,
    ub: float,
    ht: FloatArray,
    he: FloatArray,
    max_nodes: int,
) -> tuple[float, dict[int, int] | None, int] | None:
    """Exact search by reduced costs; ``None`` when it would visit more than ``max_nodes`` nodes.

    The LP optimum mixes the two hull vertices ``a`` (faster) and ``b`` (cheaper) around the average
    time ``B/K``; with the supporting line ``e + λ·t = μ`` every option has reduced cost
    ``r_i = e_i + λ·t_i - μ >= 0`` (0 for a and b), and any schedule costs
    ``E = LP + Σ_i n_i·r_i + λ·(B - T)``. So a schedule beating the incumbent has
    ``Σ n_i·r_i <= incumbent - LP``, which bounds the counts of the other options; for fixed counts of
    those, the best a/b split is closed-form (as many b as fit strictly below the budget). The search
    enumerates those counts depth-first and tightens the incumbent as it goes. Returns
    ``(energy, counts or None, nodes)``.
    """
    avg = budget_s / k_epochs
    pos = int(np.searchsorted(ht, avg, side="right")) - 1
    pos = max(0, min(pos, ht.shape[0] - 2))
    a = int(np.flatnonzero(t == ht[pos])[0])
    b = int(np.flatnonzero(t == ht[pos + 1])[0])
    ta, tb, ea, eb = float(t[a]), float(t[b]), float(e[a]), float(e[b])
    lam = (ea - eb) / (tb - ta)
    mu = ea + lam * ta
    lp = k_epochs * mu - lam * budget_s
    red = e + lam * t - mu
    others = [i for i in np.argsort(-red, kind="stable").tolist() if i not in (a, b)]
    t_min = float(t.min())
    best_e = ub
    best: dict[int, int] | None = None
    nodes = 0
    chosen: dict[int, int] = {}

    def basic(cnt: int, used_t: float, used_e: float) -> None:
        nonlocal best_e, best
        k_left, cap = k_epochs - cnt, budget_s - used_t
        if k_left == 0:
            if cap > 0 and used_e < best_e:
                best_e, best = used_e, dict(chosen)
            return
        if k_left * ta >= cap:
            return
        n_b = min(k_left, int(np.floor((cap - k_left * ta) / (tb - ta))))
        while n_b > 0 and (k_left - n_b) * ta + n_b * tb >= cap:
            n_b -= 1
        energy = used_e + (k_left - n_b) * ea + n_b * eb
        if energy < best_e:
            best_e = energy
            best = dict(chosen)
            best[a] = best.get(a, 0) + k_left - n_b
            if n_b:
                best[b] = best.get(b, 0) + n_b
            best = {i: n for i, n in best.items() if n}

    def visit(start: int, cnt: int, used_t: float, used_e: float, red_sum: float) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > max_nodes:
            raise _NodeLimit
        basic(cnt, used_t, used_e)
        for idx in range(start, len(others)):
            i = others[idx]
            ti, ei, ri = float(t[i]), float(e[i]), float(red[i])
            n = 1
            while cnt + n <= k_epochs:
                if lp + red_sum + n * ri > best_e * (1 + _REL_TOL):
                    break
                if used_t + n * ti + (k_epochs - cnt - n) * t_min >= budget_s:
                    break
                chosen[i] = n
                visit(idx + 1, cnt + n, used_t + n * ti, used_e + n * ei, red_sum + n * ri)
                n += 1
            chosen.pop(i, None)

    try:
        visit(0, 0, 0.0, 0.0, 0.0)
    except _NodeLimit:
        return None
    return best_e, best, nodes


def _label_setting(
    t: FloatArray,
    e: FloatArray,
    k_epochs: int,
    budget_s: float,
    ub: float,
    ht: FloatArray,
    he: FloatArray,
    width: int | None,
) -> tuple[float, dict[int, int], int] | None:
    """Label-setting over epochs on frontier options; returns (energy, counts, labels) of the best.

    Layer k holds the Pareto-minimal (T, E) labels of k epochs that can still finish below the
    budget and (by the LP bound) beat ``ub``. With ``width`` only that many labels of least
    ``E + bound`` survive each layer (a beam: fast, not exact).
    """
    t_min = float(t[0])
    lab_t = np.zeros(1)
    lab_e = np.zeros(1)
    parents: list[IntArray] = []
    choices: list[IntArray] = []
    n_labels = 1
    m = t.shape[0]
    for k in range(1, k_epochs + 1):
        rem = k_epochs - k
        cand_t = (lab_t[:, None] + t[None, :]).ravel()
        cand_e = (lab_e[:, None] + e[None, :]).ravel()
        ok = cand_t + rem * t_min < budget_s
        bound = cand_e + lp_bound(rem, budget_s - cand_t, ht, he)
        if np.isfinite(ub):
            ok &= bound <= ub * (1 + _REL_TOL)
        sel = np.flatnonzero(ok)
        if sel.shape[0] == 0:
            return None
        ct, ce = cand_t[sel], cand_e[sel]
        order = np.lexsort((ce, ct))
        ce_sorted = ce[order]
        keep = np.ones(order.shape[0], dtype=bool)
        if order.shape[0] > 1:
            keep[1:] = ce_sorted[1:] < np.minimum.accumulate(ce_sorted)[:-1]
        chosen = sel[order[keep]]
        if width is not None and chosen.shape[0] > width:
            chosen = chosen[np.argsort(bound[chosen], kind="stable")[:width]]
        parents.append(chosen // m)
        choices.append(chosen % m)
        lab_t, lab_e = cand_t[chosen], cand_e[chosen]
        n_labels += int(chosen.shape[0])
    final = np.flatnonzero(lab_t < budget_s)
    if final.shape[0] == 0:
        return None
    j = int(final[np.argmin(lab_e[final])])
    energy = float(lab_e[j])
    counts: dict[int, int] = {}
    for layer in range(k_epochs - 1, -1, -1):
        o = int(choices[layer][j])
        counts[o] = counts.get(o, 0) + 1
        j = int(parents[layer][j])
    return energy, counts, n_labels


def solve_epochs(
    time_s: FloatArray,
    energy_j: FloatArray,
    k_epochs: int,
    budget_s: float,
    upper_bound_j: float = float("inf"),
) -> KnapsackResult | None:
    """Exactly minimise ``Σ e`` over ``k_epochs`` options with ``Σ t < budget_s``.

    Parameters
    ----------
    time_s, energy_j : ndarray
        Per-epoch time and energy of each option.
    k_epochs : int
        Number of epochs K (>= 1).
    budget_s : float
        Strict bound on the epochs' total time.
    upper_bound_j : float
        Only solutions strictly cheaper than this matter (prunes more); ``inf`` by default.

    Returns
    -------
    KnapsackResult or None
        ``None`` when no schedule fits, or none is cheaper than ``upper_bound_j``.
    """
    t_all = np.asarray(time_s, dtype=np.float64)
    e_all = np.asarray(energy_j, dtype=np.float64)
    front = pareto_frontier(t_all, e_all)
    t, e = t_all[front], e_all[front]
    if k_epochs * t[0] >= budget_s:
        return None
    if k_epochs * t[-1] < budget_s:  # every epoch at its cheapest option
        energy = k_epochs * float(e[-1])
        if energy >= upper_bound_j:
            return None
        return KnapsackResult({int(front[-1]): k_epochs}, k_epochs * float(t[-1]), energy, 0)
    ht, he = lower_hull(t, e)
    if float(lp_bound(k_epochs, budget_s, ht, he)) > upper_bound_j * (1 + _REL_TOL):
        return None
    inc = _incumbent(t, e, k_epochs, budget_s)
    best_counts: dict[int, int] | None = None
    ub = upper_bound_j
    if inc is not None:
        inc_e = float(sum(e[i] * n for i, n in inc.items()))
        if inc_e < ub:
            ub, best_counts = inc_e, inc
    # reduced-cost enumeration around the LP's two hull vertices; the label-setting is the fallback
    rc = _reduced_cost_search(t, e, k_epochs, budget_s, ub, ht, he, _MAX_NODES)
    n_labels = 0
    if rc is not None:
        n_labels = rc[2]
        if rc[1] is not None and rc[0] < ub:
            ub, best_counts = rc[0], rc[1]
    else:
        # a beam search (the label-setting keeping the most promising labels) tightens the incumbent,
        # then the exact label-setting only keeps labels that can still beat it
        beam = _label_setting(t, e, k_epochs, budget_s, ub, ht, he, width=_BEAM_WIDTH)
        if beam is not None and beam[0] < ub:
            ub, best_counts = beam[0], beam[1]
        found = _label_setting(t, e, k_epochs, budget_s, ub, ht, he, width=None)
        if found is not None:
            n_labels = found[2]
            if found[0] < ub or best_counts is None:
                best_counts = found[1]
    if best_counts is None:
        return None
    mapped = {int(front[i]): n for i, n in best_counts.items()}
    tot_t = float(sum(t_all[i] * n for i, n in mapped.items()))
    tot_e = float(sum(e_all[i] * n for i, n in mapped.items()))
    if tot_e >= upper_bound_j:
        return None
    return KnapsackResult(mapped, tot_t, tot_e, n_labels)


def plan_exact(
    inst: Instance,
    flavour: Flavour,
    method: str,
    bits: int | None = None,
    pool: Sequence[Candidate] | None = None,
) -> Plan:
    """The minimum-energy plan feasible under ``flavour`` estimates (optionally only ``bits`` variants).

    Parameters
    ----------
    inst : Instance
        The instance.
    flavour : {"expected", "robust"}
        Estimators used for K̂ and the loss check.
    method : str
        Name written into the plan.
    bits : int, optional
        Restrict to variants of this bit-width (``full``: 32, ``minimal``: 1).
    pool : sequence of Candidate, optional
        Pre-built candidates (default: built from ``inst``).
    """
    start = time.perf_counter()
    dropped: list[str] = []
    if pool is None:
        pool, dropped = candidates(inst, flavour, bits)
    if not pool:
        what = f"{bits}-bit variant" if bits is not None else "variant"
        reason = f"no {what} can reach L_max={inst.l_max:g} under the {flavour} estimates"
        if dropped:
            reason += ": " + "; ".join(dropped)
        return Plan.infeasible(method, reason, time.perf_counter() - start, flavour)
    bounds = []
    for i, cand in enumerate(pool):
        front = pareto_frontier(cand.options.time_s, cand.options.energy_j)
        ht, he = lower_hull(cand.options.time_s[front], cand.options.energy_j[front])
        lb = cand.variant.quantize_energy_j + float(lp_bound(cand.epochs, cand.budget_s, ht, he))
        bounds.append((lb, i))
    bounds.sort()
    best: tuple[float, float, int, KnapsackResult] | None = None
    for lb, i in bounds:
        if not np.isfinite(lb):
            continue
        if best is not None and lb > best[0] * (1 + _REL_TOL):
            break
        cand = pool[i]
        ub = np.inf if best is None else best[0] - cand.variant.quantize_energy_j
        res = solve_epochs(cand.options.time_s, cand.options.energy_j, cand.epochs, cand.budget_s, ub)
        if res is None:
            continue
        total = cand.variant.quantize_energy_j + res.energy_j
        key = (total, cand.variant.quantize_time_s + res.time_s, i, res)
        if best is None or key[:3] < best[:3]:
            best = key
    elapsed = time.perf_counter() - start
    if best is None:
        fastest = min(cand.variant.quantize_time_s + cand.epochs * float(cand.options.time_s.min()) for cand in pool)
        return Plan.infeasible(
            method,
            f"no schedule meets T_max={inst.t_max_s:g} s under the {flavour} estimates "
            f"(fastest plan takes {fastest:.6g} s)",
            elapsed,
            flavour,
        )
    cand, res = pool[best[2]], best[3]
    order = res.option_indices(cand.options.energy_j, cand.options.time_s)
    return make_plan(inst, method, cand, order, time.perf_counter() - start)
