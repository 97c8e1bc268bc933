"""Flower's fixed waits capped by edgetune (a patch of Flower 1.41 constants, edgetune.flower.polls)."""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Iterator

import flwr.supernode.start_client_internal as sci
import pytest
from flwr.supercore.inflatable import inflatable_utils as iu
from flwr.supercore.inflatable.inflatable_utils import ObjectUnavailableError

from edgetune.flower.polls import (
    FLOWER_FIXED_WAITS_S,
    CappedSleep,
    FlowerPatchError,
    apply,
    check_poll_s,
    shorten_object_pull_backoff,
    shorten_supernode_waits,
)


@pytest.fixture
def restore_flower() -> Iterator[None]:
    """Undo the patches after each test (they change module globals of this test process)."""
    saved_time = sci.time
    saved = {fn: dict(fn.__kwdefaults__ or {}) for fn in (iu.pull_objects, iu.pull_and_inflate_object_from_tree)}
    yield
    sci.time = saved_time
    for fn, kw in saved.items():
        fn.__kwdefaults__.update(kw)  # type: ignore[union-attr]


def test_flower_still_has_the_waits_this_module_caps() -> None:
    """The patch targets exactly these lines of Flower 1.41; a Flower that changed them fails here."""
    src = inspect.getsource(sci)
    sleeps = re.findall(r"(\w+(?:\.\w+)?)\((\d+(?:\.\d+)?)\)", src)
    waits = sorted(float(v) for f, v in sleeps if f.endswith("sleep"))
    assert waits == [0.5, 0.5, FLOWER_FIXED_WAITS_S["supernode_idle_pull"]]
    assert all(f == "time.sleep" for f, _ in sleeps if f.endswith("sleep"))  # all through the module global
    kw = iu.pull_objects.__kwdefaults__ or {}
    assert "initial_backoff" in kw and "backoff_cap" in kw


def test_capped_sleep_caps_and_is_otherwise_the_time_module() -> None:
    capped = CappedSleep(0.05)
    t0 = time.monotonic()
    capped.sleep(3)
    assert 0.04 <= time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    capped.sleep(0.0)
    assert time.monotonic() - t0 < 0.04
    assert capped.monotonic is time.monotonic and capped.time is time.time


def test_supernode_waits_are_capped_in_that_module_only(restore_flower: None) -> None:
    module = shorten_supernode_waits(0.2)
    assert isinstance(module.time, CappedSleep) and module.time.cap_s == 0.2
    assert time.sleep is not module.time.sleep  # the time module itself is untouched
    shorten_supernode_waits(0.3)  # idempotent: re-patching replaces the cap
    assert module.time.cap_s == 0.3


def test_object_pulls_retry_after_the_poll_not_after_a_second(restore_flower: None) -> None:
    calls: list[float] = []

    def pull(object_id: str) -> bytes:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise ObjectUnavailableError(object_id)  # not uploaded yet: Flower waits 1 s (+-20 %)
        return b"content"

    assert shorten_object_pull_backoff(0.05) == {"initial_backoff": 0.05, "backoff_cap": 0.5}
    assert iu.pull_and_inflate_object_from_tree.__kwdefaults__["initial_backoff"] == 0.05  # type: ignore[index]
    assert iu.pull_objects(["a" * 64], pull) == {"a" * 64: b"content"}
    assert len(calls) == 2 and calls[1] - calls[0] < 0.5
    assert shorten_object_pull_backoff(3.0)["backoff_cap"] == FLOWER_FIXED_WAITS_S["object_pull_backoff_cap"]


def test_patches_refuse_a_flower_without_the_names(restore_flower: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sci, "time", object())
    with pytest.raises(FlowerPatchError, match="time"):
        shorten_supernode_waits(0.5)
    monkeypatch.setattr(iu.pull_objects, "__kwdefaults__", {"max_time": 1.0})
    with pytest.raises(FlowerPatchError, match="initial_backoff"):
        shorten_object_pull_backoff(0.5)


@pytest.mark.parametrize("bad", [0.0, 0.005, 3.5, float("nan"), -1.0])
def test_poll_out_of_bounds_is_refused(bad: float, restore_flower: None) -> None:
    with pytest.raises(ValueError, match="poll_s"):
        check_poll_s(bad)
    with pytest.raises(ValueError):
        apply(bad, supernode=True)
    assert sci.time is time or not isinstance(sci.time, CappedSleep) or sci.time.cap_s != bad
