"""An in-memory Flower ``Grid`` that runs the ClientApp in this process (no SuperLink, no processes).

Nodes can behave: ``"ok"`` (reply at once), ``"silent"`` (never reply: a hung or dead ClientApp
the SuperLink still lists), ``"gone"`` (not listed by ``get_node_ids`` any more). A ClientApp that
raises produces an error reply, as Flower's ``flwr-clientapp`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid
from flwr.supercore.run import Run


class FakeGrid(Grid):
    """Runs ``app`` for every message, synchronously, with a persistent context per node."""

    def __init__(self, app: ClientApp, node_configs: dict[int, dict[str, Any]]) -> None:
        self.app = app
        self.contexts = {
            fid: Context(run_id=1, node_id=fid, node_config=cfg, state=RecordDict(), run_config={})
            for fid, cfg in node_configs.items()
        }
        self.behaviour: dict[int, str] = dict.fromkeys(node_configs, "ok")
        self.replies: dict[str, Message] = {}
        self.sent: list[Message] = []
        self._run: Run | None = None

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        assert self._run is not None
        return self._run

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str, ttl: float | None = None
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return [fid for fid, b in self.behaviour.items() if b != "gone"]

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = msg.object_id
            mid = msg.metadata.message_id
            ids.append(mid)
            self.sent.append(msg)
            fid = msg.metadata.dst_node_id
            if self.behaviour.get(fid) != "ok":
                continue
            try:
                reply = self.app(message=msg, context=self.contexts[fid])
            except Exception as exc:
                reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=str(exc)), reply_to=msg)
            reply.metadata.__dict__["_src_node_id"] = fid
            self.replies[mid] = reply
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self.replies.pop(m) for m in list(message_ids) if m in self.replies]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))


class FakeClock:
    """A clock that only moves when someone sleeps (timeouts cost no real time)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
