"""Workspace isolation as a property (hypothesis, stateful): three workspaces make random
commands on their own messages through the live API, and try them on each other's; after every
step each workspace's queries (message, messageAt, history, messages, events, with and without a
conversation shared by name between the workspaces) show only that workspace's messages, and its
open messageEvents subscription (graphql-transport-ws) has received exactly its own events.

Every text a workspace writes carries its name in brackets ("[acme] ..."), so another
workspace's text or id appearing anywhere in an answer or a streamed event is a leak.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Api, LiveServer, draft
from tests.figures import backend_of, record

# They compare every field of every view, read in large pages: see conftest.reads_everything.
pytestmark = pytest.mark.reads_everything


WORKSPACES = ("acme", "globex", "initech")
CONVERSATIONS = ("shared-1", "shared-2")  # the same conversation ids in every workspace
WAIT = 10.0  # seconds to wait for something that should come at once
ATTEMPT = 1.0  # seconds one priming write waits for its event before another is written
IDS_PER_QUERY = 13  # two aliases each, and the 4 of the lists: the limit is 30
# A long run draws new examples, this many:
#     HERALD_ISOLATION_EXAMPLES=200 .venv/bin/pytest -q tests/test_isolation_property.py
_LONG_RUN = int(os.environ.get("HERALD_ISOLATION_EXAMPLES", "0") or "0")
STEPS = hypothesis_settings(
    max_examples=_LONG_RUN or 10,
    stateful_step_count=15,
    derandomize=not _LONG_RUN,  # the normal run is the same every time: CI fails only on a change
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)

EVENT_FIELDS = """
  __typename messageId conversationId version type actor
  ... on MessageDrafted { text body channel requiresApproval }
  ... on MessageEdited { text body afterSend }
  ... on MessageRejected { reason }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
MESSAGE_FIELDS = """
  id conversationId status text body reference rejectionReason failureReason
  recipients { identifierValue } sender { name }
"""
SUBSCRIPTION = f"subscription {{ messageEvents {{ {EVENT_FIELDS} }} }}"
LIST_FIELDS = """
  all: messages(first: 100, after: $a1) @include(if: $m1) { ...Messages }
  conversation: messages(conversationId: $c, first: 100, after: $a2) @include(if: $m2) {
    edges { cursor node { id conversationId text } } pageInfo { hasNextPage endCursor }
  }
  events: events(first: 500, after: $a3) @include(if: $m3) { ...Events }
  conversationEvents: events(conversationId: $c, first: 500, after: $a4) @include(if: $m4) {
    edges { cursor node { messageId conversationId } } pageInfo { hasNextPage endCursor }
  }
"""
LIST_VARIABLES = (
    "$c: ID, $a1: String, $a2: String, $a3: String, $a4: String, "
    "$m1: Boolean!, $m2: Boolean!, $m3: Boolean!, $m4: Boolean!"
)
FRAGMENTS = f"""
fragment Messages on MessageConnection {{
  edges {{ cursor node {{ {MESSAGE_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
}}
fragment Events on MessageEventConnection {{
  edges {{ cursor node {{ {EVENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
}}
"""
ALIASES = ("all", "conversation", "events", "conversationEvents")
LAST = "query($after: String) { events(first: 500, after: $after) { pageInfo { endCursor } } }"


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ id version status }} }}"


EDIT = mutation("editMessage", "EditMessageInput")
APPROVE = mutation("approveMessage", "ApproveMessageInput")
SEND = mutation("sendMessage", "SendMessageInput")
REJECT = mutation("rejectMessage", "RejectMessageInput")
REDACT = mutation("redactMessage", "RedactMessageInput")
RECORD = mutation("recordDeliveryStatus", "RecordDeliveryStatusInput")
UPDATE = mutation("updateMessage", "UpdateMessageInput")
ACTION = """
mutation($c: ID!, $m: ID!, $meta: MessageActionMetadataInput!) {
  handleMessageAction(conversationId: $c, messageId: $m, metadata: $meta) {
    status message { _id message status }
  }
}
"""


@cache
def survey_query(count: int) -> str:
    """The workspace's lists, and `count` messages by id (now, at version 1, and their
    history), in one request."""
    declared = "".join(f", $i{k}: ID!" for k in range(count))
    by_id = " ".join(
        f"m{k}: message(id: $i{k}) {{ {MESSAGE_FIELDS} history(first: 100) {{ edges {{ node {{"
        f" {EVENT_FIELDS} }} }} }} }} a{k}: messageAt(id: $i{k}, version: 1) {{ {MESSAGE_FIELDS} }}"
        for k in range(count)
    )
    return f"query({LIST_VARIABLES}{declared}) {{ {LIST_FIELDS} {by_id} }} {FRAGMENTS}"


class Subscription:
    """One graphql-transport-ws connection streaming every event of one workspace."""

    def __init__(self, ws: ClientConnection, key: str) -> None:
        self.ws = ws
        self.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        assert self.receive(time.monotonic() + WAIT) == {"type": "connection_ack"}
        self.send({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        self.received: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def receive(self, deadline: float) -> dict[str, Any]:
        while True:
            raw = self.ws.recv(timeout=max(0.0, deadline - time.monotonic()))
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                self.send({"type": "pong"})
                continue
            return message

    def event(self, deadline: float) -> dict[str, Any]:
        message = self.receive(deadline)
        assert message.get("id") == "1", message
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["messageEvents"]
        return event

    def prime(self, write: Callable[[], tuple[str, int]]) -> None:
        """Return once the subscription is live: write an event and wait for it, again with a
        new event while none arrives (one written before the subscription started never will)."""
        deadline = time.monotonic() + WAIT
        while True:
            message_id, version = write()
            attempt = min(deadline, time.monotonic() + ATTEMPT)
            try:
                while True:
                    got = self.event(attempt)
                    if (got["messageId"], got["version"]) == (message_id, version):
                        return
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise

    def catch_up(self, count: int) -> list[dict[str, Any]]:
        """Everything received once `count` events have come (more fail the comparison)."""
        deadline = time.monotonic() + WAIT
        while len(self.received) < count:
            self.received.append(self.event(deadline))
        return self.received


@dataclass
class Tenant:
    name: str
    api: Api
    subscription: Subscription
    start: str | None = None  # the events cursor when the subscription went live
    # Events are only ever appended, so each is read (and checked) once: where reading
    # stopped, and what was read since the subscription went live.
    read_to: dict[str, str | None] = field(
        default_factory=lambda: {"events": None, "conversationEvents": None}
    )
    since: list[dict[str, Any]] = field(default_factory=list)

    @property
    def marker(self) -> str:
        return f"[{self.name}]"


@dataclass
class Registry:
    """Every workspace and message made so far, by any example."""

    owners: dict[str, str] = field(default_factory=dict)  # message id -> workspace name
    workspaces: list[str] = field(default_factory=list)


@dataclass
class World:
    """One example's three fresh workspaces, each with its subscription open."""

    tenants: list[Tenant]
    registry: Registry

    @property
    def owners(self) -> dict[str, str]:
        return self.registry.owners

    def foreign(self, tenant: Tenant) -> list[str]:
        """What must never show up in `tenant`'s answers: others' markers and message ids."""
        others = [f"[{name}]" for name in self.registry.workspaces if name != tenant.name]
        return others + [mid for mid, owner in self.owners.items() if owner != tenant.name]


def open_world(server: LiveServer, stack: ExitStack, registry: Registry) -> World:
    """Three new workspaces, each subscribed to its own events, the subscriptions live."""
    generation = len(registry.workspaces) // len(WORKSPACES)
    tenants = []
    for name in WORKSPACES:
        workspace = f"{name}-{generation}"
        registry.workspaces.append(workspace)
        api = server.client(workspace, f"{workspace}-bot")
        stack.callback(api.close)
        assert api.key is not None
        ws = connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            open_timeout=WAIT,
        )
        tenants.append(Tenant(workspace, api, Subscription(stack.enter_context(ws), api.key)))
    world = World(tenants, registry)
    for tenant in tenants:
        tenant.subscription.prime(warm_up(world, tenant))
        tenant.start = last_cursor(tenant.api)
        assert tenant.start is not None  # the warm-up drafts are events
    return world


def last_cursor(api: Api, known: str | None = None) -> str | None:
    cursor = known
    while True:
        end = api.ok(LAST, {"after": cursor})["events"]["pageInfo"]["endCursor"]
        if end is None:
            return cursor
        cursor = end


def assert_no_leak(world: World, tenant: Tenant, answer: object, what: str) -> None:
    text = json.dumps(answer, ensure_ascii=False)
    leaked = [item for item in world.foreign(tenant) if item in text]
    assert not leaked, f"{tenant.name}'s {what} shows {leaked}: {text[:3000]}"


@dataclass
class Survey:
    lists: dict[str, list[dict[str, Any]]]  # alias -> edges
    by_id: dict[str, tuple[Any, Any]]  # message id -> (message, messageAt version 1)


def survey(tenant: Tenant, ids: list[str]) -> Survey:
    """Every page of the workspace's messages (all, and in one conversation), its events (all,
    and of that conversation) recorded since the last survey, and the given messages."""
    variables: dict[str, Any] = {
        "c": CONVERSATIONS[0],
        "a1": None,
        "a2": None,
        "a3": tenant.read_to["events"],
        "a4": tenant.read_to["conversationEvents"],
    }
    variables |= {f"m{n}": True for n in range(1, 5)}
    found = Survey({alias: [] for alias in ALIASES}, {})
    chunks = [ids[i : i + IDS_PER_QUERY] for i in range(0, len(ids), IDS_PER_QUERY)]
    while chunks or any(variables[f"m{n}"] for n in range(1, 5)):
        chunk = chunks.pop(0) if chunks else []
        data = tenant.api.ok(
            survey_query(len(chunk)), variables | {f"i{k}": i for k, i in enumerate(chunk)}
        )
        for k, message_id in enumerate(chunk):
            found.by_id[message_id] = (data[f"m{k}"], data[f"a{k}"])
        for n, alias in enumerate(ALIASES, start=1):
            if not variables[f"m{n}"]:
                continue
            page = data[alias]
            found.lists[alias] += page["edges"]
            if page["pageInfo"]["endCursor"] is not None:
                variables[f"a{n}"] = page["pageInfo"]["endCursor"]
            variables[f"m{n}"] = page["pageInfo"]["hasNextPage"]
    for n, alias in enumerate(ALIASES[2:], start=3):
        tenant.read_to[alias] = variables[f"a{n}"]
    start = -1 if tenant.start is None else int(tenant.start)
    tenant.since += [e["node"] for e in found.lists["events"] if int(e["cursor"]) > start]
    return found


def written(tenant: Tenant, words: str) -> str:
    return f"{tenant.marker} {words}"


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=12).map(str.strip).filter(bool)
REPORTS = ("PROCESSING", "SENT", "DELIVERED", "SENDING_FAILED", "DELIVERY_FAILED")


class Command:
    """A command on a message: its document, and its variables for (tenant, message id,
    conversation, words)."""

    def __init__(
        self,
        name: str,
        document: str,
        variables: Callable[[Tenant, str, str, str], dict[str, Any]],
    ) -> None:
        self.name = name
        self.document = document
        self.variables = variables

    def __repr__(self) -> str:
        return self.name


COMMANDS = [
    Command("edit", EDIT, lambda t, i, c, w: {"input": {"id": i, "text": written(t, w)}}),
    Command("approve", APPROVE, lambda t, i, c, w: {"input": {"id": i, "actor": written(t, w)}}),
    Command("send", SEND, lambda t, i, c, w: {"input": {"id": i}}),
    Command("reject", REJECT, lambda t, i, c, w: {"input": {"id": i, "reason": written(t, w)}}),
    Command("redact", REDACT, lambda t, i, c, w: {"input": {"id": i, "reason": written(t, w)}}),
    Command(
        "record a status",
        RECORD,
        lambda t, i, c, w: {"input": {"id": i, "status": "SENT", "reason": written(t, w)}},
    ),
    Command(
        "update body",
        UPDATE,
        lambda t, i, c, w: {
            "input": {
                "conversationId": c,
                "id": i,
                "body": {"type": "text", "text": {"text": written(t, w)}},
                "recipients": [{"identifierKey": "phonenumber", "identifierValue": written(t, w)}],
            }
        },
    ),
    Command(
        "update and send",
        UPDATE,
        lambda t, i, c, w: {"input": {"conversationId": c, "id": i, "draft": False}},
    ),
    Command(
        "approve action",
        ACTION,
        lambda t, i, c, w: {"c": c, "m": i, "meta": {"action": "APPROVE"}},
    ),
    Command(
        "edit action",
        ACTION,
        lambda t, i, c, w: {
            "c": c,
            "m": i,
            "meta": {"action": "EDIT", "editedMessage": written(t, w)},
        },
    ),
    Command(
        "reject action",
        ACTION,
        lambda t, i, c, w: {"c": c, "m": i, "meta": {"action": "REJECT"}},
    ),
]


def make_machine(server: LiveServer, registry: Registry) -> type[RuleBasedStateMachine]:
    class Workspaces(RuleBasedStateMachine):
        """Random commands of three workspaces; isolation checked after every step."""

        messages: Bundle[str] = Bundle("messages")

        def __init__(self) -> None:
            super().__init__()
            self.stack = ExitStack()
            self.world = open_world(server, self.stack, registry)
            self.made: dict[str, tuple[Tenant, str]] = {}  # this example's: id -> owner, conv
            self.touched: str | None = None  # the message the last step aimed at
            self.recorded_nothing = False  # whether the last step must have recorded nothing
            self.backend = backend_of(server.herald.settings.database_url)
            self.count(examples=1, workspaces=len(self.world.tenants))
            self.count(subscriptions=len(self.world.tenants))

        def count(self, **counts: int) -> None:
            record("isolation", self.backend, **counts)

        def act(self, tenant: Tenant, document: str, variables: dict[str, Any]) -> None:
            """A command of the message's own workspace: done, or refused by the lifecycle."""
            body = tenant.api.post(document, variables)
            assert_no_leak(self.world, tenant, body, "command answer")
            if "errors" in body:
                codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
                assert codes == ["CONFLICT"], (document, variables, body)
            self.count(steps=1, commands=1)

        @rule(
            target=messages,
            owner=st.sampled_from(range(len(WORKSPACES))),
            conversation=st.sampled_from(CONVERSATIONS),
            channel=st.sampled_from(["CHAT", "SMS"]),
            needs_approval=st.booleans(),
            text=words,
        )
        def draft_message(
            self, owner: int, conversation: str, channel: str, needs_approval: bool, text: str
        ) -> str:
            tenant = self.world.tenants[owner]
            made = draft(
                tenant.api,
                written(tenant, text),
                conversationId=conversation,
                channel=channel,
                requiresApproval=needs_approval,
                reference=written(tenant, text),
                sender={"name": written(tenant, text)},
            )
            message_id = str(made["id"])
            self.world.owners[message_id] = tenant.name
            self.made[message_id] = (tenant, conversation)
            self.touched = message_id
            self.count(steps=1, drafts=1)
            return message_id

        @rule(
            message=messages,
            command=st.sampled_from(COMMANDS),
            text=words,
            report=st.sampled_from(REPORTS),
        )
        def command(self, message: str, command: Command, text: str, report: str) -> None:
            tenant, conversation = self.made[message]
            variables = command.variables(tenant, message, conversation, text)
            if command.document is RECORD:
                variables["input"]["status"] = report
            self.act(tenant, command.document, variables)
            self.touched = message

        @rule(
            message=messages,
            offset=st.sampled_from([1, 2]),
            command=st.sampled_from(COMMANDS),
            text=words,
        )
        def intrude(self, message: str, offset: int, command: Command, text: str) -> None:
            """Another workspace's command on the message: NOT_FOUND, and nothing is recorded
            anywhere (the invariant's survey finds no new event in any workspace)."""
            owner, conversation = self.made[message]
            index = self.world.tenants.index(owner)
            intruder = self.world.tenants[(index + offset) % len(self.world.tenants)]
            variables = command.variables(intruder, message, conversation, text)

            body = intruder.api.post(command.document, variables)

            assert body.get("data") is None, body
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            assert codes == ["NOT_FOUND"], (command.name, body)
            assert_no_leak(self.world, intruder, body, "refusal")
            self.touched = message
            self.recorded_nothing = True
            self.count(steps=1, intrusions_refused=1)

        @invariant()
        def each_workspace_sees_only_its_own(self) -> None:
            """Every list of every workspace, and the message the step wrote to as each
            workspace sees it (the other messages are as they were; teardown sees them all)."""
            for tenant in self.world.tenants:
                found = self.check(tenant, [] if self.touched is None else [self.touched])
                if self.recorded_nothing:
                    assert found.lists["events"] == [], (tenant.name, found.lists["events"])
            self.recorded_nothing = False

        def check(self, tenant: Tenant, ids: list[str]) -> Survey:
            found = survey(tenant, ids)
            answers = [found.lists, list(found.by_id.values())]  # not the ids asked about
            assert_no_leak(self.world, tenant, answers, "queries")
            lists = found.lists
            listed = [e["node"]["id"] for key in ("all", "conversation") for e in lists[key]]
            eventful = [
                e["node"]["messageId"]
                for key in ("events", "conversationEvents")
                for e in lists[key]
            ]
            assert {self.world.owners.get(i) for i in listed + eventful} <= {tenant.name}
            mine = {i for i, owner in self.world.owners.items() if owner == tenant.name}
            assert {e["node"]["id"] for e in lists["all"]} == mine
            in_conversation = [
                e["node"]["conversationId"]
                for key in ("conversation", "conversationEvents")
                for e in lists[key]
            ]
            assert set(in_conversation) <= {CONVERSATIONS[0]}
            for message_id, (now, then) in found.by_id.items():
                if self.world.owners[message_id] != tenant.name:
                    assert (now, then) == (None, None), (tenant.name, message_id, now, then)
                    continue
                assert now is not None
                assert then is not None
                assert (now["id"], then["id"]) == (message_id, message_id)
                history = [e["node"]["messageId"] for e in now["history"]["edges"]]
                assert history
                assert set(history) == {message_id}
            # The subscription has streamed exactly the events recorded since it went live.
            compared = len(tenant.subscription.received)
            streamed = tenant.subscription.catch_up(len(tenant.since))
            assert_no_leak(self.world, tenant, streamed, "subscription")
            keys = ("messageId", "version", "type", "conversationId", "actor")
            assert [[e[k] for k in keys] for e in streamed] == [
                [e[k] for k in keys] for e in tenant.since
            ]
            self.count(
                surveys=1,
                messages_read_by_id=len(found.by_id),
                listed_items_checked=sum(len(edges) for edges in found.lists.values()),
                streamed_events_checked=len(streamed) - compared,
            )
            return found

        def teardown(self) -> None:
            """A last event in each workspace flushes out anything streamed to the wrong one;
            then every message of the example, as each workspace sees it. (Skipped when a step
            failed: its error is the one to report.)"""
            with self.stack:
                if sys.exc_info()[0] is not None:
                    return
                for tenant in self.world.tenants:
                    made = draft(tenant.api, written(tenant, "the end"), conversationId="end")
                    self.world.owners[str(made["id"])] = tenant.name
                for tenant in self.world.tenants:
                    self.check(tenant, list(self.made))

    return Workspaces


def warm_up(world: World, tenant: Tenant) -> Callable[[], tuple[str, int]]:
    """Drafts that prove a subscription live; each a new message of the tenant's."""
    counter = iter(range(1000))

    def write() -> tuple[str, int]:
        made = draft(tenant.api, written(tenant, f"warm-up {next(counter)}"))
        world.owners[str(made["id"])] = tenant.name
        return str(made["id"]), int(made["version"])

    return write


def test_random_work_of_three_workspaces_never_shows_one_anothers_messages(
    server: LiveServer,
) -> None:
    registry = Registry()
    run_state_machine_as_test(make_machine(server, registry), settings=STEPS)
    assert len(registry.workspaces) >= 3 * STEPS.max_examples  # a fresh world per example
