"""Webhooks delivered to a real receiver on loopback, on both backends: each event signed as
Standard Webhooks says (checked with its reference library), retried on failure with the same
webhook-id, in order per message, and built anew for each attempt from the message's key as it
is then."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from app.settings import Settings
from tests.conftest import draft
from tests.hooks import create, hooked, serving, settled
from tests.receiver import Receiver

EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { version } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { version } }"
REDACT = "mutation($input: RedactMessageInput!) { redactMessage(input: $input) { version } }"


def test_each_event_is_posted_signed_and_verifies_with_the_standard_webhooks_library(
    settings: Settings,
) -> None:
    with Receiver() as receiver, serving(hooked(settings)) as live:
        api = live.client("acme")
        endpoint, secret = create(api, receiver.url, description="ours")
        assert secret.startswith("whsec_")
        mid = draft(
            api,
            "Your parcel left",
            recipients=[{"identifierKey": "phonenumber", "identifierValue": "+15550100"}],
        )["id"]
        api.ok(EDIT, {"input": {"id": mid, "text": "Your parcel arrives today"}})
        api.ok(SEND, {"input": {"id": mid}})
        receiver.wait(lambda r: len(r.delivered()) == 3)

        got = receiver.delivered()
        for request in got:
            assert Webhook(secret).verify(request.body, request.headers) == request.payload
            with pytest.raises(WebhookVerificationError):
                Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)
        assert [r.payload["type"] for r in got] == [
            "message.drafted",
            "message.edited",
            "message.sent",
        ]
        first, edited, sent = (r.data for r in got)
        assert first["type"] == "Drafted"
        assert first["messageId"] == mid
        assert first["conversationId"] == "conv-1"
        assert first["version"] == 1
        assert first["actor"] == "acme-key"
        assert got[0].payload["timestamp"] == first["occurredAt"]
        assert first["message"]["text"] == "Your parcel left"
        assert first["message"]["recipients"][0]["identifierValue"] == "+15550100"
        assert edited["message"]["text"] == "Your parcel arrives today"
        assert sent["message"]["status"] == "ACCEPTED"
        assert sent["version"] == 3

        listed = settled(api, endpoint, 3)
        assert [d["webhookId"] for d in reversed(listed)] == [r.id for r in got]
        assert {d["status"] for d in listed} == {"DELIVERED"}
        assert [a["httpStatus"] for d in listed for a in d["attempts"]] == [200, 200, 200]
        api.close()
