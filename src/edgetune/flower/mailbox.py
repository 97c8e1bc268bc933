"""The Flower engine's messages in flight: pushed through a ``Grid``, replies pulled, who was sent what.

:class:`Mailbox` is the transport half of :class:`~edgetune.flower.engine.FlowerEngine` (which keeps
the round protocol: who gets which message, deadlines, failures, aggregation). It knows nothing of
epochs or models: it pushes messages, remembers each accepted one as a :class:`Sent` under the id
the SuperLink gave it, hands back the replies it can match, and forgets messages on request. A
failing ``get_node_ids`` / ``pull_messages`` (the SuperLink went away, a transient Runtime API error)
is logged and reads as "nothing connected" / "no reply yet", so a poll loop never raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from logging import WARNING

from flwr.app import Message
from flwr.serverapp import Grid
from flwr.supercore import log

from edgetune.flower.codec import carried_bytes


@dataclass
class Sent:
    """One message the SuperLink accepted."""

    kind: str  # "train" | "sync"
    fid: int  # Flower node id
    nid: int | None  # edgetune node id (None: not identified yet)
    version: int  # model version it carries
    sent_s: float  # engine time of the push
    nbytes: int  # array bytes it carries


class Mailbox:
    """Messages in flight between the ServerApp and the SuperNodes (see the module docstring).

    Parameters
    ----------
    grid : flwr.serverapp.Grid
        The ServerApp's grid.
    """

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        #: Message id -> what was sent, for every message whose reply has not been pulled or dropped.
        self.inflight: dict[str, Sent] = {}

    def connected(self) -> set[int]:
        """Flower ids of the SuperNodes the SuperLink lists now (none if it cannot be asked)."""
        try:
            return {int(n) for n in self.grid.get_node_ids()}
        except Exception as exc:  # the SuperLink went away: nothing is connected
            log(WARNING, "get_node_ids failed: %s", exc)
            return set()

    def push(
        self, messages: Sequence[Message], kind: str, version: int, now_s: float, nid_of: Mapping[int, int]
    ) -> tuple[list[Sent], list[int]]:
        """Push ``messages`` in one ``push_messages``; returns the accepted ones and the refused Flower ids.

        ``nid_of`` maps a Flower node id to its edgetune node id where known.
        """
        if not messages:
            return [], []
        dst = [m.metadata.dst_node_id for m in messages]
        nbytes = [carried_bytes(m.content, "config", "arrays") for m in messages]
        ids = list(self.grid.push_messages(list(messages)))
        ids += [""] * (len(dst) - len(ids))  # a short answer: the rest were not accepted
        accepted: list[Sent] = []
        refused: list[int] = []
        for fid, size, mid in zip(dst, nbytes, ids, strict=True):
            if not mid:
                refused.append(fid)
                continue
            sent = Sent(kind, fid, nid_of.get(fid), version, now_s, size)
            self.inflight[mid] = sent
            accepted.append(sent)
        return accepted, refused

    def pull(self) -> list[tuple[Sent, Message]]:
        """Replies to messages in flight that arrived since the last pull (they leave :attr:`inflight`)."""
        if not self.inflight:
            return []
        try:
            replies = list(self.grid.pull_messages(list(self.inflight)))
        except Exception as exc:  # transient Runtime API trouble: try again next poll
            log(WARNING, "pull_messages failed: %s", exc)
            return []
        out = []
        for msg in replies:
            sent = self.inflight.pop(msg.metadata.reply_to_message_id, None)
            if sent is not None:
                out.append((sent, msg))
        return out

    def drop(self, kind: str, nid: int | None = None) -> list[Sent]:
        """Forget the messages of ``kind`` in flight (to node ``nid`` only, if given); returns them."""
        gone = [m for m, s in self.inflight.items() if s.kind == kind and (nid is None or s.nid == nid)]
        return [self.inflight.pop(m) for m in gone]

    def waiting(self, kind: str) -> set[int]:
        """edgetune ids of the nodes with a message of ``kind`` in flight."""
        return {s.nid for s in self.inflight.values() if s.kind == kind and s.nid is not None}

    def flower_ids(self) -> set[int]:
        """Flower ids of the nodes with any message in flight."""
        return {s.fid for s in self.inflight.values()}


__all__ = ["Mailbox", "Sent"]
