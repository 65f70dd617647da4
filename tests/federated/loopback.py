"""A Flower `Grid` in this process: each message goes straight to a client app, as a SuperLink hands it to
a SuperNode, so a federation's server code (the metered strategies, `run_on_grid`) runs without Ray."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flwr.app import Context, Message, RecordDict


class LoopbackGrid:
    """`nodes` SuperNodes in this process: node i is the client with `partition-id` i (the part of Flower's
    `Grid` that its strategies use). `seen` and `replies` keep every message each way."""

    def __init__(self, app: Any, nodes: int, run_config: dict[str, bool | float | int | str] | None = None) -> None:
        self.app = app
        self.nodes = nodes
        self.run_config: dict[str, bool | float | int | str] = dict(run_config or {})
        self.seen: list[Message] = []
        self.replies: list[Message] = []

    def get_node_ids(self) -> Iterable[int]:
        return list(range(self.nodes))

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        replies = []
        for msg in messages:
            node = msg.metadata.dst_node_id
            context = Context(
                run_id=1,
                node_id=node,
                node_config={"partition-id": node},
                state=RecordDict(),
                run_config=self.run_config,
            )
            self.seen.append(msg)
            replies.append(self.app(msg, context))
        self.replies.extend(replies)
        return replies
