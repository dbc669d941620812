"""The lifecycle rules end to end: GraphQL mutations and queries over real HTTP to a live server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import MESSAGE_FIELDS, Api, LiveServer, draft
from tests.figures import record

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {MESSAGE_FIELDS} }} }}"


MESSAGE = f"query($id: ID!) {{ message(id: $id) {{ {MESSAGE_FIELDS} }} }}"
MESSAGE_AT = (
    f"query($id: ID!, $v: Int!) {{ messageAt(id: $id, version: $v) {{ {MESSAGE_FIELDS} }} }}"
)

EVENT_FIELDS = """
  __typename messageId conversationId version type occurredAt actor
  ... on MessageDrafted { channel text body requiresApproval }
  ... on MessageEdited { text body afterSend }
  ... on MessageRejected { reason }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
HISTORY = f"""
query($id: ID!, $first: Int, $after: String) {{
  message(id: $id) {{
    history(first: $first, after: $after) {{
      edges {{ cursor node {{ {EVENT_FIELDS} }} }} {PAGE_INFO}
    }}
  }}
}}
"""
EVENTS = f"""
query($conversationId: ID, $first: Int, $after: String) {{
  events(conversationId: $conversationId, first: $first, after: $after) {{
    edges {{ cursor node {{ {EVENT_FIELDS} }} }} {PAGE_INFO}
  }}
}}
"""
MESSAGES = f"""
query($conversationId: ID, $status: [MessageStatus!], $first: Int, $after: String) {{
  messages(conversationId: $conversationId, status: $status, first: $first, after: $after) {{
    edges {{ cursor node {{ id conversationId status }} }} {PAGE_INFO}
  }}
}}
"""

EDIT = mutation("editMessage", "EditMessageInput")
UPDATE = mutation("updateMessage", "UpdateMessageInput")
SEND = mutation("sendMessage", "SendMessageInput")
APPROVE = mutation("approveMessage", "ApproveMessageInput")
REJECT = mutation("rejectMessage", "RejectMessageInput")
REDACT = mutation("redactMessage", "RedactMessageInput")
STATUS = mutation("recordDeliveryStatus", "RecordDeliveryStatusInput")
ACTION = """
mutation($conversationId: ID!, $messageId: ID!, $metadata: MessageActionMetadataInput!) {
  handleMessageAction(conversationId: $conversationId, messageId: $messageId, metadata: $metadata) {
    status message { _id message to sent status timestamp }
  }
}
"""

SENT_STATES = ("ACCEPTED", "PROCESSING", "SENT", "DELIVERED", "SENDING_FAILED", "DELIVERY_FAILED")
STATES = ("DRAFT", "REJECTED", *SENT_STATES, "redacted", "redacted-draft")
REDACTED_STATUS = {"redacted": "SENT", "redacted-draft": "DRAFT"}

# How each state is reached from a draft: the delivery reports to record after sending.
_REPORTS: dict[str, tuple[str, ...]] = {
    "ACCEPTED": (),
    "PROCESSING": ("PROCESSING",),
    "SENT": ("SENT",),
    "DELIVERED": ("DELIVERED",),
    "SENDING_FAILED": ("SENDING_FAILED",),
    "DELIVERY_FAILED": ("SENT", "DELIVERY_FAILED"),
    "redacted": ("SENT",),
}

# The delivery report each state is offered in the table: a forward move where one exists.
_REPORTED: dict[str, str] = {
    "DRAFT": "PROCESSING",
    "REJECTED": "PROCESSING",
    "ACCEPTED": "PROCESSING",
    "PROCESSING": "SENT",
    "SENT": "DELIVERED",
    "DELIVERED": "DELIVERY_FAILED",
    "SENDING_FAILED": "DELIVERED",
    "DELIVERY_FAILED": "DELIVERED",
    "redacted": "DELIVERED",
    "redacted-draft": "PROCESSING",
}

OK, NO = True, False
# The issue's table, for every command but edit (whose answer depends on the channel too).
TABLE: dict[str, dict[str, bool]] = {
    "DRAFT": {
        "updateMessage": OK,
        "sendMessage": OK,
        "approveMessage": OK,
        "rejectMessage": OK,
        "redactMessage": OK,
        "recordDeliveryStatus": NO,
    },
    "REJECTED": {
        "updateMessage": NO,
        "sendMessage": NO,
        "approveMessage": NO,
        "rejectMessage": NO,
        "redactMessage": OK,
        "recordDeliveryStatus": NO,
    },
    "redacted-draft": dict.fromkeys(
        (
            "updateMessage",
            "sendMessage",
            "approveMessage",
            "rejectMessage",
            "redactMessage",
            "recordDeliveryStatus",
        ),
        NO,
    ),
    **{
        state: {
            "updateMessage": NO,
            "sendMessage": NO,
            "approveMessage": NO,
            "rejectMessage": NO,
            "redactMessage": NO,
            "recordDeliveryStatus": OK,
        }
        for state in ("ACCEPTED", "PROCESSING")
    },
    **{
        state: {
            "updateMessage": NO,
            "sendMessage": NO,
            "approveMessage": NO,
            "rejectMessage": NO,
            "redactMessage": OK,
            "recordDeliveryStatus": state == "SENT",  # the others are final
        }
        for state in ("SENT", "DELIVERED", "SENDING_FAILED", "DELIVERY_FAILED")
    },
    "redacted": {
        "updateMessage": NO,
        "sendMessage": NO,
        "approveMessage": NO,
        "rejectMessage": NO,
        "redactMessage": NO,
        "recordDeliveryStatus": OK,
    },
}


def edit_allowed(state: str, channel: str) -> bool:
    if state == "DRAFT":
        return True
    if state in SENT_STATES:
        return channel == "CHAT"
    return False  # rejected or redacted


# Helpers.


def read(api: Api, mid: str) -> dict[str, Any]:
    message: dict[str, Any] = api.ok(MESSAGE, {"id": mid})["message"]
    assert message is not None
    return message


EVENT_IDS = """
query {
  events(first: 500) { edges { cursor node { messageId version type } } pageInfo { endCursor } }
}
"""


def event_ids(api: Api) -> dict[str, Any]:
    """The workspace's events page, just enough of it to see whether anything was recorded."""
    page: dict[str, Any] = api.ok(EVENT_IDS)["events"]
    return page


def events_page(api: Api, conversation_id: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = api.ok(EVENTS, {"conversationId": conversation_id, "first": 70})[
        "events"
    ]
    return page


def history(api: Api, mid: str) -> list[dict[str, Any]]:
    # Fifty events with their content fit in an operation's cost budget; these have fewer.
    message = api.ok(HISTORY, {"id": mid, "first": 50})["message"]
    return [edge["node"] for edge in message["history"]["edges"]]


def report(api: Api, mid: str, status: str, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = api.ok(STATUS, {"input": {"id": mid, "status": status, **fields}})[
        "recordDeliveryStatus"
    ]
    return message


def reach(api: Api, state: str, channel: str = "CHAT", **fields: Any) -> dict[str, Any]:
    """A fresh message in `state`, made through the API, as the API reads it back."""
    mid = draft(api, f"A message on its way to {state}", channel=channel, **fields)["id"]
    if state == "REJECTED":
        api.ok(REJECT, {"input": {"id": mid, "reason": "not now"}})
    elif state == "redacted-draft":
        api.ok(REDACT, {"input": {"id": mid}})
    elif state != "DRAFT":
        api.ok(SEND, {"input": {"id": mid}})
        for status in _REPORTS[state]:
            report(api, mid, status)
        if state == "redacted":
            api.ok(REDACT, {"input": {"id": mid}})
    message = read(api, mid)
    assert message["redacted"] is (state in REDACTED_STATUS)
    assert message["status"] == REDACTED_STATUS.get(state, state)
    return message


def refused(
    api: Api,
    query: str,
    variables: dict[str, Any],
    message: dict[str, Any],
    code: str,
    owner: Api | None = None,
) -> dict[str, Any]:
    """Run a command that must fail with `code`; check the message and the events of its
    workspace (read by `owner`, the caller by default) stay as they were, and return the error's
    extensions."""
    owner = owner or api
    before = event_ids(owner)
    extensions = api.error(query, variables)
    assert extensions["code"] == code, extensions
    if code == "CONFLICT":
        assert extensions["currentVersion"] == message["version"]
        assert extensions["currentStatus"] == message["status"]
    assert read(owner, message["id"])["version"] == message["version"]
    assert event_ids(owner) == before
    return extensions


def command(name: str, message: dict[str, Any], state: str) -> tuple[str, dict[str, Any]]:
    """The mutation and variables that try `name` on `message`, which is in `state`."""
    mid = message["id"]
    if name == "editMessage":
        return EDIT, {"input": {"id": mid, "text": "Edited words"}}
    if name == "updateMessage":
        recipients = [{"identifierKey": "phonenumber", "identifierValue": "+15550199"}]
        return UPDATE, {
            "input": {
                "conversationId": message["conversationId"],
                "id": mid,
                "recipients": recipients,
            }
        }
    if name == "sendMessage":
        return SEND, {"input": {"id": mid}}
    if name == "approveMessage":
        return APPROVE, {"input": {"id": mid}}
    if name == "rejectMessage":
        return REJECT, {"input": {"id": mid, "reason": "off-brand"}}
    if name == "redactMessage":
        return REDACT, {"input": {"id": mid, "reason": "erasure request"}}
    assert name == "recordDeliveryStatus"
    return STATUS, {"input": {"id": mid, "status": _REPORTED[state]}}


def check_success(
    api: Api, name: str, before: dict[str, Any], after: dict[str, Any], state: str
) -> None:
    """What a command that was allowed must have done."""
    assert after["id"] == before["id"]
    assert read(api, before["id"]) == after  # the views hold the command's events
    steps = 2 if name == "approveMessage" else 1
    assert after["version"] == before["version"] + steps
    if name == "editMessage":
        assert after["text"] == "Edited words"
        assert after["status"] == before["status"]
        assert after["edited"] is (state != "DRAFT")
        last = history(api, before["id"])[-1]
        assert (last["type"], last["afterSend"]) == ("Edited", state != "DRAFT")
    elif name == "updateMessage":
        assert after["status"] == "DRAFT"
        assert after["recipients"] == [
            {"identifierKey": "phonenumber", "identifierValue": "+15550199", "type": "TO"}
        ]
    elif name in ("sendMessage", "approveMessage"):
        assert after["status"] == "ACCEPTED"
        assert after["draft"] is False
        assert after["sentAt"] is not None
    elif name == "rejectMessage":
        assert after["status"] == "REJECTED"
        assert after["rejectionReason"] == "off-brand"
    elif name == "redactMessage":
        assert after["redacted"] is True
        assert (after["text"], after["body"]) == (None, None)
        assert after["status"] == before["status"]
    else:
        assert after["status"] == _REPORTED[state]


# The table.


@pytest.mark.parametrize("state", STATES)
def test_each_command_is_allowed_or_a_conflict_exactly_as_the_table_says(
    api: Api, state: str
) -> None:
    cases = [(name, "CHAT", allowed) for name, allowed in TABLE[state].items()]
    # Edits: drafts always, sent messages only on CHAT.
    cases += [("editMessage", channel, edit_allowed(state, channel)) for channel in ("CHAT", "SMS")]
    for name, channel, allowed in cases:
        message = reach(api, state, channel)
        query, variables = command(name, message, state)
        if allowed:
            body = api.post(query, variables)
            assert "errors" not in body, (name, channel, body["errors"])
            check_success(api, name, message, body["data"][name], state)
        else:
            refused(api, query, variables, message, "CONFLICT")


def test_a_chat_message_edited_after_sending_says_so_in_its_history(api: Api) -> None:
    message = reach(api, "DELIVERED")
    assert message["edited"] is False
    api.ok(EDIT, {"input": {"id": message["id"], "text": "Fixed a typo"}})
    api.ok(EDIT, {"input": {"id": message["id"], "text": "Fixed another typo"}})
    after = read(api, message["id"])
    assert (after["edited"], after["text"], after["status"]) == (
        True,
        "Fixed another typo",
        "DELIVERED",
    )
    edits = [e for e in history(api, message["id"]) if e["type"] == "Edited"]
    assert [(e["__typename"], e["afterSend"], e["text"]) for e in edits] == [
        ("MessageEdited", True, "Fixed a typo"),
        ("MessageEdited", True, "Fixed another typo"),
    ]


def test_a_draft_edit_is_not_an_edit_after_sending(api: Api) -> None:
    mid = draft(api, "First words")["id"]
    after = api.ok(EDIT, {"input": {"id": mid, "text": "Second words"}})["editMessage"]
    assert (after["edited"], after["text"]) == (False, "Second words")
    sent = api.ok(SEND, {"input": {"id": mid}})["sendMessage"]
    assert sent["edited"] is False
    assert [(e["type"], e.get("afterSend")) for e in history(api, mid)] == [
        ("Drafted", None),
        ("Edited", False),
        ("Sent", None),
    ]


# Approve, reject, send.


def test_approving_records_approved_then_sent_and_stamps_who_and_when(api: Api) -> None:
    mid = draft(api, "Please approve", requiresApproval=True)["id"]
    approved = api.ok(APPROVE, {"input": {"id": mid}})["approveMessage"]
    assert (approved["status"], approved["version"], approved["draft"]) == ("ACCEPTED", 3, False)
    assert approved["approvedBy"] == "acme-bot"
    assert DATETIME.match(approved["approvedAt"])
    assert DATETIME.match(approved["sentAt"])
    events = history(api, mid)
    assert [(e["type"], e["__typename"], e["version"]) for e in events] == [
        ("Drafted", "MessageDrafted", 1),
        ("Approved", "MessageApproved", 2),
        ("Sent", "MessageSent", 3),
    ]
    assert events[1]["occurredAt"] == approved["approvedAt"]
    assert events[2]["occurredAt"] == approved["sentAt"]
    assert approved["approvedAt"] <= approved["sentAt"]


def test_rejecting_keeps_the_reason_and_who_rejected(api: Api) -> None:
    mid = draft(api, "Maybe not")["id"]
    rejected = api.ok(REJECT, {"input": {"id": mid, "reason": "Wrong tone", "actor": "rita"}})[
        "rejectMessage"
    ]
    assert (rejected["status"], rejected["rejectionReason"], rejected["rejectedBy"]) == (
        "REJECTED",
        "Wrong tone",
        "rita",
    )
    assert rejected["sentAt"] is None
    last = history(api, mid)[-1]
    assert (last["type"], last["reason"], last["actor"]) == ("Rejected", "Wrong tone", "rita")


def test_requires_approval_blocks_send_but_not_approve(api: Api) -> None:
    message = read(api, draft(api, "Needs a human", requiresApproval=True)["id"])
    assert message["requiresApproval"] is True
    refused(api, SEND, {"input": {"id": message["id"]}}, message, "CONFLICT")
    approved = api.ok(APPROVE, {"input": {"id": message["id"]}})["approveMessage"]
    assert approved["status"] == "ACCEPTED"


def test_a_message_without_required_approval_can_be_sent_directly(api: Api) -> None:
    mid = draft(api, "Ship it")["id"]
    sent = api.ok(SEND, {"input": {"id": mid}})["sendMessage"]
    assert (sent["status"], sent["approvedBy"], sent["approvedAt"]) == ("ACCEPTED", None, None)
    assert DATETIME.match(sent["sentAt"])
    events = history(api, mid)
    assert [e["type"] for e in events] == ["Drafted", "Sent"]
    assert events[1]["occurredAt"] == sent["sentAt"] == sent["updatedAt"]


# Delivery status.


def test_a_failure_reason_lands_in_failure_reason(api: Api) -> None:
    paths = [
        ((), "SENDING_FAILED"),
        (("PROCESSING",), "SENDING_FAILED"),
        (("PROCESSING",), "DELIVERY_FAILED"),
        (("SENT",), "DELIVERY_FAILED"),
    ]
    for path, status in paths:
        mid = draft(api, "Doomed")["id"]
        api.ok(SEND, {"input": {"id": mid}})
        for step in path:
            assert report(api, mid, step, reason="just so")["failureReason"] is None
        reason = f"carrier said no to {status} after {path}"
        failed = report(api, mid, status, reason=reason)
        assert (failed["status"], failed["failureReason"]) == (status, reason)
        assert read(api, mid)["failureReason"] == reason
        last = history(api, mid)[-1]
        assert (last["type"], last["status"], last["reason"]) == ("StatusChanged", status, reason)


def test_delivery_statuses_only_move_forward(api: Api) -> None:
    # (reports that bring the message there, the report then made, allowed?)
    moves: list[tuple[tuple[str, ...], str, bool]] = [
        ((), "SENT", True),  # skipping PROCESSING
        ((), "DELIVERED", True),  # skipping two
        ((), "DELIVERY_FAILED", False),  # only from PROCESSING or SENT
        (("PROCESSING",), "PROCESSING", False),  # the same status again
        (("PROCESSING",), "DELIVERY_FAILED", True),
        (("SENT",), "PROCESSING", False),  # backwards
        (("SENT",), "SENT", False),
        (("SENT",), "SENDING_FAILED", False),  # only from ACCEPTED or PROCESSING
        (("DELIVERED",), "DELIVERY_FAILED", False),  # DELIVERED is final
        (("SENDING_FAILED",), "SENT", False),  # failures are final
        (("SENT", "DELIVERY_FAILED"), "DELIVERED", False),
    ]
    for path, status, allowed in moves:
        mid = draft(api, "On its way")["id"]
        api.ok(SEND, {"input": {"id": mid}})
        for step in path:
            report(api, mid, step)
        message = read(api, mid)
        variables = {"input": {"id": mid, "status": status}}
        if allowed:
            assert report(api, mid, status)["status"] == status, (path, status)
        else:
            refused(api, STATUS, variables, message, "CONFLICT")


def test_a_status_only_commands_set_cannot_be_reported(api: Api) -> None:
    for state in ("DRAFT", "ACCEPTED"):
        message = reach(api, state)
        for status in ("DRAFT", "REJECTED", "ACCEPTED"):
            variables = {"input": {"id": message["id"], "status": status}}
            extensions = refused(api, STATUS, variables, message, "VALIDATION_FAILED")
            assert "input.status" in extensions["details"], (state, status)


# Actors.


def test_the_actor_of_each_event_is_the_given_actor_else_the_key_name(api: Api) -> None:
    mid = draft(api, "Who did this?", actor="ada")["id"]
    api.ok(EDIT, {"input": {"id": mid, "text": "Who did that?"}})
    api.ok(SEND, {"input": {"id": mid, "actor": "grace"}})
    report(api, mid, "PROCESSING")
    report(api, mid, "SENT", actor="carrier-x")
    api.ok(EDIT, {"input": {"id": mid, "text": "Who did it?", "actor": "linus"}})
    api.ok(REDACT, {"input": {"id": mid}})
    assert [(e["type"], e["actor"]) for e in history(api, mid)] == [
        ("Drafted", "ada"),
        ("Edited", "acme-bot"),
        ("Sent", "grace"),
        ("StatusChanged", "acme-bot"),
        ("StatusChanged", "carrier-x"),
        ("Edited", "linus"),
        ("Redacted", "acme-bot"),
    ]


def test_approve_reject_and_update_take_their_actor_from_the_input_or_the_key(api: Api) -> None:
    first = draft(api, "One")
    api.ok(
        UPDATE,
        {"input": {"conversationId": "conv-1", "id": first["id"], "sender": {"name": "Shop"}}},
    )
    approved = api.ok(APPROVE, {"input": {"id": first["id"], "actor": "lead"}})["approveMessage"]
    assert approved["approvedBy"] == "lead"
    assert [(e["type"], e["actor"]) for e in history(api, first["id"])] == [
        ("Drafted", "acme-bot"),
        ("Edited", "acme-bot"),
        ("Approved", "lead"),
        ("Sent", "lead"),
    ]
    second = draft(api, "Two")
    api.ok(
        UPDATE,
        {
            "input": {
                "conversationId": "conv-1",
                "id": second["id"],
                "draft": False,
                "actor": "patcher",
            }
        },
    )
    assert [(e["type"], e["actor"]) for e in history(api, second["id"])] == [
        ("Drafted", "acme-bot"),
        ("Sent", "patcher"),
    ]
    third = draft(api, "Three")
    rejected = api.ok(REJECT, {"input": {"id": third["id"]}})["rejectMessage"]
    assert rejected["rejectedBy"] == "acme-bot"
    approved_by_key = api.ok(APPROVE, {"input": {"id": draft(api, "Four")["id"]}})
    assert approved_by_key["approveMessage"]["approvedBy"] == "acme-bot"


# Bird's updateMessage.


def test_update_message_needs_a_field_besides_the_ids(api: Api) -> None:
    message = read(api, draft(api, "Untouched")["id"])
    variables = {"input": {"conversationId": "conv-1", "id": message["id"]}}
    extensions = refused(api, UPDATE, variables, message, "VALIDATION_FAILED")
    assert "input" in extensions["details"]
    variables = {"input": {"conversationId": "conv-1", "id": message["id"], "expectedVersion": 1}}
    refused(api, UPDATE, variables, message, "VALIDATION_FAILED")


def test_update_message_changes_body_recipients_sender_and_reply_to(api: Api) -> None:
    earlier = draft(api, "The message replied to")["id"]
    mid = draft(api, "Before")["id"]
    body = {"type": "text", "text": {"text": "After"}}
    recipients = [
        {"identifierKey": "emailaddress", "identifierValue": "ada@example.com", "type": "CC"},
        {"identifierKey": "phonenumber", "identifierValue": "+15550123"},
    ]
    updated = api.ok(
        UPDATE,
        {
            "input": {
                "conversationId": "conv-1",
                "id": mid,
                "body": body,
                "recipients": recipients,
                "sender": {"name": "Acme Support", "email": "help@acme.example"},
                "replyToMessageId": earlier,
            }
        },
    )["updateMessage"]
    assert updated == read(api, mid)
    assert (updated["status"], updated["draft"], updated["version"]) == ("DRAFT", True, 2)
    assert (updated["text"], updated["body"]) == ("After", body)
    assert updated["recipients"] == [
        {"identifierKey": "emailaddress", "identifierValue": "ada@example.com", "type": "CC"},
        {"identifierKey": "phonenumber", "identifierValue": "+15550123", "type": "TO"},
    ]
    assert updated["sender"] == {"name": "Acme Support", "email": "help@acme.example"}
    assert updated["replyToMessageId"] == earlier
    assert updated["edited"] is False
    last = history(api, mid)[-1]
    assert (last["type"], last["afterSend"], last["text"]) == ("Edited", False, "After")


def test_update_message_sends_the_draft_with_draft_false_or_status_accepted(api: Api) -> None:
    sendings: list[dict[str, Any]] = [
        {"draft": False},
        {"status": "ACCEPTED"},
        {"draft": False, "status": "ACCEPTED"},
    ]
    for sending in sendings:
        mid = draft(api, "Send me")["id"]
        sent = api.ok(UPDATE, {"input": {"conversationId": "conv-1", "id": mid, **sending}})[
            "updateMessage"
        ]
        assert (sent["status"], sent["draft"], sent["version"]) == ("ACCEPTED", False, 2), sending
        assert DATETIME.match(sent["sentAt"])
        assert [e["type"] for e in history(api, mid)] == ["Drafted", "Sent"]


def test_update_message_can_change_and_send_in_one_go(api: Api) -> None:
    mid = draft(api, "Old words")["id"]
    body = {"type": "text", "text": {"text": "New words"}}
    sent = api.ok(
        UPDATE, {"input": {"conversationId": "conv-1", "id": mid, "body": body, "draft": False}}
    )["updateMessage"]
    assert (sent["status"], sent["text"], sent["version"]) == ("ACCEPTED", "New words", 3)
    assert [e["type"] for e in history(api, mid)] == ["Drafted", "Edited", "Sent"]


def test_update_message_accepts_no_status_but_accepted(api: Api) -> None:
    message = read(api, draft(api, "Stay a draft")["id"])
    others = [s for s in (*STATES[:-2],) if s != "ACCEPTED"]
    assert len(others) == 7
    for status in others:
        variables = {"input": {"conversationId": "conv-1", "id": message["id"], "status": status}}
        extensions = refused(api, UPDATE, variables, message, "VALIDATION_FAILED")
        assert "input.status" in extensions["details"], status


def test_update_message_cannot_turn_a_sent_message_back_into_a_draft(api: Api) -> None:
    message = reach(api, "ACCEPTED")
    variables = {"input": {"conversationId": "conv-1", "id": message["id"], "draft": True}}
    refused(api, UPDATE, variables, message, "CONFLICT")


def test_update_message_in_another_conversation_is_not_found(api: Api) -> None:
    message = read(api, draft(api, "In conv-1")["id"])
    variables = {"input": {"conversationId": "conv-2", "id": message["id"], "draft": False}}
    refused(api, UPDATE, variables, message, "NOT_FOUND")


def test_update_message_reply_to_must_name_a_message_of_the_workspace(
    api: Api, server: LiveServer
) -> None:
    other = server.client("globex")
    foreign = draft(other, "Theirs")["id"]
    message = read(api, draft(api, "Ours")["id"])
    for reply_to in (str(uuid.uuid4()), foreign, "not-an-id"):
        variables = {
            "input": {"conversationId": "conv-1", "id": message["id"], "replyToMessageId": reply_to}
        }
        extensions = refused(api, UPDATE, variables, message, "VALIDATION_FAILED")
        assert "input.replyToMessageId" in extensions["details"], reply_to
    other.close()


# The Handle Message Action API.


RECIPIENTS = [
    {"identifierKey": "emailaddress", "identifierValue": "boss@example.com", "type": "CC"},
    {"identifierKey": "phonenumber", "identifierValue": "+15550111", "type": "TO"},
    {"identifierKey": "phonenumber", "identifierValue": "+15550222", "type": "TO"},
]


@pytest.mark.parametrize(
    ("metadata", "status", "sent", "text"),
    [
        ({"action": "APPROVE"}, "approved", True, "Your order shipped"),
        ({"action": "EDIT", "editedMessage": "Your order is on its way"}, "edited", False, None),
        ({"action": "REJECT"}, "rejected", False, "Your order shipped"),
    ],
)
def test_handle_message_action_answers_in_the_action_api_shape(
    api: Api, metadata: dict[str, Any], status: str, sent: bool, text: str | None
) -> None:
    mid = draft(api, "Your order shipped", recipients=RECIPIENTS, requiresApproval=True)["id"]
    result = api.ok(ACTION, {"conversationId": "conv-1", "messageId": mid, "metadata": metadata})[
        "handleMessageAction"
    ]
    after = read(api, mid)
    assert result == {
        "status": "success",
        "message": {
            "_id": mid,
            "message": text or metadata["editedMessage"],
            "to": "+15550111",
            "sent": sent,
            "status": status,
            "timestamp": after["updatedAt"],
        },
    }
    expected_status = {"approved": "ACCEPTED", "edited": "DRAFT", "rejected": "REJECTED"}[status]
    assert (after["status"], after["text"]) == (expected_status, result["message"]["message"])
    assert all(e["actor"] == "acme-bot" for e in history(api, mid))


def test_handle_message_action_edit_needs_the_edited_message(api: Api) -> None:
    message = read(api, draft(api, "Keep me")["id"])
    for metadata in ({"action": "EDIT"}, {"action": "EDIT", "editedMessage": "  "}):
        variables = {"conversationId": "conv-1", "messageId": message["id"], "metadata": metadata}
        extensions = refused(api, ACTION, variables, message, "VALIDATION_FAILED")
        assert "metadata.editedMessage" in extensions["details"]


def test_handle_message_action_in_another_conversation_is_not_found(api: Api) -> None:
    message = read(api, draft(api, "In conv-1")["id"])
    variables = {
        "conversationId": "elsewhere",
        "messageId": message["id"],
        "metadata": {"action": "APPROVE"},
    }
    refused(api, ACTION, variables, message, "NOT_FOUND")


def test_handle_message_action_follows_the_lifecycle_rules(api: Api) -> None:
    message = reach(api, "REJECTED")
    variables = {"conversationId": "conv-1", "messageId": message["id"]}
    for action in ("APPROVE", "REJECT"):
        refused(api, ACTION, {**variables, "metadata": {"action": action}}, message, "CONFLICT")


# Structured bodies.


def test_editing_the_text_of_a_structured_body_keeps_its_type(api: Api) -> None:
    image = {
        "type": "image",
        "image": {"images": [{"mediaUrl": "https://cdn.example/cat.png"}], "text": "Our cat"},
    }
    made = draft(api, body=image)
    assert (made["text"], made["body"]) == ("Our cat", image)
    edited = api.ok(EDIT, {"input": {"id": made["id"], "text": "Our dog"}})["editMessage"]
    assert edited["text"] == "Our dog"
    assert edited["body"] == {
        "type": "image",
        "image": {"images": [{"mediaUrl": "https://cdn.example/cat.png"}], "text": "Our dog"},
    }
    last = history(api, made["id"])[-1]
    assert (last["text"], last["body"]) == ("Our dog", edited["body"])


def test_handle_message_action_edit_keeps_a_structured_body_type(api: Api) -> None:
    html = {"type": "html", "html": {"html": "<p>Hello</p>", "text": "Hello"}}
    mid = draft(api, body=html)["id"]
    result = api.ok(
        ACTION,
        {
            "conversationId": "conv-1",
            "messageId": mid,
            "metadata": {"action": "EDIT", "editedMessage": "Hi"},
        },
    )["handleMessageAction"]
    assert result["message"]["message"] == "Hi"
    assert read(api, mid)["body"] == {
        "type": "html",
        "html": {"html": "<p>Hello</p>", "text": "Hi"},
    }


# Time travel.


def test_message_at_returns_each_past_version_and_null_outside_them(
    api: Api, server: LiveServer
) -> None:
    mid = draft(api, "Version one")["id"]
    api.ok(EDIT, {"input": {"id": mid, "text": "Version two"}})
    api.ok(SEND, {"input": {"id": mid}})
    now = read(api, mid)

    def at(version: int, id: str = mid, client: Api = api) -> dict[str, Any] | None:
        found: dict[str, Any] | None = client.ok(MESSAGE_AT, {"id": id, "v": version})["messageAt"]
        return found

    seen = [at(v) for v in (1, 2, 3)]
    assert [(m["version"], m["status"], m["text"]) for m in seen if m] == [
        (1, "DRAFT", "Version one"),
        (2, "DRAFT", "Version two"),
        (3, "ACCEPTED", "Version two"),
    ]
    assert seen[-1] == now
    assert at(0) is None
    assert at(-1) is None
    assert at(4) is None
    assert at(1, str(uuid.uuid4())) is None
    assert at(1, "not-an-id") is None
    other = server.client("globex")
    assert at(1, mid, other) is None
    other.close()


# Paging.


def test_history_pages_by_version_with_cursors(api: Api) -> None:
    mid = draft(api, "v1")["id"]
    api.ok(EDIT, {"input": {"id": mid, "text": "v2"}})
    api.ok(EDIT, {"input": {"id": mid, "text": "v3"}})
    api.ok(SEND, {"input": {"id": mid}})
    report(api, mid, "PROCESSING")

    def page(after: str | None) -> dict[str, Any]:
        found: dict[str, Any] = api.ok(HISTORY, {"id": mid, "first": 2, "after": after})["message"][
            "history"
        ]
        return found

    pages = [page(None)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        assert len(pages) < 5, "paging does not end"
        pages.append(page(pages[-1]["pageInfo"]["endCursor"]))
    assert [[e["node"]["version"] for e in p["edges"]] for p in pages] == [[1, 2], [3, 4], [5]]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    for p in pages:
        assert p["pageInfo"]["startCursor"] == p["edges"][0]["cursor"]
        assert p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"]
    types = [e["node"]["type"] for p in pages for e in p["edges"]]
    assert types == ["Drafted", "Edited", "Edited", "Sent", "StatusChanged"]
    assert [e["node"] for p in pages for e in p["edges"]] == history(api, mid)
    end = page(pages[-1]["pageInfo"]["endCursor"])
    assert (end["edges"], end["pageInfo"]["hasNextPage"]) == ([], False)


def test_messages_come_newest_first_with_cursors_and_filters(api: Api) -> None:
    first = draft(api, "one", conversationId="conv-a")["id"]
    second = draft(api, "two", conversationId="conv-b")["id"]
    third = draft(api, "three", conversationId="conv-a")["id"]
    api.ok(SEND, {"input": {"id": second}})

    def ids(**args: Any) -> list[str]:
        found = api.ok(MESSAGES, args)["messages"]
        return [e["node"]["id"] for e in found["edges"]]

    assert ids() == [third, second, first]
    page = api.ok(MESSAGES, {"first": 2})["messages"]
    assert [e["node"]["id"] for e in page["edges"]] == [third, second]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (True, False)
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    rest = api.ok(MESSAGES, {"first": 2, "after": page["pageInfo"]["endCursor"]})["messages"]
    assert [e["node"]["id"] for e in rest["edges"]] == [first]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)
    assert ids(conversationId="conv-a") == [third, first]
    assert ids(conversationId="conv-b") == [second]
    assert ids(conversationId="conv-z") == []
    assert ids(status=["ACCEPTED"]) == [second]
    assert ids(status=["DRAFT"]) == [third, first]
    assert ids(status=["DRAFT", "ACCEPTED"]) == [third, second, first]
    assert ids(conversationId="conv-a", status=["ACCEPTED"]) == []
    assert ids(conversationId="conv-a", first=1) == [third]


def test_events_come_in_recorded_order_with_cursors_and_a_conversation_filter(api: Api) -> None:
    a = draft(api, "a", conversationId="conv-a")["id"]
    b = draft(api, "b", conversationId="conv-b")["id"]
    api.ok(EDIT, {"input": {"id": a, "text": "a2"}})
    api.ok(SEND, {"input": {"id": b}})
    api.ok(SEND, {"input": {"id": a}})
    everything = events_page(api)
    assert everything["pageInfo"]["hasNextPage"] is False
    recorded = [(e["node"]["messageId"], e["node"]["type"]) for e in everything["edges"]]
    assert recorded == [(a, "Drafted"), (b, "Drafted"), (a, "Edited"), (b, "Sent"), (a, "Sent")]
    assert [e["node"]["conversationId"] for e in everything["edges"]] == [
        "conv-a",
        "conv-b",
        "conv-a",
        "conv-b",
        "conv-a",
    ]

    pages: list[dict[str, Any]] = []
    after: str | None = None
    while not pages or pages[-1]["pageInfo"]["hasNextPage"]:
        assert len(pages) < 5, "paging does not end"
        pages.append(api.ok(EVENTS, {"first": 2, "after": after})["events"])
        after = pages[-1]["pageInfo"]["endCursor"]
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert [e for p in pages for e in p["edges"]] == everything["edges"]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]

    only_a = events_page(api, "conv-a")["edges"]
    assert [(e["node"]["messageId"], e["node"]["version"]) for e in only_a] == [
        (a, 1),
        (a, 2),
        (a, 3),
    ]
    half = api.ok(EVENTS, {"conversationId": "conv-a", "first": 1, "after": only_a[0]["cursor"]})
    assert [e["node"]["version"] for e in half["events"]["edges"]] == [2]
    assert events_page(api, "conv-none")["edges"] == []


# Without content fields, so that a page at the cap is within the cost budget.
LIGHT_EVENT = "edges { cursor node { messageId version type } } " + PAGE_INFO
PAGED: list[tuple[str, Callable[[str], dict[str, Any]], int]] = [
    (MESSAGES, lambda _: {}, 100),
    (
        f"query($first: Int, $after: String) {{ events(first: $first, after: $after) {{"
        f" {LIGHT_EVENT} }} }}",
        lambda _: {},
        500,
    ),
    (
        f"query($id: ID!, $first: Int, $after: String) {{ message(id: $id) {{"
        f" history(first: $first, after: $after) {{ {LIGHT_EVENT} }} }} }}",
        lambda mid: {"id": mid},
        100,
    ),
]


def test_a_page_larger_than_the_cap_is_refused(backend: str, api: Api) -> None:
    mid = draft(api, "paged")["id"]
    for query, args, cap in PAGED:
        assert "errors" not in api.post(query, {**args(mid), "first": cap})
        for first in (cap + 1, 10_000, -1):
            extensions = api.error(query, {**args(mid), "first": first})
            assert extensions["code"] == "VALIDATION_FAILED", (query, first)
            assert "first" in extensions["details"]
            record("limits", backend, page_caps_refused=1)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "", "-1", "1.5", "9" * 40, "\u00b2", "\u0661"])
def test_a_malformed_cursor_is_refused(api: Api, cursor: str) -> None:
    mid = draft(api, "paged")["id"]
    for query, args, _ in PAGED:
        extensions = api.error(query, {**args(mid), "after": cursor})
        assert extensions["code"] == "VALIDATION_FAILED", (query, cursor)
        assert "after" in extensions["details"], (query, cursor)


# Redaction.


def test_redaction_erases_the_content_everywhere(api: Api) -> None:
    mid = draft(api, "Card 4111 1111 1111 1111")["id"]
    api.ok(SEND, {"input": {"id": mid}})
    report(api, mid, "SENT")
    api.ok(EDIT, {"input": {"id": mid, "text": "Card 4111 ..."}})
    before = read(api, mid)
    assert before["text"] == "Card 4111 ..."
    redacted = api.ok(REDACT, {"input": {"id": mid, "reason": "PCI"}})["redactMessage"]
    assert redacted == read(api, mid)
    assert (redacted["redacted"], redacted["text"], redacted["body"]) == (True, None, None)
    assert DATETIME.match(redacted["redactedAt"])
    assert redacted["status"] == "SENT"
    assert redacted["version"] == before["version"] + 1
    assert redacted["redactedAt"] == redacted["updatedAt"]

    for version in range(1, redacted["version"] + 1):
        past = api.ok(MESSAGE_AT, {"id": mid, "v": version})["messageAt"]
        assert past is not None
        assert (past["version"], past["text"], past["body"]) == (version, None, None)

    events = history(api, mid)
    assert [e["type"] for e in events] == [
        "Drafted",
        "Sent",
        "StatusChanged",
        "Edited",
        "Redacted",
    ]
    for event in events:
        assert event.get("text") is None, event
        assert event.get("body") is None, event
    assert events[0]["channel"] == "CHAT"
    assert events[-1]["reason"] is None  # sealed with the key it destroyed
    listed = [e["node"] for e in events_page(api)["edges"] if e["node"]["messageId"] == mid]
    assert listed == events
    # The id is taken out first: a random UUID may itself contain "4111".
    assert "4111" not in str(api.post(MESSAGE, {"id": mid})).replace(mid, "")


# Workspaces.


def test_another_workspaces_message_is_not_found_for_every_command(
    api: Api, server: LiveServer
) -> None:
    other = server.client("globex")
    message = reach(api, "SENT")
    assert other.ok(MESSAGE, {"id": message["id"]})["message"] is None
    for name in TABLE["SENT"]:
        query, variables = command(name, message, "SENT")
        refused(other, query, variables, message, "NOT_FOUND", owner=api)
    query, variables = command("editMessage", message, "SENT")
    refused(other, query, variables, message, "NOT_FOUND", owner=api)
    variables = {
        "conversationId": "conv-1",
        "messageId": message["id"],
        "metadata": {"action": "REJECT"},
    }
    refused(other, ACTION, variables, message, "NOT_FOUND", owner=api)
    assert read(api, message["id"]) == message
    other.close()
