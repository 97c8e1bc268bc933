"""What the Flower engine records beside the run: model versions, who holds which, where a round's time went.

:class:`ModelVersions` keeps the checksum of every global model version the server made and one entry
per ``train.sync`` outcome: the checksum a node says it now holds (its reply), or why it holds
nothing new (no reply, refused, not connected). The record's ``engine.flower.server_checksums`` and
``engine.flower.sync`` are these, so a reader can check that eliminated nodes hold the model
(Algorithm 1 lines 16-17). :class:`RoundTiming` is one round's split of wall time and bytes
(``engine.flower.rounds``, read by ``bench/bench_flower.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RoundTiming:
    """Where one round's wall time went (for the overhead benchmark)."""

    epoch: int
    push_s: float = 0.0
    wall_s: float = 0.0
    max_compute_s: float = 0.0
    max_train_s: float = 0.0
    #: Longest ClientApp handler (``message-s``: unpack, trainer round trip, pack) of the round.
    max_message_s: float = 0.0
    #: Seconds after the push until the first / the last reply was pulled.
    first_reply_s: float = 0.0
    last_reply_s: float = 0.0
    down_bytes: int = 0
    up_bytes: int = 0
    replies: int = 0
    failed: int = 0
    syncs_pushed: int = 0


class ModelVersions:
    """Checksums of the global model's versions and every node's sync outcome.

    Parameters
    ----------
    initial_checksum : str
        Checksum of version 0, the model distribution sends.
    """

    def __init__(self, initial_checksum: str) -> None:
        self.version = 0
        #: Version -> checksum of the server's model.
        self.checksums: dict[int, str] = {0: initial_checksum}
        #: One entry per sync outcome, in the order they happened (the record's ``sync``).
        self.log: list[dict[str, Any]] = []

    @property
    def checksum(self) -> str:
        """Checksum of the current version."""
        return self.checksums[self.version]

    def new(self, version: int, checksum: str) -> None:
        """The global model after an update is ``version`` (the engine numbers it by epoch)."""
        self.version = version
        self.checksums[version] = checksum

    def held(self, version: int, nid: int, checksum: str, latency_s: float) -> None:
        """Node ``nid`` answered the sync of ``version``: it now holds the model with ``checksum``."""
        self.log.append(
            {
                "version": version,
                "node": nid,
                "checksum": checksum,
                "server_checksum": self.checksums[version],
                "match": checksum == self.checksums[version],
                "latency_s": latency_s,
            }
        )

    def failed(self, version: int, nid: int, fid: int, reason: str) -> None:
        """The sync of ``version`` to node ``nid`` (Flower node ``fid``, -1 unknown) did not arrive."""
        self.log.append(
            {
                "version": version,
                "node": nid,
                "flower_node": fid,
                "checksum": None,
                "server_checksum": self.checksums[version],
                "match": False,
                "error": reason,
            }
        )


__all__ = ["ModelVersions", "RoundTiming"]
