"""Both WebSocket protocols, graphql-transport-ws and the legacy graphql-ws, against the live
server: their handshakes, malformed and out-of-order messages, start and stop, and the cap on
subscriptions per connection. (A connection with an invalid key on graphql-transport-ws is
tests/test_subscriptions.py's.)"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Api, LiveServer, draft

WAIT = 10.0  # seconds a test waits for something that should arrive at once
ATTEMPT = 1.0  # seconds one priming write waits for its event before another is written
TRANSPORT = "graphql-transport-ws"
LEGACY = "graphql-ws"
EVENT_FIELDS = """
  __typename messageId conversationId version type actor
  ... on MessageDrafted { text channel requiresApproval }
  ... on MessageEdited { text afterSend }
  ... on MessageStatusChanged { status reason }
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

Key = tuple[str, int]  # (messageId, version): one event


class Wire:
    """One WebSocket connection speaking `protocol`; keep-alives are answered and hidden, and
    every other message received is kept in `log`, in order."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.log: list[dict[str, Any]] = []

    @property
    def event_type(self) -> str:
        return "next" if self.protocol == TRANSPORT else "data"

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def receive(self, deadline: float) -> dict[str, Any]:
        """The next protocol message; TimeoutError when none comes before `deadline`."""
        while True:
            raw = self.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            message: dict[str, Any] = json.loads(raw)
            if self.protocol == TRANSPORT and message["type"] == "ping":
                self.send({"type": "pong"})
                continue
            if self.protocol == LEGACY and message["type"] == "ka":
                continue
            self.log.append(message)
            return message

    def closed(self) -> tuple[int | None, str]:
        """Read until the server closes the connection: its close code and reason (code None
        when it dropped the connection without a close frame). Messages before it go to `log`."""
        deadline = time.monotonic() + WAIT
        try:
            while True:
                self.receive(deadline)
        except ConnectionClosed as closed:
            frame = closed.rcvd
        return (None, "") if frame is None else (frame.code, frame.reason)

    def init(self, payload: dict[str, Any] | None) -> None:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        self.send(message)

    def acknowledged(self, key: str | None) -> None:
        self.init({"Authorization": f"Bearer {key}"})
        assert self.receive(time.monotonic() + WAIT) == {"type": "connection_ack"}

    def subscribe(
        self,
        operation: str,
        conversation_id: str | None = None,
        message_id: str | None = None,
        query: str = SUBSCRIPTION,
    ) -> None:
        self.send(
            {
                "id": operation,
                "type": "subscribe" if self.protocol == TRANSPORT else "start",
                "payload": {"query": query, "variables": {"c": conversation_id, "m": message_id}},
            }
        )

    def sync(self) -> None:
        """Return once the server has handled every message sent so far. graphql-transport-ws
        handles a connection's messages in order, so the pong to a ping comes after them;
        graphql-ws has no ping, but the refusal of an invalid subscription comes from a task
        started after those of the subscriptions before it, so they have begun."""
        deadline = time.monotonic() + WAIT
        if self.protocol == TRANSPORT:
            self.send({"type": "ping"})
            while self.receive(deadline) != {"type": "pong"}:
                pass
            return
        self.subscribe("sync", query="subscription { nothingHere }")
        while True:
            message = self.receive(deadline)
            if (message.get("id"), message["type"]) == ("sync", "error"):
                return

    def stop(self, *operations: str) -> None:
        """Stop `operations` and return once the server has done so: graphql-ws answers a stop
        with complete; graphql-transport-ws answers nothing, so a ping follows."""
        for operation in operations:
            stop = "complete" if self.protocol == TRANSPORT else "stop"
            self.send({"id": operation, "type": stop})
        if self.protocol == TRANSPORT:
            self.sync()
            return
        deadline = time.monotonic() + WAIT
        waiting = set(operations)
        try:
            while waiting:
                message = self.receive(deadline)
                if message["type"] == "complete":
                    waiting.discard(message["id"])
        except TimeoutError:
            pytest.fail(f"no complete came for {len(waiting)} stopped: {sorted(waiting)[:5]}")

    def event(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The event a message carries, None for a message of another type."""
        if message["type"] != self.event_type:
            return None
        payload = message["payload"]
        assert "errors" not in payload, payload
        event: dict[str, Any] = payload["data"]["messageEvents"]
        return event

    def events_of(self, operation: str, since: int = 0) -> list[dict[str, Any]]:
        """The events `operation` received, from `log[since]` on."""
        got = []
        for message in self.log[since:]:
            event = self.event(message)
            if message.get("id") == operation and event is not None:
                got.append(event)
        return got

    def until_all_got(self, operations: list[str], target: Key, deadline: float) -> None:
        """Read until each of `operations` has received the event `target`."""
        waiting = set(operations)
        while waiting:
            message = self.receive(deadline)
            event = self.event(message)
            assert event is not None, message  # nothing but events is expected meanwhile
            if (event["messageId"], event["version"]) == target:
                waiting.discard(message["id"])

    def prime(self, operations: list[str], write: Callable[[], Key]) -> None:
        """Return once every one of `operations` is live: write an event and wait until all
        of them have it, again with a new event while some do not (one written before a
        subscription started never reaches it)."""
        deadline = time.monotonic() + WAIT
        while True:
            target = write()
            try:
                self.until_all_got(operations, target, min(deadline, time.monotonic() + ATTEMPT))
                return
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise


def ws_url(server: LiveServer) -> str:
    return f"ws://127.0.0.1:{server.port}/graphql"


@contextmanager
def wire(server: LiveServer, protocol: str) -> Iterator[Wire]:
    with connect(ws_url(server), subprotocols=[Subprotocol(protocol)], open_timeout=WAIT) as ws:
        assert ws.subprotocol == protocol
        yield Wire(ws, protocol)


@pytest.fixture
def sqlite_api(sqlite_server: LiveServer) -> Iterator[Api]:
    client = sqlite_server.client("acme", "acme-bot")
    yield client
    client.close()


def drafted(api: Api, text: str, conversation_id: str = "conv-1") -> Key:
    made = draft(api, text, conversationId=conversation_id)
    return str(made["id"]), int(made["version"])


def edited(api: Api, message_id: str, text: str) -> Key:
    made = api.ok(EDIT, {"input": {"id": message_id, "text": text}})["editMessage"]
    return str(made["id"]), int(made["version"])


def warm_ups(api: Api, conversation_id: str = "conv-1") -> Callable[[], Key]:
    count = iter(range(1000))
    return lambda: drafted(api, f"warm-up {next(count)}", conversation_id)


def recorded_after(api: Api, cursor: str | None, conversation_id: str) -> list[dict[str, Any]]:
    page = api.ok(EVENTS, {"c": conversation_id, "after": cursor})["events"]
    assert page["pageInfo"]["hasNextPage"] is False
    return [edge["node"] for edge in page["edges"]]


def end_cursor(api: Api, conversation_id: str) -> str | None:
    page = api.ok(EVENTS, {"c": conversation_id, "after": None})["events"]
    cursor: str | None = page["pageInfo"]["endCursor"]
    return cursor


def error_messages(message: dict[str, Any]) -> list[str]:
    """The messages of an `error` message: a list of errors on graphql-transport-ws, one error
    on graphql-ws."""
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else [payload]
    return [str(error["message"]) for error in errors]


# graphql-transport-ws: the handshake and malformed or out-of-order messages


@pytest.mark.parametrize(
    "offered", [["graphql-foo"], None], ids=["an unknown subprotocol", "no subprotocol"]
)
def test_a_connection_without_a_known_subprotocol_is_refused_with_4406(
    sqlite_server: LiveServer, offered: list[str] | None
) -> None:
    subprotocols = None if offered is None else [Subprotocol(p) for p in offered]
    try:
        with connect(ws_url(sqlite_server), subprotocols=subprotocols, open_timeout=WAIT) as ws:
            assert ws.subprotocol is None
            refused = Wire(ws, TRANSPORT)
            code, reason = refused.closed()
    except InvalidHandshake:
        return  # refusing the handshake itself is as good
    assert (code, reason) == (4406, "Subprotocol not acceptable")
    assert refused.log == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{not json", "WebSocket message must be valid JSON"),
        (b'{"type": "ping"}', "WebSocket message type must be text"),
        ("{}", "Failed to parse message"),
        ('{"type": "hello"}', "Unknown message type: hello"),
        ('{"type": "subscribe", "payload": {"query": "subscription { x }"}}', None),
        ("[]", None),
        ("null", None),
        ('"connection_init"', None),
        ("42", None),
        ('{"id": "1", "type": "subscribe", "payload": "subscription { x }"}', None),
    ],
    ids=[
        "not JSON",
        "a binary frame",
        "no type",
        "an unknown type",
        "a subscribe without an id",
        "a JSON array",
        "JSON null",
        "a JSON string",
        "a JSON number",
        "a subscribe whose payload is not an object",
    ],
)
def test_a_malformed_message_closes_the_connection_with_4400(
    sqlite_server: LiveServer, sqlite_api: Api, frame: str | bytes, reason: str | None
) -> None:
    with wire(sqlite_server, TRANSPORT) as ws:
        ws.acknowledged(sqlite_api.key)
        ws.send(frame)
        code, got_reason = ws.closed()
    assert code == 4400, (code, got_reason)
    if reason is not None:
        assert got_reason == reason
    assert ws.log == [{"type": "connection_ack"}]


def test_a_subscribe_before_connection_init_closes_the_connection_with_4401_and_no_events(
    sqlite_server: LiveServer, sqlite_api: Api
) -> None:
    with wire(sqlite_server, TRANSPORT) as ws:
        ws.subscribe("early")
        drafted(sqlite_api, "written while the early bird waits")
        assert ws.closed() == (4401, "Unauthorized")
    assert ws.log == []


def test_a_second_connection_init_closes_the_connection_with_4429(
    sqlite_server: LiveServer, sqlite_api: Api
) -> None:
    with wire(sqlite_server, TRANSPORT) as ws:
        ws.acknowledged(sqlite_api.key)
        ws.init({"Authorization": f"Bearer {sqlite_api.key}"})
        assert ws.closed() == (4429, "Too many initialisation requests")
    assert ws.log == [{"type": "connection_ack"}]


def test_a_second_subscription_with_the_same_id_closes_the_connection_with_4409(
    sqlite_server: LiveServer, sqlite_api: Api
) -> None:
    with wire(sqlite_server, TRANSPORT) as ws:
        ws.acknowledged(sqlite_api.key)
        ws.subscribe("op-7")
        ws.subscribe("op-7", conversation_id="another")
        assert ws.closed() == (4409, "Subscriber for op-7 already exists")


@pytest.mark.parametrize("when", ["before connection_init", "after connection_ack"])
def test_a_ping_is_answered_with_a_pong(
    sqlite_server: LiveServer, sqlite_api: Api, when: str
) -> None:
    with wire(sqlite_server, TRANSPORT) as ws:
        if when == "after connection_ack":
            ws.acknowledged(sqlite_api.key)
        ws.send({"type": "ping"})
        assert ws.receive(time.monotonic() + WAIT) == {"type": "pong"}
        if when == "before connection_init":
            ws.acknowledged(sqlite_api.key)  # the connection is still good


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
def test_a_subscription_with_a_syntax_error_is_answered_with_an_error_or_4400(
    sqlite_server: LiveServer, sqlite_api: Api, protocol: str
) -> None:
    """The client must learn that its subscription never started, and why: a bare `complete`
    (or silence) would look like a stream that ended, or one still waiting for events."""
    with wire(sqlite_server, protocol) as ws:
        ws.acknowledged(sqlite_api.key)
        ws.subscribe("broken", query="subscription { messageEvents { type }")
        answer: dict[str, Any] | None = None
        close: tuple[int | None, str] | None = None
        deadline = time.monotonic() + WAIT
        try:
            while answer is None:
                message = ws.receive(deadline)
                answer = message if message.get("id") == "broken" else None
        except ConnectionClosed as closed:
            close = (None, "") if closed.rcvd is None else (closed.rcvd.code, closed.rcvd.reason)
        except TimeoutError:
            pytest.fail("the server said nothing about the subscription it could not parse")
    if close is not None:
        assert protocol == TRANSPORT, f"graphql-ws has no close code for this: {close}"
        assert close[0] == 4400, close
        assert "Syntax Error" in close[1], close
        return
    assert answer is not None
    assert answer["type"] == "error", answer
    assert any("Syntax Error" in m for m in error_messages(answer)), answer


# graphql-transport-ws: complete


def test_complete_stops_a_subscription_and_the_connection_goes_on(
    server: LiveServer, api: Api
) -> None:
    with wire(server, TRANSPORT) as ws:
        ws.acknowledged(api.key)
        ws.subscribe("first")
        ws.prime(["first"], warm_ups(api))
        ws.stop("first")  # and a ping: its pong comes once the complete is handled
        stopped_at = len(ws.log)

        ws.subscribe("second")
        ws.prime(["second"], warm_ups(api))
        last = drafted(api, "after the complete")
        ws.until_all_got(["second"], last, time.monotonic() + WAIT)

    got = ws.events_of("second")[-1]
    assert (got["messageId"], got["version"], got["text"]) == (*last, "after the complete")
    assert [m for m in ws.log[stopped_at:] if m.get("id") == "first"] == []


# the legacy graphql-ws protocol


def test_graphql_ws_acknowledges_a_connection_init_with_a_valid_key_in_its_payload(
    sqlite_server: LiveServer, sqlite_api: Api
) -> None:
    with wire(sqlite_server, LEGACY) as ws:
        ws.acknowledged(sqlite_api.key)
        ws.send({"type": "connection_terminate"})
        assert ws.closed() == (1000, "")
    assert ws.log == [{"type": "connection_ack"}]


def test_graphql_ws_streams_new_events_as_data_until_stop(server: LiveServer, api: Api) -> None:
    with wire(server, LEGACY) as ws:
        ws.acknowledged(api.key)
        ws.subscribe("watch", conversation_id="legacy-1")
        ws.prime(["watch"], warm_ups(api, "legacy-1"))
        primed_at, start = len(ws.log), end_cursor(api, "legacy-1")

        elsewhere = drafted(api, "another conversation", conversation_id="legacy-2")
        sms = drafted(api, "Your order shipped", conversation_id="legacy-1")
        api.ok(SEND, {"input": {"id": sms[0]}})
        edited(api, elsewhere[0], "still another conversation")
        chat = drafted(api, "a chat", conversation_id="legacy-1")
        ws.until_all_got(["watch"], chat, time.monotonic() + WAIT)
        recorded = recorded_after(api, start, "legacy-1")

        ws.stop("watch")
        stopped_at = len(ws.log)
        ws.subscribe("again", conversation_id="legacy-1")
        ws.prime(["again"], warm_ups(api, "legacy-1"))
        final = edited(api, chat[0], "a chat, edited")
        ws.until_all_got(["again"], final, time.monotonic() + WAIT)

    streamed = ws.events_of("watch", since=primed_at)
    assert streamed == recorded
    assert [(e["__typename"], e["messageId"], e["version"]) for e in streamed] == [
        ("MessageDrafted", sms[0], 1),
        ("MessageSent", sms[0], 2),
        ("MessageDrafted", chat[0], 1),
    ]
    assert streamed[0]["text"] == "Your order shipped"
    assert streamed[0]["actor"] == "acme-bot"
    assert elsewhere[0] not in {e["messageId"] for e in ws.events_of("watch")}
    assert [m for m in ws.log[stopped_at:] if m.get("id") == "watch"] == []
    assert ws.events_of("again")[-1]["__typename"] == "MessageEdited"
    assert ws.events_of("again")[-1]["text"] == "a chat, edited"


@pytest.mark.parametrize(
    "init",
    [None, {}, {"Authorization": "Bearer hk_not-a-key"}, {"Authorization": "Basic abc"}],
    ids=["no payload", "no key", "an unknown key", "another scheme"],
)
def test_graphql_ws_answers_an_invalid_key_with_connection_error_and_sends_no_data(
    sqlite_server: LiveServer, sqlite_api: Api, init: dict[str, Any] | None
) -> None:
    with wire(sqlite_server, LEGACY) as ws:
        ws.init(init)
        # A client that does not wait for the ack: the refusal may have closed the socket
        # already (CI saw it once), and is read all the same.
        with suppress(ConnectionClosed):
            ws.subscribe("eager")
        drafted(sqlite_api, "written while the stranger knocks")
        ws.closed()
    assert ws.log, "neither a connection_error nor any other answer came"
    assert ws.log[0]["type"] == "connection_error", ws.log
    assert ws.log[0]["payload"]["code"] == "UNAUTHENTICATED"
    assert [m for m in ws.log if m["type"] in ("connection_ack", "data")] == []


def test_graphql_ws_closes_a_start_before_connection_init_with_4401(
    sqlite_server: LiveServer, sqlite_api: Api
) -> None:
    with wire(sqlite_server, LEGACY) as ws:
        ws.subscribe("early")
        drafted(sqlite_api, "written while the early bird waits")
        assert ws.closed() == (4401, "Unauthorized")
    assert ws.log == []


@pytest.mark.parametrize(
    "frame",
    ["{not json", "[]", "null", '"start"', "42"],
    ids=["not JSON", "a JSON array", "JSON null", "a JSON string", "a JSON number"],
)
def test_graphql_ws_ignores_a_message_that_is_not_a_json_object(
    sqlite_server: LiveServer, sqlite_api: Api, frame: str
) -> None:
    """graphql-ws has no error for an unreadable message: the server skips it, as it does bad
    JSON, and the connection goes on."""
    with wire(sqlite_server, LEGACY) as ws:
        ws.send(frame)
        ws.acknowledged(sqlite_api.key)
        ws.subscribe("after")
        ws.prime(["after"], warm_ups(sqlite_api))


def test_graphql_ws_answers_a_query_with_its_result_or_a_client_error_not_an_unexpected_one(
    sqlite_server: LiveServer, sqlite_api: Api
) -> None:
    """The legacy protocol carried queries too. Answering one is fine, refusing it is fine;
    calling it an unexpected failure (masked, and logged as a server fault) is not."""
    with wire(sqlite_server, LEGACY) as ws:
        ws.acknowledged(sqlite_api.key)
        ws.subscribe("query", query="{ __typename }")
        answer = ws.receive(time.monotonic() + WAIT)
    assert answer["id"] == "query"
    if answer["type"] == "data":
        assert answer["payload"] == {"data": {"__typename": "Query"}}
    else:
        assert answer["type"] == "error", answer
        assert answer["payload"]["extensions"]["code"] == "VALIDATION_FAILED", answer


# both protocols: the cap on subscriptions per connection


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
def test_a_connection_gets_at_most_the_configured_number_of_subscriptions(
    server: LiveServer, api: Api, protocol: str
) -> None:
    cap = server.herald.settings.max_subscriptions_per_connection
    assert cap == 50  # the default the issue names
    operations = [f"s{i}" for i in range(1, cap + 1)]
    with wire(server, protocol) as ws:
        ws.acknowledged(api.key)
        for operation in operations:
            ws.subscribe(operation)
        ws.prime(operations, warm_ups(api))  # all of them started

        ws.subscribe("one-too-many")
        refusal = ws.receive(time.monotonic() + WAIT)
        assert refusal["type"] == "error", refusal
        assert refusal["id"] == "one-too-many"
        assert error_messages(refusal) == ["Subscription limit reached"]

        # Stopping one frees its place for another; the refused one never started.
        ws.stop("s1")
        stopped_at = len(ws.log)
        ws.subscribe("late")
        live = [*operations[1:], "late"]
        ws.prime(live, warm_ups(api))
        last = drafted(api, "to every live subscription")
        ws.until_all_got(live, last, time.monotonic() + WAIT)

    for operation in live:
        keys = [(e["messageId"], e["version"]) for e in ws.events_of(operation)]
        assert keys.count(last) == 1, operation
    assert [m for m in ws.log[stopped_at:] if m.get("id") == "s1"] == []
    assert [m for m in ws.log if m.get("id") == "one-too-many"] == [refusal]


@pytest.mark.parametrize("protocol", [TRANSPORT, LEGACY])
def test_stopping_subscriptions_that_are_still_starting_stops_them(
    server: LiveServer, api: Api, protocol: str
) -> None:
    """A client may stop a subscription as soon as it started it (a page closed at once).
    Stopped while starting, with the connection busy, not one may go on streaming."""
    with wire(server, protocol) as ws:
        ws.acknowledged(api.key)
        ws.subscribe("control")
        ws.prime(["control"], warm_ups(api))
        stops: list[tuple[list[str], int]] = []  # each batch, and where the log was at its stop
        for attempt in range(3):
            batch = [f"r{attempt}-{i}" for i in range(40)]
            for operation in batch:
                ws.subscribe(operation)
            ws.sync()
            ws.stop(*batch)
            stops.append((batch, len(ws.log)))
            last = drafted(api, f"after stop {attempt}")
            ws.until_all_got(["control"], last, time.monotonic() + WAIT)
        last = drafted(api, "the last")
        ws.until_all_got(["control"], last, time.monotonic() + WAIT)

    leaked = sorted({op for batch, since in stops for op in batch if ws.events_of(op, since=since)})
    assert leaked == [], f"{len(leaked)} stopped subscriptions still stream: {leaked[:5]}"
