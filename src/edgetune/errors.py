"""Errors that the command line turns into one line and exit code 2."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad user input: names the offending field and value.

    Parameters
    ----------
    field : str
        Dotted path of the field, e.g. ``nodes[3].link.bandwidth_mbps``.
    value : Any
        The value that was rejected.
    reason : str
        Why it was rejected, in a few words.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


def from_pydantic(exc: Any, source: str = "") -> InputError:
    """Turn the first error of a ``pydantic.ValidationError`` into an :class:`InputError`."""
    err = exc.errors()[0]
    field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    prefix = f"{source}: " if source else ""
    return InputError(prefix + (field or "<root>"), err.get("input"), err["msg"])
