"""Content that cannot be unsealed reads as erased: a message whose stored key no longer opens
its events (what an older release's race left behind) answers null content on every path, is
logged once, and fails no query, page, CLI command or verification."""

from __future__ import annotations

import logging

import pytest

from app.body_text import text_body
from app.lifecycle import Status
from app.runtime import Herald
from app.secrecy import KEYS_TABLE, new_key
from app.store import MessageStore
from app.verify import verify
from app.workspaces import Principal
from tests.conftest import LiveServer
from tests.processes import herald_cli


def poison(herald: Herald, mid: str) -> None:
    """Replace the message's key by another, as a key made again after a redaction was."""
    with herald.store.db.transaction(commit=True) as c:
        c.execute(
            herald.store.db.sql(f"UPDATE {KEYS_TABLE} SET key = ? WHERE message_id = ?"),
            (new_key(), mid.replace("-", "")),
        )


def fields(store: MessageStore, p: Principal, text: str, recipients: int = 1) -> str:
    """A message with every personal field, drafted, edited and sent. (A message poisoned after
    its recipients were indexed would, rightly, also show in verify as an index to rebuild.)"""
    msg = store.draft(
        p,
        None,
        conversation_id="conv-1",
        channel="CHAT",
        content=text_body(text),
        recipients=[{"identifierKey": "phonenumber", "identifierValue": "+15550100"}] * recipients,
        sender={"name": "Shop", "email": None},
        reply_to=None,
        reference="order-1",
        requires_approval=False,
        actor="bot",
    )
    store.edit(p, str(msg.id), None, "eve", text=f"{text}, edited")
    store.send(p, str(msg.id), None, "sam", None)
    return str(msg.id)


def test_a_message_whose_key_opens_nothing_reads_as_erased_everywhere_and_is_logged_once(
    herald: Herald, principal: Principal, caplog: pytest.LogCaptureFixture
) -> None:
    store = herald.store
    mid = fields(store, principal, "poisoned", recipients=0)
    other = fields(store, principal, "healthy")
    poison(herald, mid)
    caplog.set_level(logging.ERROR, logger="app.secrecy")

    loaded = store.load(principal, mid)
    assert (loaded.content, loaded.sender, loaded.reference) == (None, None, None)
    assert (loaded.version, loaded.status) == (3, "ACCEPTED")
    assert all(store.load(principal, mid, v).content is None for v in (1, 2))
    assert [vars(e).get("content") for e in store.history(principal, mid, 0, 10)] == [None] * 3
    view = herald.views.message(principal.workspace, mid)
    assert view is not None
    assert (view.content, view.version) == (None, 3)
    page = herald.views.events(principal.workspace, None, None, 100, 0)
    listed = [vars(e).get("content") for _, (_, e) in page.items if str(e.originator_id) == mid]
    assert listed == [None] * 3
    assert verify(herald) == []
    unreadable = [r for r in caplog.records if mid in r.getMessage()]
    assert len(unreadable) == 1, [r.getMessage() for r in caplog.records]
    # The other message is untouched, and the poisoned one can still be redacted.
    assert store.load(principal, other).content == text_body("healthy, edited")
    store.record_status(principal, mid, "carrier", Status.SENT, None)
    assert store.redact(principal, mid, None, "ray", "cleanup").redacted is True
    assert verify(herald) == []


def test_over_the_api_and_the_cli_an_unreadable_message_answers_null_not_an_error(
    herald: Herald, principal: Principal
) -> None:
    with LiveServer(herald) as server:
        api = server.client("acme")
        drafted = api.ok(
            'mutation { draftMessage(input: {conversationId: "c", text: "lost"}) { id } }'
        )
        mid = drafted["draftMessage"]["id"]
        poison(herald, mid)
        answer = api.ok(
            "query($id: ID!) { message(id: $id) { text body version "
            "history(first: 10) { edges { node { type ... on MessageDrafted { text } } } } } "
            "messageAt(id: $id, version: 1) { text } "
            "events(first: 10) { edges { node { messageId ... on MessageDrafted { text } } } } }",
            {"id": mid},
        )
        assert answer["message"]["text"] is None
        assert answer["message"]["history"]["edges"][0]["node"]["text"] is None
        assert answer["messageAt"]["text"] is None
        assert [e["node"].get("text") for e in answer["events"]["edges"]] == [None]
        api.close()
    done = herald_cli(herald.settings.database_url, "history", mid)
    assert done.returncode == 0, done.stderr
    assert "content erased" in done.stdout
    verified = herald_cli(herald.settings.database_url, "projections", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
