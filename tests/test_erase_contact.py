"""eraseContact: every message of the caller's workspace addressed to one person is redacted,
whatever the channel, conversation, status or spelling of the address; another workspace's
messages are untouched; messages in progress are reported; a kill -9 part way leaves each
message redacted or untouched, and running it again finishes the job."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.settings import Settings
from tests.conftest import Api, LiveServer
from tests.figures import backend_of, record
from tests.processes import ServerProcess, create_key

ERASE = """
mutation($input: EraseContactInput!) { eraseContact(input: $input) { erased pending complete } }
"""
DRAFT = "mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }"
REJECT = "mutation($input: RejectMessageInput!) { rejectMessage(input: $input) { id } }"
UPDATE = "mutation($input: UpdateMessageInput!) { updateMessage(input: $input) { id } }"
REPORT = (
    "mutation($input: RecordDeliveryStatusInput!) { recordDeliveryStatus(input: $input) { id } }"
)
READ = """
query($id: ID!) {
  message(id: $id) {
    id status redacted text reference recipients { identifierKey identifierValue type }
  }
}
"""
EVENTS = "{ events(first: 500) { edges { node { messageId type } } } }"
ANN = "Ann.Smith@Example.com"


def to(api: Api, address: str, conversation: str = "c1", **fields: Any) -> str:
    recipients = [{"identifierKey": "emailaddress", "identifierValue": address, "type": "TO"}]
    given = {"conversationId": conversation, "text": f"for {address}", "recipients": recipients}
    mid: str = api.ok(DRAFT, {"input": {**given, **fields}})["draftMessage"]["id"]
    return mid


def read(api: Api, mid: str) -> dict[str, Any]:
    message: dict[str, Any] = api.ok(READ, {"id": mid})["message"]
    return message


def erase(api: Api, address: str, **extra: Any) -> dict[str, Any]:
    done: dict[str, Any] = api.ok(ERASE, {"input": {"identifierValue": address, **extra}})[
        "eraseContact"
    ]
    return done


def test_every_message_to_a_contact_is_erased_and_nothing_else(server: LiveServer) -> None:
    api, other = server.client("acme"), server.client("globex")
    erased = {
        "draft": to(api, ANN),
        "other conversation, SMS": to(api, "ann.smith@example.com", "c2", channel="SMS"),
        "cc, with someone else": api.ok(
            DRAFT,
            {
                "input": {
                    "conversationId": "c3",
                    "text": "both",
                    "recipients": [
                        {"identifierKey": "emailaddress", "identifierValue": "bob@example.com"},
                        {"identifierKey": "emailaddress", "identifierValue": ANN, "type": "CC"},
                    ],
                }
            },
        )["draftMessage"]["id"],
        "rejected": to(api, ANN),
        "delivered": to(api, ANN, channel="EMAIL"),
        "readdressed to her": to(api, "someone@example.com"),
    }
    api.ok(REJECT, {"input": {"id": erased["rejected"], "reason": "no"}})
    api.ok(SEND, {"input": {"id": erased["delivered"]}})
    api.ok(REPORT, {"input": {"id": erased["delivered"], "status": "DELIVERED"}})
    in_progress = to(api, ANN)
    api.ok(SEND, {"input": {"id": in_progress}})
    readdressed_away = to(api, ANN)
    for mid, address in ((erased["readdressed to her"], ANN), (readdressed_away, "z@example.com")):
        recipients = [{"identifierKey": "emailaddress", "identifierValue": address}]
        api.ok(UPDATE, {"input": {"conversationId": "c1", "id": mid, "recipients": recipients}})
    kept = {"someone else": to(api, "bob@example.com"), "readdressed away": readdressed_away}
    theirs = to(other, ANN)
    before = {mid: read(api, mid) for mid in kept.values()}

    done = erase(api, "  ann.smith@EXAMPLE.com ", reason="GDPR request 17")
    assert done == {"erased": len(erased), "pending": [in_progress], "complete": True}
    for name, mid in erased.items():
        message = read(api, mid)
        assert message["redacted"] is True, name
        assert (message["text"], message["reference"]) == (None, None), name
        assert {r["identifierValue"] for r in message["recipients"]} == {""}, name
    assert read(api, in_progress)["redacted"] is False
    assert {mid: read(api, mid) for mid in kept.values()} == before
    assert read(other, theirs)["redacted"] is False
    assert read(other, theirs)["recipients"][0]["identifierValue"] == ANN

    # Once the message in progress is finished, erasing again finishes the job; then nothing.
    api.ok(REPORT, {"input": {"id": in_progress, "status": "SENT"}})
    assert erase(api, ANN) == {"erased": 1, "pending": [], "complete": True}
    assert read(api, in_progress)["redacted"] is True
    assert erase(api, ANN) == {"erased": 0, "pending": [], "complete": True}
    assert erase(other, "nobody@example.com") == {"erased": 0, "pending": [], "complete": True}
    api.close()
    other.close()


def test_bad_input_is_refused_by_json_path_and_records_nothing(server: LiveServer) -> None:
    api = server.client("acme")
    to(api, ANN)
    before = api.ok(EVENTS)
    for given, path in (
        ({"identifierValue": ""}, "input.identifierValue"),
        ({"identifierValue": "a\x00b"}, "input.identifierValue"),
        ({"identifierValue": "x" * 257}, "input.identifierValue"),
        ({"identifierValue": ANN, "reason": "r" * 2001}, "input.reason"),
        ({"identifierValue": ANN, "actor": "y" * 257}, "input.actor"),
    ):
        refused = api.error(ERASE, {"input": given})
        assert refused["code"] == "VALIDATION_FAILED", given
        assert path in refused["details"], refused
    assert api.ok(EVENTS) == before
    api.close()


MESSAGES = 120


def key_rows(settings: Settings) -> int:
    sql = "SELECT COUNT(*) FROM herald_content_keys"
    if settings.is_postgres:
        with psycopg.connect(settings.database_url) as conn:
            row = conn.execute(sql).fetchone()
    else:
        import sqlite3

        connection = sqlite3.connect(settings.sqlite_path(), timeout=30)
        try:
            row = connection.execute(sql).fetchone()
        finally:
            connection.close()
    assert row is not None
    return int(row[0])


def test_a_kill_9_during_an_erasure_leaves_each_message_whole_and_a_rerun_finishes(
    settings: Settings, tmp_path: Path
) -> None:
    url = settings.database_url
    key = create_key(url, "acme")
    first = ServerProcess(url, tmp_path / "first.log")
    first.wait_ready()
    api = Api(first.url, key)
    ids = [to(api, ANN, f"c{i % 7}") for i in range(MESSAGES)]
    keys_before = key_rows(settings)
    answered: list[Any] = []

    def erasing() -> None:
        try:
            answered.append(api.post(ERASE, {"input": {"identifierValue": ANN}}))
        except httpx.TransportError as cut:
            answered.append(cut)

    thread = threading.Thread(target=erasing)
    thread.start()
    while key_rows(settings) > keys_before - 10 and thread.is_alive():
        threading.Event().wait(0.01)  # polling the database for the moment to kill; no race hidden
    first.kill()
    thread.join(30)
    api.close()
    assert len(answered) == 1
    assert isinstance(answered[0], httpx.TransportError), answered

    second = ServerProcess(url, tmp_path / "second.log")
    second.wait_ready()
    api = Api(second.url, key)
    try:
        states = [read(api, mid) for mid in ids]
        redacted = [m for m in states if m["redacted"]]
        for m in states:  # each message is wholly redacted or wholly untouched
            if m["redacted"]:
                assert (m["text"], m["recipients"][0]["identifierValue"]) == (None, "")
            else:
                assert (m["text"], m["recipients"][0]["identifierValue"]) == (f"for {ANN}", ANN)
        assert 10 <= len(redacted) < MESSAGES
        assert key_rows(settings) == keys_before - len(redacted)
        done = erase(api, ANN)
        assert done == {"erased": MESSAGES - len(redacted), "pending": [], "complete": True}
        assert all(read(api, mid)["redacted"] for mid in ids)
        assert key_rows(settings) == keys_before - MESSAGES
    finally:
        api.close()
        second.stop()
    record(
        "contact erasure",
        backend_of(url),
        messages=MESSAGES,
        killed_after=len(redacted),
        whole_after_kill=MESSAGES,
        erased_by_rerun=MESSAGES - len(redacted),
    )
