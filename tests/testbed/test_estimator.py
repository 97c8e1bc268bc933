"""The OpenFlow monitor's estimation, against values worked out by hand."""

from __future__ import annotations

import pytest

from edgetune.network.northbound import SCHEMA_KEYS
from edgetune.testbed.estimator import EstimatorConfig, PathEstimator


def make(alpha: float = 0.5) -> PathEstimator:
    t = [0.0]
    est = PathEstimator([7], EstimatorConfig(ewma_alpha=alpha, busy_mbps=0.1, loss_window=4), clock=lambda: t[0])
    return est


def test_bandwidth_takes_only_rounds_busy_on_both_sides():
    est = make(alpha=0.5)
    mb = 1_000_000 // 8  # bytes per Mbit
    # counters every second: idle, partial (2 Mbps), full (10), full (8), partial (1), idle
    assert est.port_counters(7, 0.0, 0, 0) is None
    rates = []
    tx = 0
    for k, mbps in enumerate([0, 2, 10, 8, 1, 0], start=1):
        tx += mbps * mb
        rates.append(est.port_counters(7, float(k), 0, tx))
    assert rates == pytest.approx([0, 2, 10, 8, 1, 0])
    # interior busy rounds: 10 (neighbours 2 and 8) and 8 (neighbours 10 and 1); EWMA 0.5: 10 -> 9
    assert est.bandwidth_samples(7) == 2
    est.probe_answered(7, "down", 5.0)
    est.end_round()
    assert est.path_metrics()[7].bandwidth_mbps == pytest.approx(9.0)


def test_bandwidth_uses_the_more_loaded_direction():
    est = make()
    est.port_counters(7, 0.0, 0, 0)
    assert est.port_counters(7, 0.5, 500_000, 125_000) == pytest.approx(8.0)  # rx 8 Mbps, tx 2 Mbps


def test_peak_rate_is_served_before_any_full_round():
    est = make()
    est.port_counters(7, 0.0, 0, 0)
    est.port_counters(7, 1.0, 0, 375_000)  # 3 Mbps
    est.probe_answered(7, "down", 1.0)
    est.end_round()
    assert est.path_metrics()[7].bandwidth_mbps == pytest.approx(3.0)


def test_delay_is_the_median_of_downlink_probes_then_ewma():
    est = make(alpha=0.5)
    for d in (10.0, 11.0, 30.0):
        est.probe_answered(7, "down", d)
    est.probe_answered(7, "up", 99.0)  # uplink probes do not cross the relay: not a delay sample
    est.end_round()
    assert est.path_metrics()[7].delay_ms == pytest.approx(11.0)
    est.probe_answered(7, "down", 15.0)
    est.end_round()
    assert est.path_metrics()[7].delay_ms == pytest.approx(13.0)


def test_loss_averages_the_two_directions_over_the_window():
    est = make(alpha=1.0)  # no smoothing: the window itself
    est.probe_answered(7, "down", 1.0)
    for _ in range(3):
        est.probe_answered(7, "down", 1.0)
    est.probe_lost(7, "down")  # window of 4: [ok, ok, ok, lost] -> 25 %
    est.probe_answered(7, "up", 1.0)
    est.probe_answered(7, "up", 1.0)  # 0 %
    est.end_round()
    assert est.path_metrics()[7].loss_pct == pytest.approx(12.5)


def test_unmeasured_paths_are_left_out_and_schema_matches():
    est = make()
    assert est.path_metrics() == {}
    est.probe_answered(7, "down", 2.0)
    est.end_round()
    got = est.path_metrics()[7].to_json()
    assert tuple(got) == SCHEMA_KEYS
    assert got["samples"] == 1
