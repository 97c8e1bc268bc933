"""Eq. 2-3 against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.errors import InputError
from edgetune.selection import NodeMetrics, PolicyConfig, make_policy, normalize, perf_scores


def test_normalize_orients_benefits_and_costs() -> None:
    # compute, bandwidth (benefits); delay, loss, time (costs)
    v = np.array([[10.0, 2.0, 50.0, 1.0, 4.0], [30.0, 6.0, 10.0, 3.0, 2.0], [20.0, 4.0, 30.0, 2.0, 3.0]])
    n = normalize(v)
    np.testing.assert_allclose(n[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(n[:, 1], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(n[:, 2], [0.0, 1.0, 0.5])  # delay 10 is best
    np.testing.assert_allclose(n[:, 3], [1.0, 0.0, 0.5])  # loss 1 is best
    np.testing.assert_allclose(n[:, 4], [0.0, 1.0, 0.5])


def test_flat_metric_normalises_to_one() -> None:
    v = np.array([[5.0, 5.0, 5.0, 5.0, 5.0], [5.0, 7.0, 5.0, 5.0, 5.0]])
    n = normalize(v)
    np.testing.assert_allclose(n[:, [0, 2, 3, 4]], 1.0)


def test_perf_score_hand_computed() -> None:
    v = np.array([[10.0, 2.0, 50.0, 1.0, 4.0], [30.0, 6.0, 10.0, 3.0, 2.0], [20.0, 4.0, 30.0, 2.0, 3.0]])
    w = [0.4, 0.3, 0.1, 0.1, 0.1]
    # normalised rows: [0,0,0,1,0], [1,1,1,0,1], [.5,.5,.5,.5,.5]
    # s = [0.1, 0.9, 0.5]; utopia all ones -> lambda_s = 1 -> PerfScore = 1 - |s - 1| = s
    np.testing.assert_allclose(perf_scores(v, w, [1, 1, 1, 1, 1]), [0.1, 0.9, 0.5])
    # utopia (0.5,...): lambda_s = 0.5 -> 1 - |s - 0.5| = [0.6, 0.6, 1.0]
    np.testing.assert_allclose(perf_scores(v, w, [0.5] * 5), [0.6, 0.6, 1.0])
    # utopia (1,0,0,0,0): lambda_s = 0.4 -> 1 - |s - 0.4| = [0.7, 0.5, 0.9]
    np.testing.assert_allclose(perf_scores(v, w, [1, 0, 0, 0, 0]), [0.7, 0.5, 0.9])


def test_policy_score_uses_metric_objects() -> None:
    pol = make_policy("ne")
    m = {
        3: NodeMetrics(compute=10, bandwidth_mbps=2, delay_ms=50, loss_pct=1, train_time_s=4),
        1: NodeMetrics(compute=30, bandwidth_mbps=6, delay_ms=10, loss_pct=3, train_time_s=2),
    }
    s = pol.score(m)
    # equal weights: node 3 -> (0+0+0+1+0)/5 = 0.2, node 1 -> (1+1+1+0+1)/5 = 0.8
    assert s == pytest.approx({3: 0.2, 1: 0.8})


@pytest.mark.parametrize(
    ("weights", "utopia", "field"),
    [
        ((0.5, 0.5, 0.5, 0.0, 0.0), (1, 1, 1, 1, 1), "weights"),
        ((-0.2, 0.4, 0.4, 0.2, 0.2), (1, 1, 1, 1, 1), "weights"),
        ((0.25, 0.25, 0.25, 0.25), (1, 1, 1, 1, 1), "weights"),
        ((0.2,) * 5, (1, 1, 1, 1, 1.5), "utopia"),
    ],
)
def test_bad_policy_config_names_field(weights: tuple[float, ...], utopia: tuple[float, ...], field: str) -> None:
    with pytest.raises(InputError) as exc:
        PolicyConfig(weights=weights, utopia=utopia)
    assert exc.value.field == field
