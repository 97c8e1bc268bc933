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

from edgetune.planner.instance import Instance
from edgetune.planner.methods import make_method
from edgetune.planner.plan import Plan, SearchLimitExceeded
from edgetune.planner.problem import Outcome, evaluate

__all__ = ["COMPARE_METHODS", "CompareRow", "compare_methods", "format_table"]

COMPARE_METHODS: tuple[str, ...] = ("jqodi", "jqodi-stationary", "exact", "optimum", "full", "minimal")


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
    inst: Instance, methods: Sequence[str] = COMPARE_METHODS, max_vertices: int | None = None
) -> list[CompareRow]:
    """Run every method in ``methods`` on ``inst``."""
    rows: list[CompareRow] = []
    for name in methods:
        opts = {"max_vertices": max_vertices} if max_vertices is not None and name.startswith("jqodi") else {}
        try:
            plan = make_method(name, **opts).plan(inst)
        except SearchLimitExceeded as exc:
            rows.append(CompareRow(name, None, str(exc), None))
            continue
        if plan.feasible:
            rows.append(CompareRow(name, plan, None, evaluate(inst, plan, "expected")))
        elif plan.reason and "T_max" in plan.reason and name not in ("jqodi", "jqodi-stationary"):
            rel, rel_out = _relaxed(inst, name)
            rows.append(CompareRow(name, plan, None, None, rel, rel_out))
        else:
            rows.append(CompareRow(name, plan, None, None))
    return rows


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def format_table(inst: Instance, rows: Sequence[CompareRow]) -> str:
    """A Markdown table of the rows with the gap of each expected-case energy to the Optimum's."""
    opt = next((r.expected for r in rows if r.method == "optimum" and r.expected is not None), None)
    head = (
        "| method | estimates | model | bits | K | schedule | plan energy (J) | plan time (s) "
        "| expected-case energy (J) | expected-case time (s) | gap to optimum | solve (ms) | note |"
    )
    lines = [
        f"Instance {inst.name or ''}: T_max = {inst.t_max_s:g} s, L_max = {inst.l_max:g}; "
        "expected case = the first K̂_exp epochs of the schedule.",
        "",
        head,
        "|" + "---|" * 13,
    ]
    for r in rows:
        p = r.plan
        if p is None:
            lines.append(f"| {r.method} | - | - | - | - | - | - | - | - | - | - | - | {r.error} |")
            continue
        shown, out, note = p, r.expected, ""
        if not p.feasible:
            note = p.reason or "infeasible"
            if r.relaxed is not None:
                shown, out = r.relaxed, r.relaxed_expected
                note = "misses T_max; shown: min energy ignoring T_max. " + note
        gap = "-"
        if opt is not None and out is not None and p.feasible:
            gap = f"{100.0 * (out.energy_j - opt.energy_j) / opt.energy_j:+.1f}%"
        lines.append(
            "| "
            + " | ".join(
                [
                    r.method,
                    p.estimates,
                    shown.model or "-",
                    _fmt(shown.bits, "d"),
                    _fmt(shown.epochs, "d"),
                    shown.schedule_summary(),
                    _fmt(shown.energy_j, ".1f"),
                    _fmt(shown.time_s, ".2f"),
                    _fmt(out.energy_j if out else None, ".1f"),
                    _fmt(out.time_s if out else None, ".2f"),
                    gap,
                    f"{1000.0 * p.solve_time_s:.2f}",
                    note.replace("|", "/"),
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"
