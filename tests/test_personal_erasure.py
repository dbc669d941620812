"""Redaction erases the person too: every personal field of a message is sealed at rest, and once
the message is redacted no API path answers any of them and no byte of them is left, in the
SQLite files or in a pg_dump. A message that is not redacted keeps them, readable."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import MESSAGE_FIELDS, Api, LiveServer
from tests.erasure import holding, stored_bytes, text_needles
from tests.figures import backend_of, record
from tests.processes import herald_cli
from tests.ws import init, receive

# It reads every field of every view in large pages: see conftest.reads_everything.
pytestmark = pytest.mark.reads_everything

DRAFT = f"""
mutation($input: DraftMessageInput!) {{ draftMessage(input: $input) {{ {MESSAGE_FIELDS} }} }}
"""
UPDATE = "mutation($input: UpdateMessageInput!) { updateMessage(input: $input) { id version } }"
EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version } }"
ACTION = """
mutation($c: ID!, $m: ID!, $meta: MessageActionMetadataInput!) {
  handleMessageAction(conversationId: $c, messageId: $m, metadata: $meta) {
    status message { _id message to sent status }
  }
}
"""
REJECT = "mutation($input: RejectMessageInput!) { rejectMessage(input: $input) { id } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }"
REPORT = """
mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { id } }
"""
REDACT = f"""
mutation($input: RedactMessageInput!) {{ redactMessage(input: $input) {{ {MESSAGE_FIELDS} }} }}
"""
EVENT_FIELDS = """
  __typename messageId version type actor
  ... on MessageDrafted { text body recipients { identifierKey identifierValue type } }
  ... on MessageEdited { text body }
  ... on MessageRejected { reason }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
MESSAGE = f"""
query($id: ID!) {{
  message(id: $id) {{
    {MESSAGE_FIELDS}
    history(first: 100) {{ edges {{ node {{ {EVENT_FIELDS} }} }} }}
  }}
}}
"""
MESSAGE_AT = (
    f"query($id: ID!, $v: Int!) {{ messageAt(id: $id, version: $v) {{ {MESSAGE_FIELDS} }} }}"
)
LISTS = f"""
query {{
  messages(first: 100) {{ edges {{ node {{ {MESSAGE_FIELDS} }} }} }}
  events(first: 500) {{ edges {{ node {{ {EVENT_FIELDS} }} }} }}
}}
"""


class Markers:
    """A unique string for each personal value, so its bytes can be looked for anywhere."""

    def __init__(self) -> None:
        self.given: dict[str, str] = {}

    def __call__(self, name: str, form: str = "{}") -> str:
        value = form.format(uuid.uuid4().hex)
        self.given[name] = value
        return value

    def phone(self, name: str) -> str:
        value = "+1555" + str(uuid.uuid4().int)[:12]
        self.given[name] = value
        return value


def draft(api: Api, m: Markers, who: str, **extra: Any) -> dict[str, Any]:
    given = {
        "conversationId": f"conv-{who}",
        "text": m(f"{who}.text", "text {} card 4111"),
        "recipients": [
            {"identifierKey": "phonenumber", "identifierValue": m.phone(f"{who}.phone")},
            {
                "identifierKey": "emailaddress",
                "identifierValue": m(f"{who}.email", "{}@example.com"),
                "type": "CC",
            },
        ],
        "sender": {"name": m(f"{who}.sender", "Sender {}"), "email": m(f"{who}.from", "{}@x.org")},
        "reference": m(f"{who}.reference", "ref-{}"),
        **extra,
    }
    made: dict[str, Any] = api.ok(DRAFT, {"input": given})["draftMessage"]
    return made


def tell(api: Api, m: Markers) -> tuple[dict[str, str], str]:
    """Messages through every path that sets a personal value; the ids of those to redact (by
    name), and the id of one that keeps everything."""
    ids: dict[str, str] = {}
    # A chat message: updated, edited through handleMessageAction, approved, delivered, edited.
    a = draft(api, m, "a", requiresApproval=True)
    ids["a"] = a["id"]
    update = {
        "conversationId": a["conversationId"],
        "id": a["id"],
        "recipients": [{"identifierKey": "phonenumber", "identifierValue": m.phone("a.phone2")}],
        "sender": {"name": m("a.sender2", "Sender {}")},
        "body": {"type": "text", "text": {"text": m("a.body", "body {}")}},
    }
    api.ok(UPDATE, {"input": update})
    edit = {"action": "EDIT", "editedMessage": m("a.action", "action {}")}
    api.ok(ACTION, {"c": a["conversationId"], "m": a["id"], "meta": edit})
    api.ok(ACTION, {"c": a["conversationId"], "m": a["id"], "meta": {"action": "APPROVE"}})
    api.ok(REPORT, {"input": {"id": a["id"], "status": "SENT", "reason": m("a.sent", "ok {}")}})
    api.ok(EDIT, {"input": {"id": a["id"], "text": m("a.edit", "edited {}")}})
    # A rejected draft.
    b = draft(api, m, "b")
    ids["b"] = b["id"]
    api.ok(REJECT, {"input": {"id": b["id"], "reason": m("b.rejection", "no {}")}})
    # A message whose delivery failed.
    c = draft(api, m, "c", channel="SMS")
    ids["c"] = c["id"]
    api.ok(SEND, {"input": {"id": c["id"]}})
    failed = {"id": c["id"], "status": "SENDING_FAILED", "reason": m("c.failure", "bad {}")}
    api.ok(REPORT, {"input": failed})
    # A draft, redacted as a draft.
    ids["d"] = draft(api, m, "d")["id"]
    kept = draft(api, m, "kept")["id"]
    return ids, kept


def redact_all(api: Api, m: Markers, ids: dict[str, str]) -> None:
    for who, mid in ids.items():
        redacted = api.ok(REDACT, {"input": {"id": mid, "reason": m(f"{who}.why", "why {}")}})
        message = redacted["redactMessage"]
        assert message["redacted"] is True
        assert_erased(message)


def assert_erased(message: dict[str, Any]) -> None:
    for name in ("text", "body", "sender", "reference", "rejectionReason", "failureReason"):
        assert message[name] is None, (name, message)
    assert message["recipients"], "recipients keep their kind and type"
    for recipient in message["recipients"]:
        assert recipient["identifierValue"] == ""
        assert recipient["identifierKey"] in ("phonenumber", "emailaddress")


def assert_event_erased(event: dict[str, Any]) -> None:
    for name in ("text", "body", "reason"):
        assert event.get(name) is None, event
    for recipient in event.get("recipients", []):
        assert recipient["identifierValue"] == ""


def started(api: Api, ws: Any) -> set[str]:
    """Subscriptions start from now, and the server starts one when it gets to it: write until
    it sees an event. The ids of what was written for that, whose events may still come."""
    primers: set[str] = set()
    while True:
        drafted = api.ok(DRAFT, {"input": {"conversationId": "primer", "text": "hi"}})
        primers.add(drafted["draftMessage"]["id"])
        try:
            seen = receive(ws, wait=1.0)["payload"]["data"]["messageEvents"]
        except TimeoutError:
            assert len(primers) < 30, "the subscription never started"
            continue
        assert seen["messageId"] in primers
        return primers


def every_answer(api: Api, mid: str) -> list[Any]:
    now = api.ok(MESSAGE, {"id": mid})["message"]
    at = [
        api.ok(MESSAGE_AT, {"id": mid, "v": v})["messageAt"] for v in range(1, now["version"] + 1)
    ]
    return [now, *at]


def test_no_personal_value_of_a_redacted_message_is_answered_or_stored(
    settings: Settings, tmp_path: Path
) -> None:
    herald = Herald(settings)
    m = Markers()
    try:
        with LiveServer(herald) as server:
            api = server.client("acme", "acme-bot")
            ids, kept = tell(api, m)
            kept_before = api.ok(MESSAGE, {"id": kept})["message"]
            # At rest, nothing personal is in clear, redacted or not.
            for name, value in m.given.items():
                assert holding(stored_bytes(settings.database_url), text_needles(value)) == [], name
            key = server.key("acme", "watcher")
            with connect(
                f"ws://127.0.0.1:{server.port}/graphql",
                subprotocols=[Subprotocol("graphql-transport-ws")],
            ) as ws:
                init(ws, key)
                subscription = f"subscription {{ messageEvents {{ {EVENT_FIELDS} }} }}"
                ws.send(
                    json.dumps({"id": "s", "type": "subscribe", "payload": {"query": subscription}})
                )
                primers = started(api, ws)
                redact_all(api, m, ids)
                # A report after the redaction keeps no reason either.
                late = {"id": ids["a"], "status": "DELIVERED", "reason": m("a.late", "late {}")}
                api.ok(REPORT, {"input": late})
                live: list[dict[str, Any]] = []
                while len(live) < 5:
                    event = receive(ws)["payload"]["data"]["messageEvents"]
                    if event["messageId"] not in primers:
                        live.append(event)
            assert [e["type"] for e in live] == ["Redacted"] * 4 + ["StatusChanged"]
            for event in live:
                assert_event_erased(event)

            for mid in ids.values():
                for answer in every_answer(api, mid):
                    assert_erased(answer)
                for edge in api.ok(MESSAGE, {"id": mid})["message"]["history"]["edges"]:
                    assert_event_erased(edge["node"])
            edit = {"action": "EDIT", "editedMessage": "x"}
            refused = api.error(ACTION, {"c": "conv-a", "m": ids["a"], "meta": edit})
            assert refused["code"] == "CONFLICT"
            lists = api.ok(LISTS)
            by_id = {e["node"]["id"]: e["node"] for e in lists["messages"]["edges"]}
            for mid in ids.values():
                assert_erased(by_id[mid])
            for edge in lists["events"]["edges"]:
                if edge["node"]["messageId"] in ids.values():
                    assert_event_erased(edge["node"])
            everything = json.dumps([lists, *(every_answer(api, mid) for mid in ids.values())])
            # The message that was not redacted keeps every value, readable.
            assert api.ok(MESSAGE, {"id": kept})["message"] == kept_before
            assert kept_before["reference"] == m.given["kept.reference"]
            assert kept_before["recipients"][0]["identifierValue"] == m.given["kept.phone"]
            api.close()
    finally:
        herald.close()
    erased = {k: v for k, v in m.given.items() if not k.startswith("kept.")}
    cli = "".join(herald_cli(settings.database_url, "history", mid).stdout for mid in ids.values())
    files = stored_bytes(settings.database_url)
    found = {name: holding(files, text_needles(value)) for name, value in m.given.items()}
    answered = [name for name, value in erased.items() if value in everything + cli]
    record(
        "personal erasure",
        backend_of(settings.database_url),
        messages_redacted=len(ids),
        personal_values_sealed=len(m.given),
        bytes_scanned=sum(len(data) for data in files.values()),
        values_found_at_rest=sum(1 for places in found.values() if places),
        values_answered_after_redaction=len(answered),
    )
    assert {name: places for name, places in found.items() if places} == {}
    assert answered == []


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" Ann@Example.COM ", "ann@example.com"),
        ("+1 (555) 010-0199", "+15550100199"),
        ("+15550100199", "+1 555 010 0199"),
    ],
)
def test_an_address_is_one_contact_whatever_its_case_or_separators(typed: str, stored: str) -> None:
    from app.contacts import digest

    secret = b"s" * 32
    assert digest(secret, typed) == digest(secret, stored)
    assert digest(secret, typed) != digest(b"t" * 32, stored), "the workspace's secret matters"
