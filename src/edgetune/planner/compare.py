"""Side-by-side comparison of the planners on one instance (the paper's Fig. 7(c) and Section V-C).

Plans made with the robust estimates (``jqodi``, ``exact``) budget K̂_rob epochs; the paper reports
each strategy at "the moment when the target loss L_max is reached". Each row therefore also gives
the plan's *expected-case* outcome: the first K̂_exp epochs of its schedule (:func:`evaluate`). The gap
to the Optimum compares those expected-case energies. A method that finds no plan meeting T_max gets
its deadline-free minimum-energy plan evaluated as well (the paper's Full Model misses T_max).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgetune.planner.instance import Instance
from edgetune.planner.methods import make_method
from edgetune.planner.plan import Plan, SearchLimitExceeded
from edgetune.planner.problem import Outcome, evaluate

__all__ = ["COMPARE_METHODS", "CompareRow", "compare_methods", "format_table"]

COMPARE_METHODS: tuple[str, ...] = (
    "jqodi",
    "jqodi-literal",
    "jqodi-stationary",
    "exact",
    "optimum",
    "full",
    "minimal",
)


@dataclass(frozen=True)
class CompareRow:
    """One method's result.

    Attributes
    ----------
    method : str
        Method name.
    plan : Plan or None
        ``None`` when the search bound was exceeded (``error`` says where).
    error : str or None
        The :class:`SearchLimitExceeded` message.
    expected : Outcome or None
        The plan's outcome when the expected estimates come true.
    relaxed : Plan or None
        For a plan infeasible because of T_max: the minimum-energy plan ignoring T_max.
    relaxed_expected : Outcome or None
        Its expected-case outcome.
    """

    method: str
    plan: Plan | None
    error: str | None
    expected: Outcome | None
    relaxed: Plan | None = None
    relaxed_expected: Outcome | None = None


def _relaxed(inst: Instance, method: str) -> tuple[Plan | None, Outcome | None]:
    loose = inst.model_copy(update={"t_max_s": 1e300})
    plan = make_method(method).plan(loose)
    if not plan.feasible:
        return None, None
    return plan, evaluate(inst, plan, "expected")


def compare_methods(
    inst: Instance,
    methods: Sequence[str] = COMPARE_METHODS,
    max_vertices: int | None = None,
    max_labels: int | None = None,
) -> list[CompareRow]:
    """Run every method in ``methods`` on ``inst`` (tree bound and label cap passed to the jqodi methods)."""
    rows: list[CompareRow] = []
    for name in methods:
        opts: dict[str, Any] = {}
        if max_vertices is not None and name in ("jqodi-literal", "jqodi-stationary"):
            opts = {"max_vertices": max_vertices}
        elif max_labels is not None and name == "jqodi":
            opts = {"max_labels": max_labels}
        try:
            plan = make_method(name, **opts).plan(inst)
        except SearchLimitExceeded as exc:
            rows.append(CompareRow(name, None, str(exc), None))
            continue
        if plan.feasible:
            rows.append(CompareRow(name, plan, None, evaluate(inst, plan, "expected")))
        elif plan.reason and "T_max" in plan.reason and not name.startswith("jqodi"):
            rel, rel_out = _relaxed(inst, name)
            rows.append(CompareRow(name, plan, None, None, rel, rel_out))
        else:
            rows.append(CompareRow(name, plan, None, None))
    return rows


def _fmt(x: float | None, spec: str, mark: str = "") -> str:
    if x is None:
        return "-"
    return format(x, spec) + (f" [{mark}]" if mark else "")


_BITS_BY_METHOD = {"full": 32, "minimal": 1}
LEGEND = (
    "Marks: [P] predicted by the cost model from the instance's inputs; [C] calibrated: the value or its "
    "scale is set from a paper figure ({calibrated}); [B] by construction: follows from the method's "
    "definition or a stated input assumption (only 32-bit / 1-bit variants, a single reachable model, "
    "no reachable variant). A match with the paper is evidence only where the matching value is [P]."
)


def _pool_models(inst: Instance, method: str) -> tuple[set[str], set[int]]:
    """Models and bit-widths the method can choose from (reachable under its estimators)."""
    from edgetune.planner.methods import METHODS
    from edgetune.planner.problem import candidates

    flavour = METHODS[method].estimates if method in METHODS else "expected"
    pool, _ = candidates(inst, flavour, _BITS_BY_METHOD.get(method))
    return {c.model.name for c in pool}, {c.variant.bits for c in pool}


def _main_action(plan: Plan) -> tuple[str, int] | None:
    counts: dict[tuple[str, int], int] = {}
    for e in plan.schedule:
        counts[(e.edge_server, e.partition)] = counts.get((e.edge_server, e.partition), 0) + 1
    if not counts:
        return None
    return min(counts, key=lambda k: (-counts[k], k))


def _paper_cell(ref: dict[str, Any] | None) -> str:
    if not ref:
        return "-"
    parts = [f"{ref['model']} {ref['bits']}-bit, p{ref['partition']}, {ref['server']}"]
    if ref.get("energy_j") is not None or ref.get("time_s") is not None:
        e = "-" if ref.get("energy_j") is None else f"{ref['energy_j']:g} J"
        t = "-" if ref.get("time_s") is None else f"{ref['time_s']:g} s"
        parts.append(f"{e} / {t}")
    if ref.get("gap"):
        parts.append(str(ref["gap"]))
    if not ref.get("reaches", True):
        parts.append("misses L_max in T_max")
    return "; ".join(parts)


def format_table(
    inst: Instance,
    rows: Sequence[CompareRow],
    paper: dict[str, Any] | None = None,
) -> str:
    """A Markdown table of the rows: each number marked [P]/[C]/[B], the paper's figures beside them.

    Parameters
    ----------
    inst : Instance
        The instance the rows were planned on.
    rows : sequence of CompareRow
        From :func:`compare_methods`.
    paper : dict, optional
        The scenario's paper reference (``scenarios.paper_reference``): ``calibrated`` (a list of
        ``scale``, ``epochs``, ``device_speed``) and ``methods`` (the paper's figures per method).
        Without it every number is [P] or [B] and there is no paper figure.
    """
    calibrated = set(paper.get("calibrated", [])) if paper else set()
    refs: dict[str, Any] = dict(paper.get("methods", {})) if paper else {}
    scale = "C" if "scale" in calibrated else "P"
    k_mark = "C" if "epochs" in calibrated else "P"
    opt = next((r.expected for r in rows if r.method == "optimum" and r.expected is not None), None)
    head = (
        "| method | estimates | model | bits | K | schedule | plan energy (J) | plan time (s) "
        "| expected-case energy (J) | expected-case time (s) | gap to optimum | paper | agrees with paper "
        "| solve (ms) | note |"
    )
    lines = [
        f"Instance {inst.name or ''}: T_max = {inst.t_max_s:g} s, L_max = {inst.l_max:g}; "
        "expected case = the first K̂_exp epochs of the schedule.",
        "",
        head,
        "|" + "---|" * 15,
    ]
    for r in rows:
        ref = refs.get(r.method)
        paper_cell = _paper_cell(ref)
        p = r.plan
        if p is None:
            lines.append(f"| {r.method} | - | - | - | - | - | - | - | - | - | - | {paper_cell} | - | - | {r.error} |")
            continue
        models, bit_set = _pool_models(inst, r.method)
        shown, out, note = p, r.expected, ""
        if not p.feasible:
            note = p.reason or "infeasible"
            if r.relaxed is not None:
                shown, out = r.relaxed, r.relaxed_expected
                note = "misses T_max; shown: min energy ignoring T_max. " + note
            elif not models:
                note = "[B] " + note
        m_mark = "B" if len(models) <= 1 else "P"
        b_mark = "B" if r.method in _BITS_BY_METHOD or len(bit_set) <= 1 else "P"
        gap = "-"
        if opt is not None and out is not None and p.feasible:
            gap = f"{100.0 * (out.energy_j - opt.energy_j) / opt.energy_j:+.1f}% [P]"
        agrees = []
        if ref and shown.model is not None:
            if shown.model == ref["model"]:
                agrees.append(f"model [{m_mark}]")
            if shown.bits == ref["bits"]:
                agrees.append(f"bits [{b_mark}]")
            main = _main_action(shown)
            if main is not None and main[0] == ref["server"]:
                agrees.append("server [P]")
            if main is not None and main[1] == ref["partition"]:
                agrees.append("partition [P]")
        elif ref and not p.feasible and not ref.get("reaches", True) and r.relaxed is None:
            agrees.append(f"no plan [{m_mark if not models else 'P'}]")
        lines.append(
            "| "
            + " | ".join(
                [
                    r.method,
                    p.estimates,
                    "-" if shown.model is None else f"{shown.model} [{m_mark}]",
                    "-" if shown.bits is None else f"{shown.bits} [{b_mark}]",
                    _fmt(shown.epochs, "d", k_mark),
                    "-" if not shown.schedule else f"{shown.schedule_summary()} [P]",
                    _fmt(shown.energy_j, ".1f", scale),
                    _fmt(shown.time_s, ".2f", scale),
                    _fmt(out.energy_j if out else None, ".1f", scale),
                    _fmt(out.time_s if out else None, ".2f", scale),
                    gap,
                    paper_cell,
                    ", ".join(agrees) or "-",
                    f"{1000.0 * p.solve_time_s:.2f}",
                    note.replace("|", "/"),
                ]
            )
            + " |"
        )
    lines += ["", LEGEND.format(calibrated=", ".join(sorted(calibrated)) or "nothing in this instance")]
    lines.append("solve (ms): wall-clock time of one run on this machine.")
    return "\n".join(lines) + "\n"
