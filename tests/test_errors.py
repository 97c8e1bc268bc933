"""InputError renders one short line whatever the value."""

from __future__ import annotations

from edgetune.errors import MAX_SHOWN_CHARS, InputError


def test_plain_value() -> None:
    assert str(InputError("--nodes", 0, "must be at least 1")) == "--nodes=0: must be at least 1"


def test_huge_values_are_cut_and_stay_one_line() -> None:
    assert str(InputError("x", 10**5000, "too big")) == "x=<integer of about 5000 digits>: too big"
    long = str(InputError("doc", {"k": list(range(10_000))}, "bad"))
    assert len(long) < MAX_SHOWN_CHARS + 20 and long.endswith("...: bad")
    assert "\n" not in str(InputError("a\nb", "v\nw", "line one\nline two"))
