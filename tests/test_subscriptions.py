"""The messageEvents subscription over a real WebSocket (graphql-transport-ws), fed by writes
made through real HTTP while it is open."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Api, LiveServer, draft

WAIT = 10.0  # seconds a test waits for something that should arrive at once
ATTEMPT = 1.0  # seconds one priming write waits for its event before another is written
EVENT_FIELDS = """
  __typename messageId conversationId version type actor
  ... on MessageDrafted { text channel requiresApproval }
  ... on MessageEdited { text afterSend }
  ... on MessageRejected { reason }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
SUBSCRIPTION = f"""
subscription($c: ID, $m: ID) {{
  messageEvents(conversationId: $c, messageId: $m) {{ {EVENT_FIELDS} }}
}}
"""
EVENTS = f"""
query($c: ID, $after: String) {{
  events(conversationId: $c, after: $after, first: 100) {{
    edges {{ node {{ {EVENT_FIELDS} }} }}
    pageInfo {{ endCursor hasNextPage }}
  }}
}}
"""
EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id version } }"
REJECT = "mutation($input: RejectMessageInput!) { rejectMessage(input: $input) { id version } }"
RECORD = """
mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { id version } }
"""


class Subscriber:
    """One graphql-transport-ws connection to the live server."""

    def __init__(self, ws: ClientConnection, init: dict[str, Any] | None) -> None:
        self.ws = ws
        message: dict[str, Any] = {"type": "connection_init"}
        if init is not None:
            message["payload"] = init
        self.send(message)
        assert self.receive(time.monotonic() + WAIT) == {"type": "connection_ack"}
        self.ids = itertools.count(1)

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def receive(self, deadline: float) -> dict[str, Any]:
        """The next protocol message; TimeoutError when none comes before `deadline`."""
        while True:
            raw = self.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                self.send({"type": "pong"})
                continue
            return message

    def subscribe(self, conversation_id: str | None = None, message_id: str | None = None) -> str:
        operation = str(next(self.ids))
        variables = {"c": conversation_id, "m": message_id}
        self.send(
            {
                "id": operation,
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": variables},
            }
        )
        return operation

    def event(self, operation: str, deadline: float) -> dict[str, Any]:
        """The next event of `operation`; anything else on the wire fails the test."""
        message = self.receive(deadline)
        assert message.get("id") == operation, message
        assert message["type"] == "next", message
        payload = message["payload"]
        assert "errors" not in payload, payload
        event: dict[str, Any] = payload["data"]["messageEvents"]
        return event

    def events_until(self, operation: str, message_id: str, version: int) -> list[dict[str, Any]]:
        """Every event of `operation` up to and including the given one."""
        deadline = time.monotonic() + WAIT
        got = [self.event(operation, deadline)]
        while (got[-1]["messageId"], got[-1]["version"]) != (message_id, version):
            got.append(self.event(operation, deadline))
        return got

    def prime(self, operation: str, write: Callable[[], tuple[str, int]]) -> None:
        """Return once the subscription is live: write an event and wait for it, again with a
        new event while none arrives (one written before the subscription started never will)."""
        deadline = time.monotonic() + WAIT
        while True:
            message_id, version = write()
            attempt = min(deadline, time.monotonic() + ATTEMPT)
            try:
                while True:
                    got = self.event(operation, attempt)
                    if (got["messageId"], got["version"]) == (message_id, version):
                        return
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise


@pytest.fixture
def globex(server: LiveServer) -> Iterator[Api]:
    client = server.client("globex", "globex-bot")
    yield client
    client.close()


@pytest.fixture
def subscribers() -> Iterator[ExitStack]:
    """Where a test's WebSocket connections live; each is closed when the test ends."""
    with ExitStack() as stack:
        yield stack


def open_subscriber(
    server: LiveServer,
    stack: ExitStack,
    init: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
) -> Subscriber:
    ws = connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers,
        open_timeout=WAIT,
    )
    return Subscriber(stack.enter_context(ws), init)


def bearer(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.key}"}


def recorded_after(
    api: Api, cursor: str | None, conversation_id: str | None = None
) -> list[dict[str, Any]]:
    page = api.ok(EVENTS, {"c": conversation_id, "after": cursor})["events"]
    assert page["pageInfo"]["hasNextPage"] is False
    return [edge["node"] for edge in page["edges"]]


def end_cursor(api: Api, conversation_id: str | None = None) -> str | None:
    cursor: str | None = api.ok(EVENTS, {"c": conversation_id, "after": None})["events"][
        "pageInfo"
    ]["endCursor"]
    return cursor


def drafted(api: Api, text: str, conversation_id: str = "conv-1", **fields: Any) -> tuple[str, int]:
    made = draft(api, text, conversationId=conversation_id, **fields)
    return str(made["id"]), int(made["version"])


def edited(api: Api, message_id: str, text: str) -> tuple[str, int]:
    made = api.ok(EDIT, {"input": {"id": message_id, "text": text}})["editMessage"]
    return str(made["id"]), int(made["version"])


def keys(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(e["messageId"], e["version"]) for e in events]


def test_a_subscriber_receives_its_workspaces_events_once_in_recorded_order_with_payloads(
    server: LiveServer, api: Api, globex: Api, subscribers: ExitStack
) -> None:
    acme_ws = open_subscriber(server, subscribers, bearer(api))
    globex_ws = open_subscriber(server, subscribers, bearer(globex))
    acme_op, globex_op = acme_ws.subscribe(), globex_ws.subscribe()
    warm = iter(range(1000))
    acme_ws.prime(acme_op, lambda: drafted(api, f"acme warm-up {next(warm)}"))
    globex_ws.prime(globex_op, lambda: drafted(globex, f"globex warm-up {next(warm)}"))
    acme_from, globex_from = end_cursor(api), end_cursor(globex)

    # Writes of both workspaces, interleaved.
    sms, _ = drafted(api, "Your order shipped", channel="SMS")
    other, _ = drafted(globex, "Globex news")
    api.ok(SEND, {"input": {"id": sms}})
    edited(globex, other, "Globex news, edited")
    api.ok(RECORD, {"input": {"id": sms, "status": "DELIVERED"}})
    chat, _ = drafted(api, "Needs a look", conversation_id="conv-2", requiresApproval=True)
    api.ok(REJECT, {"input": {"id": chat, "reason": "off-brand"}})
    globex_end = drafted(globex, "globex last")
    acme_end = drafted(api, "acme last")

    acme_got = acme_ws.events_until(acme_op, *acme_end)
    globex_got = globex_ws.events_until(globex_op, *globex_end)

    assert acme_got == recorded_after(api, acme_from)
    assert globex_got == recorded_after(globex, globex_from)
    assert len(set(keys(acme_got))) == len(acme_got)
    assert not set(keys(acme_got)) & set(keys(globex_got))
    assert [(e["messageId"], e["type"]) for e in acme_got] == [
        (sms, "Drafted"),
        (sms, "Sent"),
        (sms, "StatusChanged"),
        (chat, "Drafted"),
        (chat, "Rejected"),
        (acme_end[0], "Drafted"),
    ]
    assert acme_got[0] == {
        "__typename": "MessageDrafted",
        "messageId": sms,
        "conversationId": "conv-1",
        "version": 1,
        "type": "Drafted",
        "actor": "acme-bot",
        "text": "Your order shipped",
        "channel": "SMS",
        "requiresApproval": False,
    }
    assert acme_got[1]["__typename"] == "MessageSent"
    assert acme_got[2]["__typename"] == "MessageStatusChanged"
    assert acme_got[2]["status"] == "DELIVERED"
    assert acme_got[3]["conversationId"] == "conv-2"
    assert acme_got[3]["requiresApproval"] is True
    assert acme_got[4]["__typename"] == "MessageRejected"
    assert acme_got[4]["reason"] == "off-brand"
    assert [(e["messageId"], e["type"]) for e in globex_got] == [
        (other, "Drafted"),
        (other, "Edited"),
        (globex_end[0], "Drafted"),
    ]
    assert globex_got[1]["__typename"] == "MessageEdited"
    assert globex_got[1]["text"] == "Globex news, edited"
    assert globex_got[1]["actor"] == "globex-bot"


def test_a_conversation_filter_streams_only_that_conversations_events(
    server: LiveServer, api: Api, globex: Api, subscribers: ExitStack
) -> None:
    ws = open_subscriber(server, subscribers, bearer(api))
    op = ws.subscribe(conversation_id="support-42")
    warm = iter(range(1000))
    ws.prime(op, lambda: drafted(api, f"warm-up {next(warm)}", conversation_id="support-42"))
    start = end_cursor(api, "support-42")

    elsewhere, _ = drafted(api, "another conversation", conversation_id="sales-1")
    drafted(globex, "same conversation, other workspace", conversation_id="support-42")
    mine, _ = drafted(api, "in the conversation", conversation_id="support-42")
    edited(api, elsewhere, "still elsewhere")
    last = edited(api, mine, "in the conversation, edited")

    got = ws.events_until(op, *last)

    assert keys(got) == [(mine, 1), (mine, 2)]
    assert got == recorded_after(api, start, "support-42")
    assert {e["conversationId"] for e in got} == {"support-42"}


def test_a_message_filter_streams_only_that_messages_events(
    server: LiveServer, api: Api, globex: Api, subscribers: ExitStack
) -> None:
    watched, _ = drafted(api, "watched")
    ws = open_subscriber(server, subscribers, bearer(api))
    op = ws.subscribe(message_id=watched)
    warm = iter(range(1000))
    ws.prime(op, lambda: edited(api, watched, f"warm-up {next(warm)}"))

    neighbour, _ = drafted(api, "same conversation, other message")
    edited(api, neighbour, "neighbour edited")
    drafted(globex, "other workspace")
    api.ok(SEND, {"input": {"id": watched}})
    api.ok(SEND, {"input": {"id": neighbour}})
    last = api.ok(RECORD, {"input": {"id": watched, "status": "PROCESSING"}})
    last_version = int(last["recordDeliveryStatus"]["version"])

    got = ws.events_until(op, watched, last_version)

    assert [(e["messageId"], e["type"]) for e in got] == [
        (watched, "Sent"),
        (watched, "StatusChanged"),
    ]
    assert [e["version"] for e in got] == [last_version - 1, last_version]
    assert got[1]["status"] == "PROCESSING"


@pytest.mark.parametrize(
    "init",
    [None, {}, {"Authorization": "Bearer hk_not-a-key"}, {"Authorization": "Basic abc"}],
    ids=["no payload", "no key", "an unknown key", "another scheme"],
)
def test_a_connection_without_a_valid_key_is_closed_with_4403_and_gets_no_events(
    server: LiveServer, api: Api, init: dict[str, Any] | None
) -> None:
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        open_timeout=WAIT,
    ) as ws:
        message: dict[str, Any] = {"type": "connection_init"}
        if init is not None:
            message["payload"] = init
        ws.send(json.dumps(message))
        drafted(api, "written while the stranger knocks")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)  # no ack and no event: the server closes the connection
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Forbidden")


def test_the_authorization_header_of_the_upgrade_request_authenticates_a_subscription(
    server: LiveServer, api: Api, globex: Api, subscribers: ExitStack
) -> None:
    ws = open_subscriber(server, subscribers, None, headers=bearer(globex))
    op = ws.subscribe()
    warm = iter(range(1000))
    ws.prime(op, lambda: drafted(globex, f"warm-up {next(warm)}"))
    start = end_cursor(globex)

    drafted(api, "acme's, not globex's")
    last = drafted(globex, "globex's own")

    got = ws.events_until(op, *last)

    assert keys(got) == [last]
    assert got == recorded_after(globex, start)
    assert got[0]["actor"] == "globex-bot"
