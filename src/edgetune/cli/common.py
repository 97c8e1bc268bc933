"""Small parsing helpers shared by several commands."""

from __future__ import annotations

import math

from edgetune.errors import InputError


def parse_floats(text: str, field: str, n: int | None = None) -> tuple[float, ...]:
    """Parse ``"a,b,c"`` into finite floats, naming ``field`` in the error."""
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise InputError(field, text, "expected comma-separated numbers") from None
    if n is not None and len(values) != n:
        raise InputError(field, text, f"expected {n} numbers, got {len(values)}")
    if len(values) > 10_000:
        raise InputError(field, text[:40] + "...", "at most 10000 numbers")
    if not all(math.isfinite(v) for v in values):
        raise InputError(field, text, "numbers must be finite")
    return values


def positive(field: str, value: float, allow_zero: bool = False) -> float:
    """Check a number is finite and > 0 (or >= 0)."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputError(field, value, "must be " + ("non-negative" if allow_zero else "positive"))
    return value
