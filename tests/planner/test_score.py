"""Algorithm 4's score helpers, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.planner.instance import instance_from_mapping
from edgetune.planner.problem import candidates
from edgetune.planner.score import canonical_actions, expected_depth, path_scores, risk_factor

from .test_jqodi import _two_server_doc


def test_path_scores_by_hand():
    # w = 20.5 J, T_exp = 5 s, T_rob = 6 s, risk 1 -> 20.5 / (5/6) = 24.6
    assert float(path_scores(20.5, 5.0, 6.0, 1.0)) == pytest.approx(24.6)
    # a zero time makes opp 1
    assert float(path_scores(10.0, 0.0, 6.0, 2.0)) == pytest.approx(20.0)
    out = path_scores(np.array([10.0, 10.0]), np.array([1.0, 2.0]), np.array([2.0, 2.0]), 0.5)
    assert out.tolist() == pytest.approx([10.0, 5.0])


def test_risk_and_depth_by_hand():
    doc = _two_server_doc()
    inst = instance_from_mapping(doc)
    (cand,), _ = candidates(inst, "robust")
    assert expected_depth(inst, cand) == 1
    # L_exp = 0.02 + 0.001 - 0.002 = 0.019; L_rob = 0.02 + 0.001 - 2 * 0.001 = 0.019
    assert risk_factor(inst, cand) == pytest.approx(1.0)
    doc["models"][0]["variants"][0]["epoch_loss_delta"]["expected"] = -0.004
    inst = instance_from_mapping(doc)
    (cand,), _ = candidates(inst, "robust")
    assert risk_factor(inst, cand) == pytest.approx(0.017 / 0.019)


def test_canonical_actions():
    assert canonical_actions([3, 1, 2, 0, 5, 4], 3) == [1, 2, 3, 0, 4, 5]
    assert canonical_actions([2, 1], 2) == [1, 2]
