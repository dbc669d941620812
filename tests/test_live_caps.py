"""What one API key may hold open at once: WebSocket connections, and subscriptions over all
of them. Over either cap is refused; another key is not affected; closing frees the place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.settings import Settings
from tests.conftest import LiveServer, draft, served
from tests.ws import init, receive

SUBSCRIBE = "subscription($after: String) { messageEvents(after: $after) { messageId } }"
TRANSPORT = [Subprotocol("graphql-transport-ws")]


@pytest.fixture
def capped(sqlite_settings: Settings) -> Iterator[LiveServer]:
    settings = replace(sqlite_settings, max_connections_per_key=2, max_subscriptions_per_key=3)
    with served(settings) as live:
        yield live


def opened(server: LiveServer, stack: ExitStack) -> ClientConnection:
    ws = connect(f"ws://127.0.0.1:{server.port}/graphql", subprotocols=TRANSPORT)
    return stack.enter_context(ws)


def subscribe(ws: ClientConnection, operation: str, after: str | None = None) -> None:
    payload = {"query": SUBSCRIBE, "variables": {"after": after}}
    ws.send(json.dumps({"id": operation, "type": "subscribe", "payload": payload}))


def refused_with(ws: ClientConnection, operation: str) -> list[Any]:
    """The codes of the errors the operation ended with (it must end)."""
    answer = receive(ws)
    assert (answer["id"], answer["type"]) == (operation, "next"), answer
    assert receive(ws) == {"id": operation, "type": "complete"}
    return [error["extensions"]["code"] for error in answer["payload"]["errors"]]


def test_a_key_over_its_websocket_connections_is_closed_and_another_key_is_not(
    capped: LiveServer,
) -> None:
    key, other = capped.key("acme"), capped.key("acme", "other")
    with ExitStack() as stack:
        first = opened(capped, stack)
        init(first, key)
        init(opened(capped, stack), key)
        third = opened(capped, stack)
        third.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        with pytest.raises(ConnectionClosed) as closed:
            receive(third)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
        init(opened(capped, stack), other)  # another key has places of its own

        first.close()
        init(opened(capped, stack), key)  # the closed connection gave its place back


def test_a_key_over_its_subscriptions_in_all_is_refused_until_one_ends(
    capped: LiveServer,
) -> None:
    key, other = capped.key("acme"), capped.key("acme", "other")
    writer = capped.client("acme", "writer")
    try:
        with ExitStack() as stack:
            one, two = opened(capped, stack), opened(capped, stack)
            init(one, key)
            init(two, key)
            for ws, operation in ((one, "a"), (one, "b"), (two, "c"), (two, "d")):
                subscribe(ws, operation)
            assert refused_with(two, "d") == ["LIMIT_EXCEEDED"]

            # Operations of one connection are handled in order, and "c" is cancelled before
            # "f" starts: "f" takes the place "c" gave back, and "g" finds none.
            two.send(json.dumps({"id": "c", "type": "complete"}))
            subscribe(two, "f")
            subscribe(two, "g")
            assert refused_with(two, "g") == ["LIMIT_EXCEEDED"]

            elsewhere = opened(capped, stack)
            init(elsewhere, other)  # another key's subscriptions are counted apart
            subscribe(elsewhere, "e", after="0")  # from the first event: none can be missed
            written = draft(writer, "for every subscription")["id"]
            answer = receive(elsewhere)
            assert answer["id"] == "e", answer
            assert answer["payload"]["data"]["messageEvents"]["messageId"] == written
    finally:
        writer.close()
