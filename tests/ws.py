"""A GraphQL client's side of a WebSocket, for tests that talk to the live server directly."""

from __future__ import annotations

import json
import time
from typing import Any

WAIT = 15.0


def receive(ws: Any, wait: float = WAIT) -> dict[str, Any]:
    """The next message that is not a keep-alive (graphql-transport-ws ping, graphql-ws ka)."""
    deadline = time.monotonic() + wait
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        if message["type"] not in ("ping", "ka"):
            return message


def init(ws: Any, key: str | None) -> None:
    """connection_init with `key`, and its acknowledgement."""
    ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
    assert receive(ws)["type"] == "connection_ack"


def run_over(
    ws: Any, operation_id: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One query or mutation over an open graphql-transport-ws connection: its result."""
    operation = {"query": query, "variables": variables or {}}
    ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": operation}))
    answer = receive(ws)
    assert answer["id"] == operation_id, answer
    assert answer["type"] == "next", answer
    assert receive(ws) == {"id": operation_id, "type": "complete"}
    payload: dict[str, Any] = answer["payload"]
    return payload
