"""The fault grammar: hand-written cases, bounds, and a hypothesis round trip through the run spec."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgetune.errors import InputError
from edgetune.fleet.faults import FaultEvent, FaultSpec, parse_events, split_round
from edgetune.runs.spec import RunSpec, spec_from_dict


def test_every_kind_parses_to_its_event() -> None:
    spec = FaultSpec("3:crash@2, 5:down@4-6,7:slow@3-x2.5,8:slow@1x4,9:down@2-")
    assert spec.parsed == (
        FaultEvent(3, "crash", 2, 2),
        FaultEvent(5, "down", 4, 6),
        FaultEvent(7, "slow", 3, 0, 2.5),
        FaultEvent(8, "slow", 1, 1, 4.0),
        FaultEvent(9, "down", 2, 0),
    )
    assert spec.at(2) == {
        3: spec.parsed[0],
        9: spec.parsed[4],
    }
    assert set(spec.at(5)) == {5, 7, 9} and set(spec.at(7)) == {7, 9} and set(spec.at(1)) == {8}
    assert not FaultSpec("") and not FaultSpec("  ")


def test_split_round_keeps_order_and_takes_down_nodes_out() -> None:
    spec = FaultSpec("1:crash@2,2:down@2,3:slow@2x3")
    up, down, slow = split_round(spec, 2, [3, 2, 1, 0])
    assert up == [3, 1, 0] and list(down) == [2] and slow == {3: 3.0}
    assert split_round(spec, 1, [3, 2, 1, 0]) == ([3, 2, 1, 0], {}, {})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("3:crash", "expected NODE:crash@EPOCH"),
        ("²:crash@2", "expected NODE:crash@EPOCH"),  # '²'.isdigit() is True: ASCII digits only
        ("3:crash@٣", "expected NODE:crash@EPOCH"),
        ("3:boom@2", "unknown fault"),
        ("3:crash@0", "epochs are in 1..10000"),
        ("3:crash@10001", "epochs are in 1..10000"),
        ("3:down@5-4", "need FROM <= TO"),
        ("3:crash@2-3", "a crash is one epoch"),
        ("3:slow@2", "needs xFACTOR"),
        ("3:slow@2x0.5", "FACTOR must be in [1, 1000]"),
        ("3:slow@2x1001", "FACTOR must be in [1, 1000]"),
        ("3:down@2x2", "only slow faults take xFACTOR"),
        ("1000000000:down@2", "node id must be below"),
        ("3:down@2-4,3:slow@4x2", "node 3 has two faults in epoch 4"),
        ("3:down@2-,3:crash@9", "node 3 has two faults in epoch 9"),
        (",".join(f"{i}:crash@1" for i in range(1025)), "at most 1024 events"),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InputError) as exc:
        FaultSpec(text)
    assert exc.value.field == "events" and reason in exc.value.reason


def test_spec_names_the_field_and_checks_the_type() -> None:
    with pytest.raises(InputError) as exc:
        spec_from_dict({"faults": {"events": "3:crash"}})
    assert exc.value.field == "faults.events"
    with pytest.raises(InputError) as exc:
        spec_from_dict({"faults": {"events": 3}})
    assert exc.value.field == "faults.events"
    with pytest.raises(InputError) as exc:
        spec_from_dict({"faults": {"event": "3:crash@1"}})
    assert exc.value.field == "faults.event"


def test_fleet_and_epoch_checks() -> None:
    spec = FaultSpec("3:crash@2,4:down@5-")
    spec.check([3, 4], 5)
    with pytest.raises(InputError, match="not in the fleet"):
        spec.check([4], 5)
    with pytest.raises(InputError, match="the run has 4 epochs"):
        spec.check([3, 4], 4)


_event = st.one_of(
    st.builds(lambda n, e: FaultEvent(n, "crash", e, e), st.integers(0, 10**9 - 1), st.integers(1, 10_000)),
    st.builds(
        lambda n, e, d, open_: FaultEvent(n, "down", e, 0 if open_ else min(e + d, 10_000)),
        st.integers(0, 10**9 - 1),
        st.integers(1, 10_000),
        st.integers(0, 50),
        st.booleans(),
    ),
    st.builds(
        lambda n, e, f: FaultEvent(n, "slow", e, e, f),
        st.integers(0, 10**9 - 1),
        st.integers(1, 10_000),
        st.sampled_from([1.0, 1.5, 2.25, 3.0, 999.5, 1000.0]),
    ),
)


@given(st.lists(_event, max_size=8, unique_by=lambda e: e.node))
def test_round_trip_through_spelling_and_the_run_spec(events: list[FaultEvent]) -> None:
    text = ",".join(e.spelling() for e in events)
    assert parse_events(text) == tuple(events)
    spec = spec_from_dict({"faults": {"events": text}})
    assert spec.faults.parsed == tuple(events)
    again = spec_from_dict(RunSpec().replace(faults=spec.faults).to_dict())
    assert again.faults == spec.faults


@given(st.text(max_size=40))
def test_any_text_parses_or_is_refused_in_one_error(text: str) -> None:
    try:
        FaultSpec(text)
    except InputError as exc:
        assert exc.field == "events" and "\n" not in exc.reason
