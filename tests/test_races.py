"""Racing clients end to end: concurrent commands on one message, each from its own HTTP client
on its own thread, released together by a barrier.

The first tests race one command at a time. The last races every command at once: RACERS
clients send random edits, sends, approvals (some with shared idempotency keys, so they race
as retries), rejections, redactions and delivery reports at the same few messages, a step at a
time, each command tagged with an actor of its own; then the recorded events are audited
against what every client was told: each acknowledged command recorded exactly once (a retry
answered by the one recording of its key), nothing recorded that was not acknowledged, each
answer's version and status those of the history, each client's commands recorded in the order
it sent them, and no rule of the lifecycle broken. A longer run, with more rounds:

    HERALD_RACE_ROUNDS=50 .venv/bin/pytest -q tests/test_races.py
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import DRAFT, Api, LiveServer, draft
from tests.figures import backend_of, record
from tests.lifecycle_model import REDACTABLE, SENT_STATES, moves_forward
from tests.processes import herald_cli

RACERS = 8
EDIT = """
mutation($input: EditMessageInput!) { editMessage(input: $input) { id version status text } }
"""
APPROVE = """
mutation($input: ApproveMessageInput!) {
  approveMessage(input: $input) { id version status approvedBy approvedAt sentAt updatedAt }
}
"""
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id version status } }"
REDACT = """
mutation($input: RedactMessageInput!) {
  redactMessage(input: $input) { id version status redacted text }
}
"""
RECORD = """
mutation($input: RecordDeliveryStatusInput!) {
  recordDeliveryStatus(input: $input) { id version status }
}
"""
HISTORY = """
query($id: ID!) {
  message(id: $id) {
    version status text redacted
    history { edges { node { type version ... on MessageEdited { text } } } }
  }
}
"""
EVENTS = "{ events(first: 500) { edges { node { messageId type version } } } }"

Request = tuple[str, dict[str, Any]]


def race(server: LiveServer, key: str, request: Callable[[int], Request]) -> list[dict[str, Any]]:
    """Send request(i) from each of RACERS clients at once; their response bodies, in order."""
    clients = [Api(server.base_url, key) for _ in range(RACERS)]
    for client in clients:  # connect first, so the race is between requests, not handshakes
        client.ok("{ __typename }")
    barrier = threading.Barrier(RACERS, timeout=10)
    bodies: list[dict[str, Any] | None] = [None] * RACERS
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            query, variables = request(i)
            barrier.wait()
            bodies[i] = clients[i].post(query, variables)
        except BaseException as e:  # reported below, in the test's own thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for client in clients:
        client.close()
    assert not any(thread.is_alive() for thread in threads), "a racer did not finish"
    assert not failures, failures
    answered = [body for body in bodies if body is not None]
    assert len(answered) == RACERS
    record("races", backend_of(server.herald.settings.database_url), races=1, commands_raced=RACERS)
    return answered


def outcome(bodies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the answers of the racers that succeeded, the one error of each that failed)."""
    won, lost = [], []
    for body in bodies:
        if body.get("errors"):
            assert len(body["errors"]) == 1, body
            lost.append(body["errors"][0]["extensions"])
        else:
            won.append(body["data"])
    return won, lost


def history(api: Api, message_id: str) -> dict[str, Any]:
    message: dict[str, Any] = api.ok(HISTORY, {"id": message_id})["message"]
    return message


def types_of(message: dict[str, Any]) -> Counter[str]:
    return Counter(edge["node"]["type"] for edge in message["history"]["edges"])


def sent_and_reported(api: Api) -> str:
    message_id = str(draft(api, "to be redacted")["id"])
    api.ok(SEND, {"input": {"id": message_id}})
    api.ok(RECORD, {"input": {"id": message_id, "status": "SENT"}})
    return message_id


def test_of_racing_edits_with_the_same_expected_version_exactly_one_wins(
    server: LiveServer, api: Api
) -> None:
    message_id = draft(api, "first words")["id"]

    bodies = race(
        server,
        str(api.key),
        lambda i: (EDIT, {"input": {"id": message_id, "text": f"edit {i}", "expectedVersion": 1}}),
    )

    won, lost = outcome(bodies)
    assert len(won) == 1, bodies
    assert len(lost) == RACERS - 1
    for error in lost:
        assert error == {"code": "CONFLICT", "currentVersion": 2, "currentStatus": "DRAFT"}
    winner = won[0]["editMessage"]
    assert winner["version"] == 2
    message = history(api, message_id)
    assert message["version"] == 2
    assert message["text"] == winner["text"]
    assert types_of(message) == Counter({"Drafted": 1, "Edited": 1})
    assert message["history"]["edges"][1]["node"]["text"] == winner["text"]


def test_racing_edits_without_an_expected_version_all_succeed_and_none_is_lost(
    server: LiveServer, api: Api
) -> None:
    message_id = draft(api, "first words")["id"]
    texts = [f"edit {i}" for i in range(RACERS)]

    bodies = race(
        server, str(api.key), lambda i: (EDIT, {"input": {"id": message_id, "text": texts[i]}})
    )

    won, lost = outcome(bodies)
    assert lost == []
    # Each edit was recorded as a version of its own.
    assert sorted(w["editMessage"]["version"] for w in won) == list(range(2, RACERS + 2))
    message = history(api, message_id)
    assert message["version"] == 1 + RACERS
    edits = [e["node"] for e in message["history"]["edges"] if e["node"]["type"] == "Edited"]
    assert sorted(edit["text"] for edit in edits) == sorted(texts)
    assert message["text"] == edits[-1]["text"]
    last = next(w for w in won if w["editMessage"]["version"] == 1 + RACERS)
    assert last["editMessage"]["text"] == message["text"]


def test_racing_drafts_with_the_same_idempotency_key_make_one_message(
    server: LiveServer, api: Api
) -> None:
    bodies = race(
        server,
        str(api.key),
        lambda i: (
            DRAFT,
            {"input": {"conversationId": "conv-1", "text": f"try {i}", "idempotencyKey": "k-1"}},
        ),
    )

    won, lost = outcome(bodies)
    assert lost == []
    ids = {w["draftMessage"]["id"] for w in won}
    assert len(ids) == 1
    # Every retry answers the first result, whichever racer made it.
    assert len({w["draftMessage"]["text"] for w in won}) == 1
    events = [e["node"] for e in api.ok(EVENTS)["events"]["edges"]]
    assert events == [{"messageId": ids.pop(), "type": "Drafted", "version": 1}]


def test_racing_approvals_with_the_same_idempotency_key_approve_and_send_once(
    server: LiveServer, api: Api
) -> None:
    message_id = draft(api, "please approve", requiresApproval=True)["id"]

    bodies = race(
        server,
        str(api.key),
        lambda _: (APPROVE, {"input": {"id": message_id, "idempotencyKey": "approve-1"}}),
    )

    won, lost = outcome(bodies)
    assert lost == []
    assert all(w == won[0] for w in won), won
    assert won[0]["approveMessage"]["status"] == "ACCEPTED"
    assert won[0]["approveMessage"]["version"] == 3
    message = history(api, message_id)
    assert types_of(message) == Counter({"Drafted": 1, "Approved": 1, "Sent": 1})
    assert message["version"] == 3


def test_of_racing_sends_without_a_key_exactly_one_succeeds(server: LiveServer, api: Api) -> None:
    message_id = draft(api, "send me once")["id"]

    bodies = race(server, str(api.key), lambda _: (SEND, {"input": {"id": message_id}}))

    won, lost = outcome(bodies)
    assert len(won) == 1, bodies
    assert won[0]["sendMessage"] == {"id": message_id, "version": 2, "status": "ACCEPTED"}
    assert lost == [{"code": "CONFLICT", "currentVersion": 2, "currentStatus": "ACCEPTED"}] * (
        RACERS - 1
    )
    assert types_of(history(api, message_id)) == Counter({"Drafted": 1, "Sent": 1})


def test_of_racing_redactions_exactly_one_succeeds(server: LiveServer, api: Api) -> None:
    message_id = sent_and_reported(api)

    bodies = race(server, str(api.key), lambda _: (REDACT, {"input": {"id": message_id}}))

    won, lost = outcome(bodies)
    assert len(won) == 1, bodies
    assert won[0]["redactMessage"] == {
        "id": message_id,
        "version": 4,
        "status": "SENT",
        "redacted": True,
        "text": None,
    }
    assert lost == [{"code": "CONFLICT", "currentVersion": 4, "currentStatus": "SENT"}] * (
        RACERS - 1
    )
    message = history(api, message_id)
    assert types_of(message) == Counter(
        {"Drafted": 1, "Sent": 1, "StatusChanged": 1, "Redacted": 1}
    )
    assert message["redacted"] is True
    assert message["text"] is None


# Many clients, many commands, the same few messages: the final event history against what each
# client was told.

ROUNDS = int(os.environ.get("HERALD_RACE_ROUNDS", "0") or "0") or 3
STEPS = 12  # commands per client and round, each step released to all clients at once
KINDS = ("edit", "send", "approve", "reject", "redact", "report")
REPORTED = ("PROCESSING", "SENT", "DELIVERED", "SENDING_FAILED", "DELIVERY_FAILED")
ANSWER = "{ id version status }"
DOCUMENTS = {
    "edit": f"mutation($input: EditMessageInput!) {{ editMessage(input: $input) {ANSWER} }}",
    "send": f"mutation($input: SendMessageInput!) {{ sendMessage(input: $input) {ANSWER} }}",
    "approve": (
        f"mutation($input: ApproveMessageInput!) {{ approveMessage(input: $input) {ANSWER} }}"
    ),
    "reject": f"mutation($input: RejectMessageInput!) {{ rejectMessage(input: $input) {ANSWER} }}",
    "redact": f"mutation($input: RedactMessageInput!) {{ redactMessage(input: $input) {ANSWER} }}",
    "report": (
        "mutation($input: RecordDeliveryStatusInput!) "
        f"{{ recordDeliveryStatus(input: $input) {ANSWER} }}"
    ),
}
# The events each kind of command records, in order, all with the command's actor.
RECORDS = {
    "edit": ["Edited"],
    "send": ["Sent"],
    "approve": ["Approved", "Sent"],
    "reject": ["Rejected"],
    "redact": ["Redacted"],
    "report": ["StatusChanged"],
}
EVENT_NODE = """
  messageId type version actor
  ... on MessageDrafted { text channel requiresApproval }
  ... on MessageEdited { text }
  ... on MessageStatusChanged { status }
"""
ALL_EVENTS = f"""
query($after: String) {{
  events(first: 100, after: $after) {{
    edges {{ cursor node {{ {EVENT_NODE} }} }} pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
MESSAGE_NOW = f"""
query($id: ID!, $after: String) {{
  message(id: $id) {{
    version status text redacted
    history(first: 100, after: $after) {{
      edges {{ node {{ {EVENT_NODE} }} }} pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""


@dataclass(frozen=True)
class Told:
    """One racing command and what its client was told."""

    client: int
    step: int
    kind: str
    message: str
    actor: str
    key: str | None  # the idempotency key, if the command had one
    expected: int | None  # the expectedVersion it gave, if any
    report: str | None  # the status a `report` command reported
    code: str | None  # None when the command succeeded
    version: int  # the version answered, or the currentVersion of a CONFLICT
    status: str  # the status answered, or the currentStatus of a CONFLICT


@dataclass
class Event:
    position: int
    message: str
    type: str
    version: int
    actor: str | None
    text: str | None
    status: str | None  # a StatusChanged's status


@dataclass
class State:
    status: str
    redacted: bool
    text: str | None


def replay(
    events: list[Event], channel: str, needs_approval: bool
) -> tuple[list[State], list[str]]:
    """The state after each version of one message, and every lifecycle rule its history
    breaks."""
    broken: list[str] = []
    states: list[State] = []
    status, redacted, text = "DRAFT", False, events[0].text if events else None
    for n, e in enumerate(events):
        previous = events[n - 1] if n else None
        where = f"{e.message} v{e.version} {e.type} by {e.actor}"
        if e.version != n + 1:
            broken.append(f"{where}: version {e.version} at place {n + 1} of the history")
        if (n == 0) != (e.type == "Drafted"):
            broken.append(f"{where}: a history starts with Drafted, and only there")
        if redacted and e.type != "StatusChanged":
            broken.append(f"{where}: after the message was redacted")
        if e.type == "Edited":
            if status == "REJECTED":
                broken.append(f"{where}: a rejected message was edited")
            if status in SENT_STATES and channel != "CHAT":
                broken.append(f"{where}: a sent {channel} message was edited")
            text = e.text
        elif e.type in ("Approved", "Rejected") or (e.type == "Sent" and not needs_approval):
            if status != "DRAFT":
                broken.append(f"{where}: only a draft can be {e.type.lower()}, not a {status}")
        elif e.type == "Sent":
            if previous is None or previous.type != "Approved" or previous.actor != e.actor:
                broken.append(f"{where}: a message that needs approval sent without approval")
        elif e.type == "StatusChanged":
            if e.status is None or not moves_forward(status, e.status):
                broken.append(f"{where}: the status moved from {status} to {e.status}")
        elif e.type == "Redacted" and status not in REDACTABLE:
            broken.append(f"{where}: a {status} message was redacted")
        if e.type == "Approved" and (n + 1 == len(events) or events[n + 1].type != "Sent"):
            broken.append(f"{where}: an approval not followed at once by its Sent")
        status = {"Sent": "ACCEPTED", "Rejected": "REJECTED"}.get(e.type, status)
        if e.type == "StatusChanged" and e.status is not None:
            status = e.status
        redacted = redacted or e.type == "Redacted"
        states.append(State(status, redacted, None if redacted else text))
    return states, broken


@dataclass
class Prepared:
    id: str
    channel: str
    needs_approval: bool
    version: int
    lasting: bool = False  # never rejected or redacted: its edits always stand


def prepare_round(api: Api) -> list[Prepared]:
    """Messages in several states: CHAT and SMS drafts, with and without approval, sent CHAT
    messages (one of them kept open to edits all along) and a sent SMS message."""
    sms = {
        "channel": "SMS",
        "recipients": [{"identifierKey": "phonenumber", "identifierValue": "+15550100"}],
    }
    prepared = []
    for text, fields, needs_approval in (
        ("chat draft", {}, False),
        ("chat draft to approve", {}, True),
        ("sms draft to approve", sms, True),
    ):
        made = draft(api, text, actor="setup", requiresApproval=needs_approval, **fields)
        prepared.append(Prepared(made["id"], made["channel"], needs_approval, 1))
    for text, fields, reports, lasting in (
        ("chat sent", {}, ["SENT"], False),
        ("chat sent and kept", {}, ["PROCESSING"], True),
        ("sms sent", sms, [], False),
    ):
        made = draft(api, text, actor="setup", **fields)
        api.ok(SEND, {"input": {"id": made["id"], "actor": "setup"}})
        for status in reports:
            api.ok(RECORD, {"input": {"id": made["id"], "status": status, "actor": "setup"}})
        prepared.append(Prepared(made["id"], made["channel"], False, 2 + len(reports), lasting))
    return prepared


# Edits most, and the commands that end a message's lifecycle least, so a round keeps racing.
WEIGHTS = {"edit": 5, "send": 2, "approve": 2, "reject": 1, "redact": 1, "report": 2}


def command_of(
    chance: random.Random, actor: str, messages: list[Prepared], seen: dict[str, int]
) -> tuple[str, str, dict[str, Any], str | None, int | None, str | None]:
    """(kind, message, input, idempotency key, expected version, reported status)"""
    [kind] = chance.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))
    ending = kind in ("reject", "redact")
    message = chance.choice([m.id for m in messages if not (ending and m.lasting)])
    given: dict[str, Any] = {"id": message, "actor": actor}
    key = expected = report = None
    if kind == "edit":
        given["text"] = f"{actor} text"
    if kind in ("edit", "reject", "redact") and chance.random() < 0.4:
        expected = given["expectedVersion"] = seen[message]  # the version it last saw
    if kind in ("send", "approve") and chance.random() < 0.6:
        key = given["idempotencyKey"] = f"{kind}-key-{chance.randrange(2)}"  # shared: retries
    if kind == "report":
        report = given["status"] = chance.choice(REPORTED)
    return kind, message, given, key, expected, report


def race_round(server: LiveServer, key: str, messages: list[Prepared], seed: int) -> list[Told]:
    """RACERS clients each send STEPS random commands; every step starts on all at once."""
    clients = [Api(server.base_url, key) for _ in range(RACERS)]
    for client in clients:
        client.ok("{ __typename }")
    barrier = threading.Barrier(RACERS, timeout=60)
    told: list[list[Told]] = [[] for _ in range(RACERS)]
    failures: list[BaseException] = []

    def run(c: int) -> None:
        chance = random.Random(seed * 1000 + c)
        seen = {m.id: m.version for m in messages}
        try:
            for step in range(STEPS):
                actor = f"client-{c}-step-{step}"
                kind, message, given, k, expected, report = command_of(
                    chance, actor, messages, seen
                )
                barrier.wait()
                body = clients[c].post(DOCUMENTS[kind], {"input": given})
                if body.get("errors"):
                    assert body.get("data") is None, body
                    [error] = body["errors"]
                    extensions = error["extensions"]
                    code = extensions["code"]
                    version, status = (
                        extensions.get("currentVersion"),
                        extensions.get("currentStatus"),
                    )
                else:
                    code = None
                    answer = next(iter(body["data"].values()))
                    assert answer["id"] == message, body
                    version, status = answer["version"], answer["status"]
                assert isinstance(version, int), body
                assert isinstance(status, str), body
                seen[message] = max(seen[message], version)
                told[c].append(
                    Told(c, step, kind, message, actor, k, expected, report, code, version, status)
                )
        except BaseException as e:  # reported below, in the test's own thread
            failures.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(c,)) for c in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for client in clients:
        client.close()
    assert not any(thread.is_alive() for thread in threads), "a racer did not finish"
    assert not failures, failures
    return [t for answers in told for t in answers]


def recorded_events(api: Api) -> list[Event]:
    """Every event of the workspace, in recorded order, with its position."""
    found: list[Event] = []
    after: str | None = None
    while True:
        page = api.ok(ALL_EVENTS, {"after": after})["events"]
        for edge in page["edges"]:
            node = edge["node"]
            found.append(
                Event(
                    int(edge["cursor"]),
                    node["messageId"],
                    node["type"],
                    node["version"],
                    node["actor"],
                    node.get("text"),
                    node.get("status"),
                )
            )
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def message_now(api: Api, message_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The message's view, and its whole history, page by page."""
    history: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        message: dict[str, Any] = api.ok(MESSAGE_NOW, {"id": message_id, "after": after})["message"]
        history += [edge["node"] for edge in message["history"]["edges"]]
        if not message["history"]["pageInfo"]["hasNextPage"]:
            return message, history
        after = message["history"]["pageInfo"]["endCursor"]


@dataclass
class Audit:
    """What the final history says against what the clients were told; each list must be
    empty."""

    lost: list[str] = field(default_factory=list)  # acknowledged, not recorded (exactly once)
    unacknowledged: list[str] = field(default_factory=list)  # recorded, never acknowledged
    misanswered: list[str] = field(default_factory=list)  # an answer the history contradicts
    disordered: list[str] = field(default_factory=list)  # against a client's own order
    lifecycle: list[str] = field(default_factory=list)  # a rule of the lifecycle broken
    views: list[str] = field(default_factory=list)  # the views disagree with the events
    retries: int = 0  # idempotent retries answered with another command's result
    events: int = 0

    def problems(self) -> list[str]:
        return [
            *self.lost,
            *self.unacknowledged,
            *self.misanswered,
            *self.disordered,
            *self.lifecycle,
            *self.views,
        ]


def audit(api: Api, messages: list[Prepared], told: list[Told]) -> Audit:
    found = Audit()
    events = recorded_events(api)
    found.events = len(events)
    by_message: dict[str, list[Event]] = {m.id: [] for m in messages}
    for e in events:
        by_message[e.message].append(e)  # an unknown message would be a KeyError: a leak
    states: dict[str, list[State]] = {}
    for m in messages:
        states[m.id], broken = replay(by_message[m.id], m.channel, m.needs_approval)
        found.lifecycle += broken
        view, history = message_now(api, m.id)
        mine = [[e.type, e.version, e.actor] for e in by_message[m.id]]
        if [[h["type"], h["version"], h["actor"]] for h in history] != mine:
            found.views.append(f"{m.id}: its history is not its events in the events page")
        last = states[m.id][-1]
        shown = State(view["status"], view["redacted"], view["text"])
        if view["version"] != len(mine) or shown != last:
            found.views.append(f"{m.id}: the view shows {view}, its events replay to {last}")

    by_actor: dict[str, list[Event]] = {}
    for e in events:
        by_actor.setdefault(str(e.actor), []).append(e)
    acknowledged = {t.actor for t in told if t.code is None}
    for actor, recorded in by_actor.items():
        if actor != "setup" and actor not in acknowledged:
            found.unacknowledged.append(f"{actor} recorded {[e.type for e in recorded]}")

    groups: dict[tuple[str, str, str], list[Told]] = {}
    for t in told:
        if t.key is not None:
            groups.setdefault((t.message, t.kind, t.key), []).append(t)
    for t in told:
        state_then = (
            states[t.message][t.version - 1] if 0 < t.version <= len(states[t.message]) else None
        )
        if t.code is not None:
            if t.code != "CONFLICT":
                found.misanswered.append(f"{t.actor} {t.kind}: refused with {t.code}")
            elif state_then is None or state_then.status != t.status:
                found.misanswered.append(
                    f"{t.actor} {t.kind}: a CONFLICT at v{t.version} {t.status}, "
                    f"the events say {state_then}"
                )
            continue
        own = by_actor.get(t.actor, [])
        if not own and t.key is not None:  # an idempotent retry: another's result stands
            recorded = [
                e
                for other in groups[(t.message, t.kind, t.key)]
                for e in by_actor.get(other.actor, [])
            ]
            if [e.type for e in recorded] != RECORDS[t.kind] or t.version < recorded[-1].version:
                found.lost.append(
                    f"{t.actor} {t.kind} (key {t.key}): answered v{t.version}, "
                    f"the key recorded {[(e.type, e.version) for e in recorded]}"
                )
            else:
                found.retries += 1
            continue
        if [e.type for e in own] != RECORDS[t.kind] or any(e.message != t.message for e in own):
            found.lost.append(f"{t.actor} {t.kind}: acknowledged, recorded {own}")
            continue
        versions = [e.version for e in own]
        if versions != list(range(versions[0], versions[0] + len(versions))):
            found.misanswered.append(f"{t.actor} {t.kind}: its events are not consecutive")
        if t.version != versions[-1] or state_then is None or state_then.status != t.status:
            found.misanswered.append(
                f"{t.actor} {t.kind}: answered v{t.version} {t.status}, recorded at "
                f"v{versions[-1]}, which replays to {state_then}"
            )
        if t.expected is not None and versions[0] != t.expected + 1:
            found.misanswered.append(
                f"{t.actor} {t.kind}: expected v{t.expected}, recorded at v{versions[0]}"
            )
        if t.kind == "edit" and own[0].text not in (f"{t.actor} text", None):
            found.misanswered.append(f"{t.actor} edit: recorded the text {own[0].text!r}")
        if t.kind == "report" and own[0].status != t.report:
            found.misanswered.append(f"{t.actor} report {t.report}: recorded {own[0].status}")
    for (message, kind, key), group in groups.items():
        recorded_by = [t.actor for t in group if t.actor in by_actor]
        if len(recorded_by) > 1:
            found.lost.append(f"{kind} key {key} on {message} recorded {len(recorded_by)} times")

    # Each client's commands, one after another: its recorded ones in the order it sent them.
    for client in sorted({t.client for t in told}):
        positions = [
            (t.step, by_actor[t.actor][-1].position)
            for t in told
            if t.client == client and t.actor in by_actor
        ]
        positions.sort()
        for (step, here), (later, there) in itertools.pairwise(positions):
            if not here < there:
                found.disordered.append(
                    f"client {client}: step {step} recorded at {here}, step {later} at {there}"
                )
    return found


def test_many_clients_racing_every_command_leave_exactly_the_acknowledged_history(
    server: LiveServer,
) -> None:
    """Edits (with and without expectedVersion), sends and approvals (some with shared
    idempotency keys, so racing retries), rejections, redactions and delivery reports, from
    RACERS clients on the same four messages; then every event against every answer."""
    backend = backend_of(server.herald.settings.database_url)
    for round_ in range(ROUNDS):
        api = server.client(f"race-{round_}", "setup-key")
        try:
            messages = prepare_round(api)
            told = race_round(server, str(api.key), messages, seed=round_)
            found = audit(api, messages, told)
        finally:
            api.close()
        problems = found.problems()
        record(
            "races",
            backend,
            races=1,
            commands_raced=len(told),
            acknowledged=sum(t.code is None for t in told),
            refused=sum(t.code is not None for t in told),
            idempotent_retries=found.retries,
            events_verified=found.events,
            lost=len(found.lost),
            unacknowledged_recorded=len(found.unacknowledged),
            misanswered=len(found.misanswered),
            out_of_order=len(found.disordered),
            views_disagreeing=len(found.views),
            lifecycle_broken=len(found.lifecycle),
        )
        assert problems == [], f"round {round_}: {problems}"
        lasting = {m.id for m in messages if m.lasting}
        edits = [t for t in told if t.kind == "edit" and t.message in lasting and not t.expected]
        assert all(t.code is None for t in edits), edits  # no edit of it is ever refused
    verified = herald_cli(server.herald.settings.database_url, "projections", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    record("races", backend, projections_verified=1)


def test_the_lifecycle_replay_finds_broken_rules() -> None:
    """The audit above is only worth something if it catches what it looks for."""

    def history(*steps: tuple[str, str | None]) -> list[Event]:
        return [
            Event(n, "m", kind, n, "a", None, status)
            for n, (kind, status) in enumerate(steps, start=1)
        ]

    Steps = list[tuple[str, str | None]]
    sent: Steps = [("Drafted", None), ("Sent", None), ("StatusChanged", "SENT")]
    fine = [*sent, ("Edited", None), ("Redacted", None), ("StatusChanged", "DELIVERED")]
    assert replay(history(*fine), "CHAT", False)[1] == []
    broken: list[tuple[Steps, str, bool]] = [
        ([*sent, ("Edited", None)], "SMS", False),  # a sent SMS edited
        ([("Drafted", None), ("Sent", None)], "CHAT", True),  # sent without approval
        ([("Drafted", None), ("Rejected", None), ("Sent", None)], "CHAT", False),
        ([("Drafted", None), ("Rejected", None), ("Edited", None)], "CHAT", False),
        ([*sent, ("Redacted", None), ("Edited", None)], "CHAT", False),
        ([*sent, ("Redacted", None), ("Redacted", None)], "CHAT", False),
        ([("Drafted", None), ("Sent", None), ("Redacted", None)], "CHAT", False),  # ACCEPTED
        ([("Drafted", None), ("Redacted", None), ("Sent", None)], "CHAT", False),
        ([*sent, ("StatusChanged", "PROCESSING")], "CHAT", False),  # backwards
        ([("Drafted", None), ("Approved", None)], "CHAT", True),  # approved, never sent
        ([("Drafted", None), ("Drafted", None)], "CHAT", False),
    ]
    for steps, channel, needs_approval in broken:
        assert replay(history(*steps), channel, needs_approval)[1], steps
    gap = history(*sent)
    gap[2].version = 4
    assert replay(gap, "CHAT", False)[1]
