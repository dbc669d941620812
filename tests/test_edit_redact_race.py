"""Edits racing a redaction leave every message readable (issue 10's finding, from outside).

Against a real `herald serve` process: MESSAGES sent CHAT messages, reported SENT, each raced by
one `redactMessage` and EDITORS clients sending EDITS `editMessage` each, every one of them
released by one barrier. Then every message must read back, without error, through `message`,
its history, `messageAt` at each version, its `events` pages, `herald history` and
`herald projections verify`; no answer may be INTERNAL_SERVER_ERROR; every acknowledged edit is
in the history at its version; the redaction is acknowledged and leaves no content key. The
issue's own size, 100 messages (30 by default, to keep the run short):

    HERALD_RACE_MESSAGES=100 .venv/bin/pytest -q tests/test_edit_redact_race.py
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.settings import Settings
from tests.erasure import key_rows
from tests.figures import backend_of, record
from tests.processes import ServerProcess, create_key, database_alone
from tests.readings import (
    Client,
    Reading,
    cli_histories,
    cli_problems,
    events_pages,
    read_message,
    verify_views,
)

MESSAGES = int(os.environ.get("HERALD_RACE_MESSAGES") or 0) or 30
EDITORS = 5
EDITS = 3
DRAFT = """
mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id version status } }
"""
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id version status } }"
REPORT = """
mutation($input: RecordDeliveryStatusInput!) {
  recordDeliveryStatus(input: $input) { id version status }
}
"""
EDIT = """
mutation($input: EditMessageInput!) { editMessage(input: $input) { id version status text } }
"""
REDACT = """
mutation($input: RedactMessageInput!) {
  redactMessage(input: $input) { id version status redacted text }
}
"""


@dataclass
class Raced:
    """One sent message, and what each of its racers was told."""

    id: str
    conversation: str
    texts: list[str]  # its draft's text, then every edit's text (each a unique marker)
    redaction: dict[str, Any] | None = None  # the redactMessage answer's body
    edits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (text, body)


def sent_messages(client: Client, count: int) -> list[Raced]:
    """`count` CHAT messages, each in a conversation of its own, sent and reported SENT."""
    made = []
    for n in range(count):
        text = f"race-{n}-{uuid.uuid4().hex}"
        conversation = f"race-{n}"
        given = {"conversationId": conversation, "text": text}
        body = client.post(DRAFT, {"input": given})
        mid = body["data"]["draftMessage"]["id"]
        assert client.post(SEND, {"input": {"id": mid}})["data"]["sendMessage"]["version"] == 2
        reported = client.post(REPORT, {"input": {"id": mid, "status": "SENT"}})
        assert reported["data"]["recordDeliveryStatus"]["status"] == "SENT", reported
        made.append(Raced(mid, conversation, [text]))
    return made


def race(base_url: str, key: str, messages: list[Raced]) -> Client:
    """One redactor and EDITORS editors per message, all released at once; returns a client
    whose `codes` tally every racer's answers."""
    jobs: list[tuple[Raced, int]] = [(m, role) for m in messages for role in range(EDITORS + 1)]
    clients = [Client(base_url, key, patient=True) for _ in jobs]
    barrier = threading.Barrier(len(jobs), timeout=120)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        message, role = jobs[n]
        client = clients[n]
        try:
            client.post("{ __typename }")  # connected before the race starts
            texts = [f"{message.texts[0]}-editor-{role}-edit-{k}" for k in range(EDITS)]
            barrier.wait()
            if role == EDITORS:
                message.redaction = client.post(REDACT, {"input": {"id": message.id}})
                return
            for text in texts:
                body = client.post(EDIT, {"input": {"id": message.id, "text": text}})
                with lock:
                    message.texts.append(text)
                    message.edits.append((text, body))
        except BaseException as e:  # reported in the test's own thread
            failures.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a racer did not finish"
    assert not failures, failures
    tally = Client(base_url, key)
    for client in clients:
        tally.codes.update(client.codes)
        client.close()
    return tally


def acknowledged_problems(message: Raced, reading: Reading) -> list[str]:
    """The redaction and every acknowledged edit, against the history as it reads now."""
    problems = []
    by_version = {e["version"]: e for e in reading.history}
    redacted = message.redaction and (message.redaction.get("data") or {}).get("redactMessage")
    if not redacted:
        problems.append(f"the redaction was not acknowledged: {message.redaction}")
    elif by_version.get(redacted["version"], {}).get("type") != "Redacted":
        problems.append(f"the redaction acknowledged at v{redacted['version']} is not there")
    for text, body in message.edits:
        edited = (body.get("data") or {}).get("editMessage")
        if edited is None:
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            if codes != ["CONFLICT"]:
                problems.append(f"an edit was answered {codes}")
            continue
        event = by_version.get(edited["version"], {})
        if event.get("type") != "Edited" or event.get("text") not in (text, None):
            problems.append(f"the edit acknowledged at v{edited['version']} reads {event}")
    if reading.message and reading.message["redacted"]:
        shown = [reading.message, *reading.versions, *reading.history, *reading.events]
        if any(s and (s.get("text") or s.get("body")) for s in shown):
            problems.append("a redacted message still shows content")
    return problems


def test_edits_racing_a_redaction_leave_every_message_readable(
    settings: Settings, tmp_path: Path
) -> None:
    database_url = database_alone(settings.database_url, tmp_path)
    backend = backend_of(database_url)
    key = create_key(database_url, "acme")
    server = ServerProcess(database_url, tmp_path / "server.log")
    try:
        server.wait_ready()
        setup = Client(server.url, key, patient=True)
        messages = sent_messages(setup, MESSAGES)
        racers = race(server.url, key, messages)
        readings = {m.id: read_message(setup, m.id, m.conversation) for m in messages}
        pages = events_pages(setup)[1]  # the workspace's, every message in them
        histories = cli_problems(cli_histories(database_url, [m.id for m in messages]))
        verified = verify_views(database_url)
        keys = key_rows(database_url, [m.id for m in messages])
        setup.close()
    finally:
        server.stop()

    unreadable = {mid for mid, r in readings.items() if r.errors} | set(histories)
    problems = {m.id: acknowledged_problems(m, readings[m.id]) for m in messages}
    problems = {mid: found for mid, found in problems.items() if found}
    redacted = {m.id for m in messages if (m.redaction or {}).get("data")}
    kept_keys = sorted(set(keys) & redacted)
    internal = racers.codes["INTERNAL_SERVER_ERROR"]
    reading_internal = setup.codes["INTERNAL_SERVER_ERROR"]
    record(
        "edit-redact race",
        backend,
        messages=len(messages),
        commands_raced=len(messages) * (1 + EDITORS * EDITS),
        edits_acknowledged=sum("errors" not in body for m in messages for _, body in m.edits),
        unreadable=len(unreadable),
        internal_errors=internal + reading_internal,
        redactions_acknowledged=len(redacted),
        keys_left_after_redaction=len(kept_keys),
        workspace_pages_failing=len(pages),
        projections_verified=int(verified is None),
    )
    example = next(iter(unreadable), None)
    summary = (
        f"{backend}: {len(unreadable)} of {len(messages)} messages unreadable, "
        f"{internal} INTERNAL_SERVER_ERROR answers to the racers and {reading_internal} to the "
        f"readers, {len(kept_keys)} redacted messages still with a key, "
        f"{len(problems)} with acknowledged writes not as told; the workspace's events pages: "
        f"{pages[:1]}; verify: {verified}; "
        f"e.g. {example}: {readings[example].errors[:3] if example else None} "
        f"{histories.get(example or '')}"
    )
    print(summary)
    failed = unreadable or internal or reading_internal or kept_keys or pages or verified
    assert not failed, summary
    assert not problems, f"{summary}\n{problems}"
