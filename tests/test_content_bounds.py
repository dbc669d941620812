"""A message's content has one bound on every path that sets it (draftMessage, editMessage,
updateMessage, handleMessageAction's editedMessage), over HTTP and WebSocket alike, with the same
VALIDATION_FAILED details: at most MAX_CONTENT characters of text, of a body's JSON and so of any
string in it; no NUL and no lone surrogate anywhere, inside the body too; and the body schema's
formats (integer ranges, date-times). Messages stored before the bound stay readable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.body_text import text_body
from app.content import MAX_CONTENT, UNSTORABLE
from app.store import MessageStore
from app.workspaces import Principal
from tests.conftest import Api, LiveServer, draft
from tests.ws import init, run_over

TOO_LONG = f"must be at most {MAX_CONTENT} characters"
EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id } }"
UPDATE = "mutation($input: UpdateMessageInput!) { updateMessage(input: $input) { id } }"
DRAFT = "mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id } }"
ACTION = """
mutation($c: ID!, $m: ID!, $meta: MessageActionMetadataInput!) {
  handleMessageAction(conversationId: $c, messageId: $m, metadata: $meta) { status }
}
"""


def details(api: Api, query: str, variables: dict[str, Any]) -> dict[str, list[str]]:
    """The VALIDATION_FAILED details of the request, sent as raw JSON so that it may carry
    lone surrogates."""
    body = json.dumps({"query": query, "variables": variables})
    headers = {**api.headers(), "content-type": "application/json"}
    answer = api.http.post(api.url, content=body.encode(), headers=headers).json()
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "VALIDATION_FAILED", error
    found: dict[str, list[str]] = error["extensions"]["details"]
    return found


BAD_TEXTS = [("a" * (MAX_CONTENT + 1), TOO_LONG), ("a\x00b", UNSTORABLE), ("a\ud800b", UNSTORABLE)]


@pytest.mark.parametrize(("text", "message"), BAD_TEXTS)
def test_every_path_that_sets_a_text_refuses_the_same_bad_text(
    api: Api, text: str, message: str
) -> None:
    mid = draft(api, "Before")["id"]
    drafted = {"conversationId": "conv-1", "text": text}
    assert details(api, DRAFT, {"input": drafted}) == {"input.text": [message]}
    assert details(api, EDIT, {"input": {"id": mid, "text": text}}) == {"input.text": [message]}
    action = {"c": "conv-1", "m": mid, "meta": {"action": "EDIT", "editedMessage": text}}
    assert details(api, ACTION, action) == {"metadata.editedMessage": [message]}


@pytest.mark.parametrize(("text", "message"), BAD_TEXTS)
def test_every_path_that_sets_a_body_refuses_the_same_bad_string_inside_it(
    api: Api, text: str, message: str
) -> None:
    mid = draft(api, "Before")["id"]
    body = text_body(text)
    expected = {"input.body.text.text": [message]}
    assert details(api, DRAFT, {"input": {"conversationId": "conv-1", "body": body}}) == expected
    assert details(api, EDIT, {"input": {"id": mid, "body": body}}) == expected
    updated = {"conversationId": "conv-1", "id": mid, "body": body}
    assert details(api, UPDATE, {"input": updated}) == expected


def test_a_body_whose_json_is_over_the_bound_is_refused(api: Api) -> None:
    half = "a" * (MAX_CONTENT // 2)
    body = {"type": "text", "text": {"text": half, "actions": [_link(half)]}}
    assert details(api, DRAFT, {"input": {"conversationId": "c", "body": body}}) == {
        "input.body": [f"must serialize to at most {MAX_CONTENT} characters of JSON"]
    }


def _link(text: str) -> dict[str, Any]:
    return {"type": "link", "link": {"text": text, "url": "https://example.com"}}


OTP = "input.body.authentication.otp.expirationTime"


def otp(seconds: int) -> dict[str, Any]:
    return {
        "type": "authentication",
        "authentication": {"otp": {"disclaimer": True, "expirationTime": seconds}},
    }


WHEN = "input.body.text.metadata.whatsapp.callPermissionExpiration"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (otp(-1), OTP),
        (otp(2**32), OTP),
        (
            {"type": "text", "text": {"text": "hi", "actions": [
                {"type": "buy", "buy": {"text": "Buy", "amountCents": 2**63, "currency": "EUR"}}
            ]}},
            "input.body.text.actions[0].buy.amountCents",
        ),
        (
            {"type": "text", "text": {"text": "hi", "metadata": {
                "whatsapp": {"previewUrl": True, "callPermissionExpiration": "yesterday"}
            }}},
            WHEN,
        ),
    ],
)  # fmt: skip
def test_the_body_schemas_formats_are_enforced(api: Api, body: dict[str, Any], path: str) -> None:
    found = details(api, DRAFT, {"input": {"conversationId": "c", "body": body}})
    assert list(found) == [path], found


def test_a_refusal_over_websocket_has_the_same_details(server: LiveServer, api: Api) -> None:
    mid = draft(api, "Before")["id"]
    action = {"c": "conv-1", "m": mid, "meta": {"action": "EDIT", "editedMessage": "a\x00"}}
    over_http = details(api, ACTION, action)
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        init(ws, api.key)
        answer = run_over(ws, "1", ACTION, action)
    [error] = answer["errors"]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "details": over_http}


def test_a_message_stored_before_the_bounds_stays_readable(api: Api, server: LiveServer) -> None:
    """Stored by the store itself, as an older Herald with looser checks would have."""
    store: MessageStore = server.herald.store
    workspace = server.herald.workspaces.ensure("acme")
    old = {
        "type": "authentication",
        "authentication": {"otp": {"disclaimer": True, "expirationTime": -1}},
    }
    principal = Principal(workspace=workspace, key_name="old")
    msg = store.draft(
        principal,
        None,
        actor="old",
        conversation_id="c",
        channel="CHAT",
        content=old,
        recipients=[],
        sender=None,
        reply_to=None,
        reference=None,
        requires_approval=False,
    )
    read = api.ok("query($id: ID!) { message(id: $id) { body } }", {"id": str(msg.id)})
    assert read["message"]["body"] == old
