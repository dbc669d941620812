"""Redaction erases for good: through every query, and from every byte of the database's files."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from app.runtime import Herald
from app.settings import Settings
from tests.conftest import MESSAGE_FIELDS, Api, LiveServer, draft
from tests.figures import record
from tests.postgres import fresh_database

EDIT = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version text } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id version status } }"
REPORT = """
mutation($input: RecordDeliveryStatusInput!) {
  recordDeliveryStatus(input: $input) { id version status }
}
"""
REDACT = """
mutation($input: RedactMessageInput!) {
  redactMessage(input: $input) { id version status redacted text body }
}
"""
EVENT_FIELDS = """
  messageId version type actor
  ... on MessageDrafted { text body }
  ... on MessageEdited { text body afterSend }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
MESSAGE = f"""
query($id: ID!) {{
  message(id: $id) {{
    {MESSAGE_FIELDS}
    history(first: 50) {{ edges {{ cursor node {{ {EVENT_FIELDS} }} }} }}
  }}
}}
"""
MESSAGE_AT = (
    f"query($id: ID!, $v: Int!) {{ messageAt(id: $id, version: $v) {{ {MESSAGE_FIELDS} }} }}"
)
EVENTS = f"""
query($after: String) {{
  events(first: 50, after: $after) {{
    edges {{ cursor node {{ {EVENT_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


def marker() -> str:
    return uuid.uuid4().hex


def all_events(api: Api) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = api.ok(EVENTS, {"after": after})["events"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def everything_about(api: Api, message_id: str) -> dict[str, Any]:
    """Every answer the API gives about one message: now, at each version, and its events."""
    now = api.ok(MESSAGE, {"id": message_id})["message"]
    assert now is not None
    versions = [
        api.ok(MESSAGE_AT, {"id": message_id, "v": v})["messageAt"]
        for v in range(1, now["version"] + 1)
    ]
    events = [e for e in all_events(api) if e["messageId"] == message_id]
    return {"message": now, "versions": versions, "events": events}


def sent_message(api: Api, first_text: str, edited_text: str) -> str:
    """Drafted with one text, edited to another, sent and reported SENT; returns its id."""
    made = draft(api, first_text)
    edited = api.ok(EDIT, {"input": {"id": made["id"], "text": edited_text}})["editMessage"]
    assert edited["text"] == edited_text
    assert api.ok(SEND, {"input": {"id": made["id"]}})["sendMessage"]["status"] == "ACCEPTED"
    reported = api.ok(REPORT, {"input": {"id": made["id"], "status": "SENT"}})
    assert reported["recordDeliveryStatus"]["status"] == "SENT"
    return str(made["id"])


def content_key(db_file: Path, message_id: str) -> bytes | None:
    connection = sqlite3.connect(db_file)
    try:
        row = connection.execute(
            "SELECT key FROM herald_content_keys WHERE message_id = ?", (uuid.UUID(message_id).hex,)
        ).fetchone()
    finally:
        connection.close()
    return None if row is None else bytes(row[0])


def database_bytes(folder: Path) -> dict[str, bytes]:
    """The raw bytes of every file in the database's folder (main file, -wal, -shm, ...)."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    assert files, f"no files in {folder}"
    return files


def files_holding(files: dict[str, bytes], needle: bytes) -> list[str]:
    return [name for name, data in files.items() if needle in data]


def text_forms(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-16-be")]


@dataclass(frozen=True)
class Story:
    """One message to redact and one to keep, each drafted with one text and edited to another."""

    redacted_id: str
    kept_id: str
    drafted: str
    edited: str
    kept_drafted: str
    kept_edited: str

    @property
    def markers(self) -> list[str]:
        return [self.drafted, self.edited, self.kept_drafted, self.kept_edited]


def tell(api: Api) -> Story:
    """Both messages sent and reported SENT; their content shows everywhere before redaction."""
    drafted, edited, kept_drafted, kept_edited = marker(), marker(), marker(), marker()
    story = Story(
        redacted_id=sent_message(api, drafted, edited),
        kept_id=sent_message(api, kept_drafted, kept_edited),
        drafted=drafted,
        edited=edited,
        kept_drafted=kept_drafted,
        kept_edited=kept_edited,
    )
    before = everything_about(api, story.redacted_id)
    assert before["message"]["text"] == edited
    assert [v["text"] for v in before["versions"]] == [drafted] + [edited] * 3
    assert [(e["type"], e.get("text")) for e in before["events"]] == [
        ("Drafted", drafted),
        ("Edited", edited),
        ("Sent", None),
        ("StatusChanged", None),
    ]
    return story


def redact_and_check_every_answer(api: Api, story: Story) -> None:
    redacted = api.ok(REDACT, {"input": {"id": story.redacted_id, "reason": "GDPR"}})
    assert redacted["redactMessage"] == {
        "id": story.redacted_id,
        "version": 5,
        "status": "SENT",
        "redacted": True,
        "text": None,
        "body": None,
    }

    after = everything_about(api, story.redacted_id)
    assert after["message"]["redacted"] is True
    assert after["message"]["version"] == 5
    assert len(after["versions"]) == 5
    for state in [after["message"], *after["versions"]]:
        assert state["text"] is None
        assert state["body"] is None
    assert [e["type"] for e in after["events"]] == [
        "Drafted",
        "Edited",
        "Sent",
        "StatusChanged",
        "Redacted",
    ]
    history = [edge["node"] for edge in after["message"]["history"]["edges"]]
    assert history == after["events"]
    for event in after["events"]:
        if event["type"] in ("Drafted", "Edited"):
            assert event["text"] is None
            assert event["body"] is None
    answers = json.dumps(after) + json.dumps(all_events(api))
    assert story.drafted not in answers
    assert story.edited not in answers

    # A message that was not redacted keeps its content.
    kept = everything_about(api, story.kept_id)
    assert kept["message"]["text"] == story.kept_edited
    assert [v["text"] for v in kept["versions"]] == [story.kept_drafted] + [story.kept_edited] * 3
    assert [e.get("text") for e in kept["events"]][:2] == [story.kept_drafted, story.kept_edited]


def test_a_redacted_message_shows_its_content_in_no_answer(api: Api) -> None:
    redact_and_check_every_answer(api, tell(api))


def test_redaction_leaves_neither_content_nor_key_in_any_byte_of_the_database_files(
    sqlite_settings: Settings,
) -> None:
    db_file = sqlite_settings.sqlite_path()
    folder = db_file.parent

    herald = Herald(sqlite_settings)
    try:
        with LiveServer(herald) as server:
            api = server.client("acme", "acme-bot")
            try:
                story = tell(api)

                # Before redaction the content is only sealed on disk, under a key of the
                # message's own that is on disk: so the scan below finds what is there.
                key = content_key(db_file, story.redacted_id)
                kept_key = content_key(db_file, story.kept_id)
                assert key is not None
                assert kept_key is not None
                assert len(key) == 32
                assert key != kept_key
                on_disk = database_bytes(folder)
                assert db_file.name in on_disk
                for text in story.markers:
                    for form in text_forms(text):
                        assert files_holding(on_disk, form) == [], (text, form)
                assert files_holding(on_disk, key) != []
                assert files_holding(on_disk, kept_key) != []

                redact_and_check_every_answer(api, story)
            finally:
                api.close()
    finally:
        herald.close()

    # Nothing is in memory any more: only the files remain (main file, WAL and its free
    # pages), and they hold neither the texts nor the destroyed key.
    on_disk = database_bytes(folder)
    for text in story.markers:
        for form in text_forms(text):
            assert files_holding(on_disk, form) == [], (text, form)
    assert files_holding(on_disk, key) == []
    assert files_holding(on_disk, kept_key) != []

    assert content_key(db_file, story.redacted_id) is None
    assert content_key(db_file, story.kept_id) == kept_key
    found = sum(
        len(files_holding(on_disk, form)) for text in story.markers for form in text_forms(text)
    )
    record(
        "erasure",
        "sqlite",
        messages_redacted=1,
        bytes_scanned=sum(len(data) for data in on_disk.values()),
        files_scanned=len(on_disk),
        needles_searched=len(story.markers) * 3 + 1,
        erased_content_found=found + len(files_holding(on_disk, key)),
    )

    # Opened again, the redacted message stays erased and the other one stays whole.
    reopened = Herald(sqlite_settings)
    try:
        with LiveServer(reopened) as server:
            api = server.client("acme", "acme-reader")
            try:
                again = everything_about(api, story.redacted_id)
                assert again["message"]["redacted"] is True
                assert [v["text"] for v in again["versions"]] == [None] * 5
                assert story.drafted not in json.dumps(again)
                assert story.edited not in json.dumps(again)
                kept = everything_about(api, story.kept_id)["message"]
                assert kept["text"] == story.kept_edited
            finally:
                api.close()
    finally:
        reopened.close()


def every_row_as_text(url: str) -> dict[str, list[str]]:
    """Every row of every table of the database, as PostgreSQL prints it (bytea as hex)."""
    with psycopg.connect(url) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        return {
            table: [str(r[0]) for r in conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()]
            for table in tables
        }


def rows_holding(rows: dict[str, list[str]], needle: str) -> list[str]:
    return [table for table, texts in rows.items() if any(needle in text for text in texts)]


def test_on_postgresql_no_row_of_any_table_holds_redacted_content_or_its_key(
    postgres_server: str,
) -> None:
    url = fresh_database(postgres_server)
    herald = Herald(Settings(database_url=url, snapshot_interval=2))
    try:
        with LiveServer(herald) as server:
            api = server.client("acme", "acme-bot")
            try:
                story = tell(api)
                rows = every_row_as_text(url)
                assert {
                    "herald_events",
                    "herald_snapshots",
                    "view_messages",
                    "view_events",
                    "herald_content_keys",
                } <= set(rows)
                assert rows["herald_snapshots"], "snapshots were taken, so they are checked too"
                with psycopg.connect(url) as conn:
                    found = conn.execute(
                        "SELECT encode(key, 'hex') FROM herald_content_keys WHERE message_id = %s",
                        (story.redacted_id.replace("-", ""),),
                    ).fetchone()
                assert found is not None
                key_hex = str(found[0])
                assert len(key_hex) == 64
                for text in story.markers:
                    assert rows_holding(rows, text) == [], text
                assert rows_holding(rows, key_hex) == ["herald_content_keys"]

                redact_and_check_every_answer(api, story)
            finally:
                api.close()
    finally:
        herald.close()

    rows = every_row_as_text(url)
    record(
        "erasure",
        "postgres",
        messages_redacted=1,
        rows_scanned=sum(len(texts) for texts in rows.values()),
        tables_scanned=len(rows),
        needles_searched=len(story.markers) + 1,
        erased_content_found=sum(len(rows_holding(rows, t)) for t in [*story.markers, key_hex]),
    )
    for text in story.markers:
        assert rows_holding(rows, text) == [], text
    assert rows_holding(rows, key_hex) == []
    assert rows_holding(rows, story.redacted_id.replace("-", "")) != []  # its events remain
