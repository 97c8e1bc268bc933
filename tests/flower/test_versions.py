"""Model versions and sync outcomes: what the record's ``server_checksums`` and ``sync`` hold."""

from __future__ import annotations

from edgetune.flower.versions import ModelVersions, RoundTiming


def test_versions_by_epoch_and_every_sync_outcome_against_the_servers_checksum() -> None:
    v = ModelVersions("c0")
    assert (v.version, v.checksum) == (0, "c0")
    v.held(0, 7, "c0", 0.25)
    v.new(3, "c3")  # the engine numbers versions by epoch: epochs 1-2 may leave the model unchanged
    assert (v.version, v.checksum, v.checksums) == (3, "c3", {0: "c0", 3: "c3"})
    v.held(3, 7, "stale", 0.5)
    v.failed(3, 9, 104, "no reply")
    assert v.log == [
        {"version": 0, "node": 7, "checksum": "c0", "server_checksum": "c0", "match": True, "latency_s": 0.25},
        {"version": 3, "node": 7, "checksum": "stale", "server_checksum": "c3", "match": False, "latency_s": 0.5},
        {
            "version": 3,
            "node": 9,
            "flower_node": 104,
            "checksum": None,
            "server_checksum": "c3",
            "match": False,
            "error": "no reply",
        },
    ]


def test_round_timing_starts_at_zero() -> None:
    t = RoundTiming(epoch=2)
    assert (t.epoch, t.push_s, t.replies, t.syncs_pushed) == (2, 0.0, 0, 0)
