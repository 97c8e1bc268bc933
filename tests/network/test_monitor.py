"""SDN monitor: measurement, EWMA smoothing, lazy polling, and the HTTP northbound API."""

from __future__ import annotations

import json
import math
import urllib.request

import numpy as np
import pytest

from edgetune.fleet.schema import Fleet
from edgetune.network.dynamics import VariationConfig
from edgetune.network.model import Topology
from edgetune.network.monitor import MonitorConfig, SimulatedMonitor, _folded_normal_fit, ewma_fold, ewma_weights
from edgetune.network.northbound import HttpNorthboundClient, NorthboundServer
from edgetune.network.simulated import NetworkConfig, SimulatedNetwork
from tests.conftest import StubNorthbound

QUIET = NetworkConfig(variation=VariationConfig(bandwidth_sigma=0.0, delay_sigma=0.0))
EXACT = MonitorConfig(bandwidth_noise=0.0, delay_noise_ms=0.0, loss_probes=1_000_000)


def test_ewma_by_hand(fleet12: Fleet) -> None:
    mon = SimulatedMonitor(
        SimulatedNetwork(fleet12, np.random.default_rng(0), QUIET),
        np.random.default_rng(1),
        MonitorConfig(ewma_alpha=0.5),
    )
    n = len(fleet12.nodes)
    for t, x in enumerate([10.0, 20.0, 40.0]):
        mon.record(float(t), np.full(n, x), np.full(n, x), np.full(n, x))
    m = mon.path_metrics([0])[0]
    assert m.bandwidth_mbps == 27.5  # 10 -> 0.5*20+0.5*10 = 15 -> 0.5*40+0.5*15 = 27.5
    assert m.samples == 3


def test_idle_network_is_measured_as_configured(fleet12: Fleet) -> None:
    net = SimulatedNetwork(fleet12, np.random.default_rng(0), QUIET)
    mon = SimulatedMonitor(net, np.random.default_rng(1), EXACT)
    mon.advance_to(60.0)
    top = Topology.from_fleet(fleet12)
    got = mon.path_metrics()
    assert sorted(got) == fleet12.node_ids
    np.testing.assert_allclose([got[i].bandwidth_mbps for i in fleet12.node_ids], top.path_bandwidth_mbps())
    np.testing.assert_allclose([got[i].delay_ms for i in fleet12.node_ids], top.path_delay_ms())
    np.testing.assert_allclose([got[i].loss_pct for i in fleet12.node_ids], top.path_loss_pct(), atol=0.05)


def test_fine_tuning_traffic_loads_the_measured_path(fleet12: Fleet) -> None:
    net = SimulatedNetwork(fleet12, np.random.default_rng(0), QUIET)
    mon = SimulatedMonitor(
        net, np.random.default_rng(1), MonitorConfig(ewma_alpha=1.0, bandwidth_noise=0.0, delay_noise_ms=0.0)
    )
    idle = net.path_state(0.0)
    ends = net.transfer(np.array([0]), 50e6, 0.0, "down")  # node 0 downloads 50 MB from t=0
    mon.advance_to(float(ends[0]) / 2)
    busy = mon.path_metrics()
    # The flow's own rate (TCP-limited under this path's loss) is what the path has less of.
    rate_mbps = 50e6 * 8 / (float(ends[0]) - idle.delay_ms[0] / 1e3) / 1e6
    assert busy[0].bandwidth_mbps == pytest.approx(idle.available_mbps[0] - rate_mbps, rel=1e-6)
    assert busy[0].delay_ms > idle.delay_ms[0]  # queueing on the loaded links
    other = next(i for i in fleet12.node_ids if fleet12.node(i).gateway != fleet12.node(0).gateway)
    assert busy[other].bandwidth_mbps == pytest.approx(idle.available_mbps[other], rel=1e-9)


def test_lazy_polling_equals_polling_all_along(fleet12: Fleet) -> None:
    cfg = MonitorConfig(poll_interval_s=5.0, ewma_alpha=0.3, bandwidth_noise=0.0, delay_noise_ms=0.0)
    nets = [SimulatedNetwork(fleet12, np.random.default_rng(3)) for _ in range(2)]
    for net in nets:
        net.transfer(np.arange(12), 20e6, 0.0, "up")
    eager = SimulatedMonitor(nets[0], np.random.default_rng(4), cfg)
    lazy = SimulatedMonitor(nets[1], np.random.default_rng(4), cfg)
    for t in np.arange(0.0, 2000.0, 5.0):
        eager.advance_to(float(t))
    lazy.advance_to(1995.0)
    a, b = eager.path_metrics(), lazy.path_metrics()
    for i in a:
        assert b[i].bandwidth_mbps == pytest.approx(a[i].bandwidth_mbps, rel=1e-4)
        assert b[i].delay_ms == pytest.approx(a[i].delay_ms, rel=1e-4)


def test_http_northbound_round_trip() -> None:
    stub = StubNorthbound({1: (10.0, 20.0, 0.5), 7: (3.5, 80.0, 2.0)})
    with NorthboundServer(stub) as server:
        assert server.host == "127.0.0.1"
        client = HttpNorthboundClient(server.url)
        got = client.path_metrics()
        assert got == stub.path_metrics()
        assert client.path_metrics([7]) == {7: stub.path_metrics([7])[7]}
        with urllib.request.urlopen(server.url + "/v1/metrics/7") as resp:
            assert json.loads(resp.read())["delay_ms"] == 80.0
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(server.url + "/v1/metrics/99")
        assert exc.value.code == 404
        health = json.loads(urllib.request.urlopen(server.url + "/v1/health").read())
        assert health["status"] == "ok" and health["source"] == "stub"


def test_client_reports_unreachable_controller() -> None:
    client = HttpNorthboundClient("http://127.0.0.1:9", timeout_s=0.5, grace_s=0.2, backoff_s=0.05)
    with pytest.raises(ConnectionError):
        client.path_metrics()


def _fold_by_loop(state: float, fresh: bool, xs: list[float], alpha: float) -> float:
    """The per-poll EWMA: the first sample initialises a fresh state."""
    for x in xs:
        state = x if fresh else alpha * x + (1 - alpha) * state
        fresh = False
    return state


def test_ewma_fold_by_hand() -> None:
    # alpha = 0.5; path 0 holds 8 and folds its last two rows (4, 2): 8 -> 6 -> 4
    # path 1 is fresh and folds all three rows (10, 20, 40): 10 -> 15 -> 27.5
    x = np.array([[0.0, 10.0], [4.0, 20.0], [2.0, 40.0]])
    got = ewma_fold(np.array([8.0, np.nan]), np.array([False, True]), x, np.array([2, 3]), 0.5)
    assert got.tolist() == [4.0, 27.5]


def test_ewma_fold_equals_the_per_poll_loop() -> None:
    rng = np.random.default_rng(5)
    for alpha in (0.3, 0.9, 1.0):
        x = rng.uniform(0.0, 100.0, (26, 40))
        x[:3, :5] = np.inf  # rows a path does not fold must not leak in (even inf)
        n_new = rng.integers(1, 27, 40)
        n_new[:5] = np.minimum(n_new[:5], 23)
        state = rng.uniform(0.0, 100.0, 40)
        fresh = rng.random(40) < 0.3
        got = ewma_fold(state, fresh, x, n_new, alpha)
        want = [
            _fold_by_loop(float(state[s]), bool(fresh[s]), x[26 - int(n_new[s]) :, s].tolist(), alpha)
            for s in range(40)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_read_measures_only_the_paths_it_reads(fleet12: Fleet) -> None:
    net = SimulatedNetwork(fleet12, np.random.default_rng(0), QUIET)
    mon = SimulatedMonitor(net, np.random.default_rng(1), EXACT)
    mon.clock = lambda: 100.0
    ids, arr = mon.path_arrays([3, 5])
    assert ids == [3, 5] and arr.shape == (2, 3)
    assert int(mon._samples.sum()) == 2 * 21  # ticks 0, 5, ..., 100 on two paths only
    assert set(mon.path_metrics([3, 5, 7])) == {3, 5, 7}  # a later read brings path 7 up to date
    assert mon.path_metrics([7])[7].samples == 21
    assert mon.path_arrays([99])[0] == []  # unknown ids are left out


def test_ewma_weights_by_hand() -> None:
    # alpha = 0.5, 3 rows: a settled path folding 2 polls weighs (0, 1/4, 1/2); a fresh one folding 3
    # weighs (1/4, 1/4, 1/2) (its oldest poll initialises); paths sharing both get one column
    w = ewma_weights(3, np.array([False, True]), np.array([2, 3]), 0.5)
    assert w.tolist() == [[0.0, 0.25], [0.25, 0.25], [0.5, 0.5]]
    assert ewma_weights(3, np.array([False, False]), np.array([2, 2]), 0.5).tolist() == [[0.0], [0.25], [0.5]]


def test_folded_normal_fit_matches_the_weighted_half_normal_sum() -> None:
    # one poll: the half-normal itself; 26 polls at alpha 0.3: mean and variance of sum w |N(0, 1)|
    theta, scale = _folded_normal_fit(np.array([1.0]), np.array([1.0]))
    assert theta.tolist() == [0.0] and scale.tolist() == [1.0]
    w = ewma_weights(26, np.array([False]), np.array([26]), 0.3)[:, 0]
    sum_w, r = float(w.sum()), math.sqrt(float((w * w).sum()))
    theta, scale = _folded_normal_fit(np.array([sum_w]), np.array([r]))
    x = np.abs(np.random.default_rng(0).normal(theta * scale, scale, 400_000))
    assert x.mean() == pytest.approx(math.sqrt(2 / math.pi) * sum_w, rel=5e-3)
    assert x.var() == pytest.approx((1 - 2 / math.pi) * r * r, rel=1e-2)


def test_one_draw_per_read_has_the_moments_of_the_per_poll_noise(fleet12: Fleet) -> None:
    """The served values over many seeds: mean and spread as if each of the 26 polls were noisy
    (the per-poll replay, ``measure_many`` + ``ewma_fold``, is the reference)."""
    cfg = MonitorConfig(bandwidth_noise=0.2, delay_noise_ms=5.0, loss_probes=2000)
    net = SimulatedNetwork(fleet12, np.random.default_rng(0), QUIET)
    times = np.arange(0.0, 130.0, 5.0)  # 26 polls, one read
    one_draw, replay = [], []
    for seed in range(300):
        mon = SimulatedMonitor(net, np.random.default_rng(seed), cfg)
        mon.advance_to(125.0)
        one_draw.append(np.stack([mon._bw, mon._delay, mon._loss]))
        ref = SimulatedMonitor(net, np.random.default_rng(seed), cfg)
        x = ref.measure_many(times)
        fresh, n_new = np.ones(12, dtype=bool), np.full(12, 26)
        replay.append(np.stack([ewma_fold(np.zeros(12), fresh, m, n_new, cfg.ewma_alpha) for m in x]))
    a, b = np.array(one_draw), np.array(replay)  # (seeds, 3, 12)
    se = b.std(axis=0) / math.sqrt(len(b))
    assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) < 5 * np.sqrt(2) * se + 1e-9).all()
    np.testing.assert_allclose(a.std(axis=0), b.std(axis=0), rtol=0.25)
