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
        super().__init__(f"{_one_line(field)}={_shown(value)}: {_one_line(reason)}")


#: Longest rendering of a rejected value in the error line (a whole document or a 5,000-digit number is cut).
MAX_SHOWN_CHARS = 200


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4300-digit str limit
        text = f"<integer of about {value.bit_length() * 0.30103:.0f} digits>" if isinstance(value, int) else "<?>"
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 3] + "..."


def _one_line(text: str) -> str:
    """``text`` with line breaks replaced, so the error stays one line."""
    return " ".join(str(text).splitlines())


def from_pydantic(exc: Any, source: str = "") -> InputError:
    """Turn the first error of a ``pydantic.ValidationError`` into an :class:`InputError`."""
    err = exc.errors()[0]
    field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    prefix = f"{source}: " if source else ""
    return InputError(prefix + (field or "<root>"), err.get("input"), err["msg"])
