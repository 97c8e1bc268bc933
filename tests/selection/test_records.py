"""Seeded runs of the issue-12 policies against their saved records (same seed, same record)."""

from __future__ import annotations

import json

import pytest

from tests.engines.test_simulated import _assert_close
from tests.selection.regen_records import DATA, POLICIES, record


@pytest.mark.parametrize("policy", POLICIES)
def test_seeded_run_matches_saved_record(policy: str) -> None:
    """Regenerate with ``python -m tests.selection.regen_records`` only when a policy changes on purpose."""
    saved = json.loads((DATA / f"simulate_normal12_seed7_{policy}.json").read_text())
    _assert_close(saved, json.loads(json.dumps(record(policy))))


def test_policies_differ_on_the_same_fleet() -> None:
    runs = {p: json.loads((DATA / f"simulate_normal12_seed7_{p}.json").read_text()) for p in POLICIES}
    actives = {p: tuple(tuple(e["active"]) for e in r["epochs"]) for p, r in runs.items()}
    assert len(set(actives.values())) == len(POLICIES)
