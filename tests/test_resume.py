"""A subscription resumed from its last cursor misses nothing and repeats nothing: the
WebSocket is dropped mid-stream, again and again, while writers keep recording events, and
each new connection subscribes with `after` the last cursor it got. What the subscriber saw is
then exactly the workspace's events after its first cursor: each once, in recorded order.

    HERALD_RESUME_WRITES=400 .venv/bin/pytest -q tests/test_resume.py   # a longer run
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import ExitStack
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Api, LiveServer, draft
from tests.figures import backend_of, record
from tests.ws import init, receive

WRITERS = 3
WRITES = int(os.environ.get("HERALD_RESUME_WRITES", "40"))  # per writer
DROP_EVERY = 7  # events a connection receives before the client drops it
SUBSCRIBE = """
subscription($after: String) { messageEvents(after: $after) { messageId version type cursor } }
"""
EVENTS = """
query($after: String) {
  events(after: $after, first: 500) {
    edges { cursor node { messageId version type cursor } }
    pageInfo { endCursor hasNextPage }
  }
}
"""
EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version } }"


def recorded_after(api: Api, cursor: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = api.ok(EVENTS, {"after": cursor})["events"]
        events.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return events
        cursor = page["pageInfo"]["endCursor"]


def write(api: Api, writer: int) -> None:
    """Drafts and edits, as fast as the server takes them."""
    message_id = draft(api, f"writer {writer}")["id"]
    for n in range(WRITES - 1):
        if n % 3 == 2:
            message_id = draft(api, f"writer {writer}, message {n}")["id"]
        else:
            api.ok(EDIT, {"input": {"id": message_id, "text": f"writer {writer}, edit {n}"}})


def subscribed(server: LiveServer, stack: ExitStack, key: str, after: str) -> ClientConnection:
    ws = stack.enter_context(
        connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
    )
    init(ws, key)
    payload = {"query": SUBSCRIBE, "variables": {"after": after}}
    ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    return ws


def test_a_subscription_dropped_and_resumed_from_its_cursor_gets_every_event_once_in_order(
    server: LiveServer, api: Api
) -> None:
    draft(api, "before the subscriber")
    first_cursor = recorded_after(api, "0")[-1]["cursor"]
    assert first_cursor is not None
    writers = [server.client("acme", f"writer-{n}") for n in range(WRITERS)]
    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate(writers)]
    got: list[dict[str, Any]] = []
    drops = 0
    assert api.key is not None
    try:
        for thread in threads:
            thread.start()
        cursor = first_cursor
        expected = WRITERS * WRITES
        while len(got) < expected:
            with ExitStack() as stack:
                ws = subscribed(server, stack, api.key, cursor)
                for _ in range(min(DROP_EVERY, expected - len(got))):
                    message = receive(ws)
                    assert (message["id"], message["type"]) == ("1", "next"), message
                    got.append(message["payload"]["data"]["messageEvents"])
                cursor = got[-1]["cursor"]
            drops += 1  # the connection is gone, with the subscription still streaming
    finally:
        for thread in threads:
            thread.join()
        for writer in writers:
            writer.close()

    recorded = recorded_after(api, first_cursor)
    cursors = [int(e["cursor"]) for e in got]
    record(
        "resumed subscriptions",
        backend_of(server.herald.settings.database_url),
        drops=drops,
        events_checked=len(got),
        concurrent_writers=WRITERS,
        events_missed=len({e["cursor"] for e in recorded} - {e["cursor"] for e in got}),
        events_repeated=len(cursors) - len(set(cursors)),
    )
    assert len(recorded) == expected
    assert got == recorded
    assert cursors == sorted(set(cursors))
