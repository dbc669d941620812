"""Workspace isolation end to end: another workspace's messages do not exist for a caller, through
every query and every mutation of the contract, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import MESSAGE_FIELDS, Api, LiveServer, draft

SNAPSHOT = f"""
query($id: ID!) {{
  message(id: $id) {{
    {MESSAGE_FIELDS}
    history {{ edges {{ cursor node {{ type version actor occurredAt }} }} }}
  }}
}}
"""
MESSAGE = "query($id: ID!) { message(id: $id) { id text version } }"
MESSAGE_AT = "query($id: ID!, $v: Int!) { messageAt(id: $id, version: $v) { id text version } }"
MESSAGES = """
query($c: ID) {
  messages(conversationId: $c, first: 100) { edges { node { id conversationId text } } }
}
"""
EVENTS = """
query($c: ID) {
  events(conversationId: $c, first: 500) {
    edges { node { messageId conversationId version type } }
  }
}
"""
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id version status } }"
RECORD = """
mutation($input: RecordDeliveryStatusInput!) {
  recordDeliveryStatus(input: $input) { id version status }
}
"""
UPDATE = """
mutation($input: UpdateMessageInput!) {
  updateMessage(input: $input) { id version status text replyToMessageId }
}
"""
SECRET = "Acme's launch date is March 3"


@pytest.fixture
def globex(server: LiveServer) -> Iterator[Api]:
    client = server.client("globex", "globex-bot")
    yield client
    client.close()


def snapshot(api: Api, message_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = api.ok(SNAPSHOT, {"id": message_id})["message"]
    assert found is not None, f"{message_id} is not in the caller's workspace"
    return found


def event_ids(api: Api, conversation_id: str | None = None) -> list[str]:
    edges = api.ok(EVENTS, {"c": conversation_id})["events"]["edges"]
    return [edge["node"]["messageId"] for edge in edges]


def message_ids(api: Api, conversation_id: str | None = None) -> list[str]:
    edges = api.ok(MESSAGES, {"c": conversation_id})["messages"]["edges"]
    return [edge["node"]["id"] for edge in edges]


def sent(api: Api, delivery: str | None = None) -> str:
    """An acme message that has been sent (ACCEPTED), and optionally reported as `delivery`."""
    message_id = str(draft(api, SECRET)["id"])
    api.ok(SEND, {"input": {"id": message_id}})
    if delivery is not None:
        api.ok(RECORD, {"input": {"id": message_id, "status": delivery}})
    return message_id


def _draft(api: Api) -> str:
    return str(draft(api, SECRET)["id"])


def _needs_approval(api: Api) -> str:
    return str(draft(api, SECRET, requiresApproval=True)["id"])


def _sent(api: Api) -> str:
    return sent(api)


def _reported_sent(api: Api) -> str:
    return sent(api, "SENT")


def _action(action: str) -> Callable[[str], dict[str, Any]]:
    def variables(message_id: str) -> dict[str, Any]:
        meta = {"action": action, "editedMessage": "hijacked"}
        return {"c": "conv-1", "m": message_id, "meta": meta}

    return variables


@dataclass(frozen=True)
class Attempt:
    """A mutation on a message made by `prepare`, in a state where its owner may make it."""

    name: str
    prepare: Callable[[Api], str]
    document: str
    variables: Callable[[str], dict[str, Any]]
    owner_may: bool = True  # whether the message's own workspace could make it as it is

    def __str__(self) -> str:
        return self.name


ATTEMPTS = [
    Attempt(
        "editMessage",
        _draft,
        "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version text } }",
        lambda mid: {"input": {"id": mid, "text": "hijacked", "expectedVersion": 1}},
    ),
    Attempt(
        "editMessage with a stale expectedVersion",
        _draft,
        "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version text } }",
        lambda mid: {"input": {"id": mid, "text": "hijacked", "expectedVersion": 7}},
        owner_may=False,
    ),
    Attempt(
        "approveMessage",
        _needs_approval,
        "mutation($input: ApproveMessageInput!) { approveMessage(input: $input) { id status } }",
        lambda mid: {"input": {"id": mid, "idempotencyKey": "approve-1"}},
    ),
    Attempt(
        "rejectMessage",
        _draft,
        "mutation($input: RejectMessageInput!) { rejectMessage(input: $input) { id status } }",
        lambda mid: {"input": {"id": mid, "reason": "spam"}},
    ),
    Attempt(
        "sendMessage",
        _draft,
        SEND,
        lambda mid: {"input": {"id": mid}},
    ),
    Attempt(
        "redactMessage",
        _reported_sent,
        "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { id redacted } }",
        lambda mid: {"input": {"id": mid, "reason": "gdpr"}},
    ),
    Attempt(
        "updateMessage",
        _draft,
        UPDATE,
        lambda mid: {
            "input": {
                "conversationId": "conv-1",
                "id": mid,
                "body": {"type": "text", "text": {"text": "hijacked"}},
            }
        },
    ),
    Attempt(
        "updateMessage sending the draft",
        _draft,
        UPDATE,
        lambda mid: {"input": {"conversationId": "conv-1", "id": mid, "draft": False}},
    ),
    Attempt(
        "recordDeliveryStatus",
        _sent,
        RECORD,
        lambda mid: {"input": {"id": mid, "status": "DELIVERED"}},
    ),
    *(
        Attempt(
            f"handleMessageAction {action}",
            _draft,
            """
            mutation($c: ID!, $m: ID!, $meta: MessageActionMetadataInput!) {
              handleMessageAction(conversationId: $c, messageId: $m, metadata: $meta) {
                status message { _id message status }
              }
            }
            """,
            _action(action),
        )
        for action in ("APPROVE", "EDIT", "REJECT")
    ),
]


def test_another_workspace_cannot_read_a_message_by_its_id(api: Api, globex: Api) -> None:
    message_id = sent(api, "DELIVERED")
    assert api.ok(MESSAGE, {"id": message_id})["message"]["text"] == SECRET
    assert api.ok(MESSAGE_AT, {"id": message_id, "v": 1})["messageAt"]["text"] == SECRET

    assert globex.ok(MESSAGE, {"id": message_id}) == {"message": None}
    for version in (1, 2, 3):
        assert globex.ok(MESSAGE_AT, {"id": message_id, "v": version}) == {"messageAt": None}


def test_another_workspace_does_not_list_a_message_even_in_the_same_conversation(
    api: Api, globex: Api
) -> None:
    acme_id = _draft(api)
    globex_id = draft(globex, "Globex's own news")["id"]

    assert message_ids(api) == [acme_id]
    assert message_ids(api, "conv-1") == [acme_id]
    assert message_ids(globex) == [globex_id]
    assert message_ids(globex, "conv-1") == [globex_id]
    assert message_ids(globex, "conv-2") == []


def test_another_workspace_does_not_see_a_messages_events_even_in_the_same_conversation(
    api: Api, globex: Api
) -> None:
    acme_id = sent(api, "DELIVERED")
    globex_id = draft(globex, "Globex's own news")["id"]

    assert event_ids(api) == [acme_id] * 3
    assert event_ids(api, "conv-1") == [acme_id] * 3
    assert event_ids(globex) == [globex_id]
    assert event_ids(globex, "conv-1") == [globex_id]
    assert event_ids(globex, "conv-2") == []


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=str)
def test_a_mutation_on_another_workspaces_message_is_not_found_and_changes_nothing(
    api: Api, globex: Api, attempt: Attempt
) -> None:
    message_id = attempt.prepare(api)
    before = snapshot(api, message_id)
    acme_events = event_ids(api)

    body = globex.post(attempt.document, attempt.variables(message_id))

    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body["errors"]
    # Only the code: no currentVersion or currentStatus telling that the message exists.
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    assert SECRET not in str(body)
    assert snapshot(api, message_id) == before
    assert event_ids(api) == acme_events
    assert event_ids(globex) == []
    # The message's state allowed the mutation: its own workspace may make it.
    if attempt.owner_may:
        assert "errors" not in api.post(attempt.document, attempt.variables(message_id))
        assert snapshot(api, message_id)["version"] > before["version"]
    else:  # its own workspace learns of the conflict that another workspace must not
        assert api.error(attempt.document, attempt.variables(message_id))["code"] == "CONFLICT"


def test_a_draft_cannot_reply_to_another_workspaces_message(api: Api, globex: Api) -> None:
    acme_id = _draft(api)
    assert draft(api, "an acme reply", replyToMessageId=acme_id)["id"] != acme_id

    errors = globex.error(
        "mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id } }",
        {"input": {"conversationId": "conv-1", "text": "a reply", "replyToMessageId": acme_id}},
    )

    assert errors["code"] == "VALIDATION_FAILED"
    assert list(errors["details"]) == ["input.replyToMessageId"]
    assert message_ids(globex) == []
    assert event_ids(globex) == []


def test_a_draft_cannot_be_updated_to_reply_to_another_workspaces_message(
    api: Api, globex: Api
) -> None:
    acme_id = _draft(api)
    globex_id = draft(globex, "Globex's own news")["id"]
    before = snapshot(globex, globex_id)

    errors = globex.error(
        UPDATE,
        {"input": {"conversationId": "conv-1", "id": globex_id, "replyToMessageId": acme_id}},
    )

    assert errors["code"] == "VALIDATION_FAILED"
    assert list(errors["details"]) == ["input.replyToMessageId"]
    assert snapshot(globex, globex_id) == before
    own_reply = draft(globex, "another globex draft")["id"]
    updated = globex.ok(
        UPDATE,
        {"input": {"conversationId": "conv-1", "id": globex_id, "replyToMessageId": own_reply}},
    )["updateMessage"]
    assert updated["replyToMessageId"] == own_reply


def test_the_same_idempotency_key_in_two_workspaces_makes_two_messages(
    api: Api, globex: Api
) -> None:
    acme_first = draft(api, "acme's text", idempotencyKey="order-7")
    globex_first = draft(globex, "globex's text", idempotencyKey="order-7")
    acme_again = draft(api, "acme's retry", idempotencyKey="order-7")
    globex_again = draft(globex, "globex's retry", idempotencyKey="order-7")

    assert acme_first["id"] != globex_first["id"]
    assert acme_again["id"] == acme_first["id"]
    assert globex_again["id"] == globex_first["id"]
    assert api.ok(MESSAGE, {"id": acme_first["id"]})["message"]["text"] == "acme's text"
    assert globex.ok(MESSAGE, {"id": globex_first["id"]})["message"]["text"] == "globex's text"
    assert globex.ok(MESSAGE, {"id": acme_first["id"]}) == {"message": None}
    assert message_ids(api) == [acme_first["id"]]
    assert message_ids(globex) == [globex_first["id"]]
