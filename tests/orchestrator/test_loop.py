"""The Algorithm-1 loop with a scripted engine and a stub northbound API (hand-derived expectations)."""

from __future__ import annotations

import pytest

from edgetune.fleet.schema import Fleet, LinkSpec, NodeSpec, OrchestratorSpec, SwitchSpec
from edgetune.orchestrator import Orchestrator, OrchestratorConfig
from edgetune.selection import make_policy
from tests.conftest import ScriptedEngine, StubNorthbound


def make_fleet(computes: list[float]) -> Fleet:
    link = LinkSpec(bandwidth_mbps=100.0, delay_ms=1.0, loss_pct=0.0)
    return Fleet(
        orchestrator=OrchestratorSpec(switch="agg0", link=link),
        switches=[
            SwitchSpec(id="agg0", kind="aggregation"),
            SwitchSpec(id="gw0", kind="gateway", parent="agg0", uplink=link),
        ],
        nodes=[NodeSpec(id=i, compute=c, gateway="gw0", link=link) for i, c in enumerate(computes)],
    )


BANDWIDTH = {0: 5.0, 1: 1.0, 2: 4.0, 3: 2.0, 4: 3.0}


def run(policy: str, epochs: int = 3, fail: dict[int, set[int]] | None = None) -> tuple:  # type: ignore[type-arg]
    fleet = make_fleet([30.0] * 5)
    engine = ScriptedEngine({i: 2.0 for i in range(5)}, fail)
    nb = StubNorthbound({i: (b, 50.0, 1.0) for i, b in BANDWIDTH.items()})
    rec = Orchestrator(engine, make_policy(policy), nb, fleet, OrchestratorConfig(epochs=epochs)).run()
    return rec, engine, nb


def test_node_elimination_by_hand() -> None:
    rec, engine, nb = run("ne")
    # Eq. 1: floor((5-1)/(3-1)) = 2 per epoch. Only bandwidth varies, so s_i = 0.2 * norm_bw + 0.8.
    e1, e2, e3 = rec.epochs
    assert e1.active == [0, 1, 2, 3, 4]
    assert e1.scores == pytest.approx({0: 1.0, 1: 0.8, 2: 0.95, 3: 0.85, 4: 0.9})
    assert e1.eliminated == [1, 3]
    assert e2.active == [0, 2, 4]
    assert e2.scores == pytest.approx({0: 1.0, 2: 0.9, 4: 0.8})  # re-normalised over the nodes that trained
    assert e2.eliminated == [2, 4]
    assert e3.active == [0] and e3.eliminated == []  # nothing eliminated after the last epoch
    # line 12: the update averages exactly the gradients received that epoch
    assert engine.updates == [[0, 1, 2, 3, 4], [0, 2, 4], [0]]
    # lines 16-17: every node, eliminated ones too, gets the model after every epoch
    assert [c for c in engine.calls if c[0] == "broadcast"] == [("broadcast", [0, 1, 2, 3, 4])] * 3
    # the record shows what the northbound API served, not ground truth (fleet links are all 100 Mbps)
    assert e1.metrics[1]["bandwidth_mbps"] == 1.0 and e1.metrics[1]["train_time_s"] == 2.0
    assert nb.reads == 3
    assert rec.pre_training_loss == 1.0 and rec.final_loss == pytest.approx(0.25)
    assert rec.completion_time_s == e3.end_s == pytest.approx(1 + 3 * 2.0)


def test_all_resources_same_but_no_elimination() -> None:
    rec, _engine, _ = run("ar")
    assert [e.active for e in rec.epochs] == [[0, 1, 2, 3, 4]] * 3
    assert all(e.eliminated == [] for e in rec.epochs)
    assert rec.epochs[0].scores == pytest.approx({0: 1.0, 1: 0.8, 2: 0.95, 3: 0.85, 4: 0.9})


def test_failed_node_is_recorded_left_out_and_run_goes_on() -> None:
    rec, engine, _ = run("ne", fail={2: {2}})
    e2 = rec.epochs[1]
    assert e2.failed == {2: "scripted failure"}
    assert 2 not in e2.active and 2 not in e2.scores
    assert engine.updates[1] == [0, 4]
    # n = 2: the failed node goes first, then the weakest scored node (4: 0.8 < 0: 1.0).
    assert e2.eliminated == [2, 4]
    assert rec.epochs[2].active == [0]


def test_round_without_replies_is_reported_not_skipped() -> None:
    rec, engine, _ = run("ar", epochs=2, fail={1: {0, 1, 2, 3, 4}})
    e1 = rec.epochs[0]
    assert e1.active == [] and e1.note is not None and "no node replied" in e1.note
    assert e1.loss == rec.pre_training_loss  # model unchanged
    assert engine.updates == [[0, 1, 2, 3, 4]]  # only epoch 2 aggregated


def test_record_json_contract() -> None:
    rec, _, _ = run("ne")
    doc = rec.to_json()
    for key in ("policy", "config", "nodes", "epochs", "completion_time_s"):
        assert key in doc
    assert doc["policy"] == "ne"
    assert doc["config"]["epochs"] == 3
    assert doc["config"]["weights"] == [0.2] * 5 and doc["config"]["utopia"] == [1.0] * 5
    ep = doc["epochs"][0]
    assert set(ep) >= {"epoch", "start_s", "end_s", "active", "metrics", "scores", "eliminated", "loss"}
    assert ep["epoch"] == 1
    assert set(ep["metrics"]["0"]) == {"compute", "bandwidth_mbps", "delay_ms", "loss_pct", "train_time_s"}


def test_resume_from_a_checkpoint_with_per_node_dicts_equals_the_whole_run() -> None:
    """Checkpoints written before issue 17 held training times and losses as ``{id: value}`` dicts."""
    import pickle

    import numpy as np

    from edgetune.selection import PolicyConfig

    def parts() -> tuple:  # type: ignore[type-arg]
        engine = ScriptedEngine({i: 2.0 + i for i in range(5)}, fail={2: {3}})
        nb = StubNorthbound({i: (b, 50.0, 1.0) for i, b in BANDWIDTH.items()})
        return engine, make_policy("ne", PolicyConfig(rejoin=True)), nb

    engine, policy, nb = parts()
    saved: list[bytes] = []

    def keep(state: object) -> None:
        saved.append(pickle.dumps((state, engine, policy, nb)))

    whole = Orchestrator(engine, policy, nb, make_fleet([30.0] * 5), OrchestratorConfig(epochs=4), on_epoch=keep).run()
    state, engine2, policy2, nb2 = pickle.loads(saved[1])  # after epoch 2
    times, losses = state.last_train_time_s, state.last_train_loss
    assert times.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0] and np.isnan(losses).all()  # by fleet position
    state.last_train_time_s = {i: t for i, t in enumerate(times.tolist())}  # the old form
    state.last_train_loss = {}
    rest = Orchestrator(engine2, policy2, nb2, make_fleet([30.0] * 5), OrchestratorConfig(epochs=4)).run(resume=state)
    assert rest.to_json() == whole.to_json()
    assert isinstance(state.last_train_time_s, np.ndarray)  # converted on resume
