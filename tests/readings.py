"""Every public way to read a message back, with each answer's errors tallied by code: over HTTP
`message` with its history pages, `messageAt` at every version and the `events` pages; on the
command line `herald history` and `herald projections verify`. A message that any of them fails
to read is unreadable. The proofs that race edits, redactions and kill -9 share these readers."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import MESSAGE_FIELDS
from tests.processes import herald_cli, herald_cli_calls

EVENT_FIELDS = """
  messageId version type actor occurredAt
  ... on MessageDrafted { text body channel requiresApproval }
  ... on MessageEdited { text body afterSend }
  ... on MessageRejected { reason }
  ... on MessageStatusChanged { status reason }
  ... on MessageRedacted { reason }
"""
MESSAGE_PAGE = f"""
query($id: ID!, $after: String) {{
  message(id: $id) {{
    {MESSAGE_FIELDS}
    history(first: 50, after: $after) {{
      edges {{ node {{ {EVENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""
EVENTS_PAGE = f"""
query($conversation: ID, $after: String) {{
  events(conversationId: $conversation, first: 70, after: $after) {{
    edges {{ cursor node {{ {EVENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
_PATIENCE = 30  # turns a patient client waits out before it reports the 429
VERSIONS_A_REQUEST = 10  # messageAt aliases in one request, well under the alias limit
# The pages above are as large as an operation's cost budget allows with every content field.


class Client:
    """One API key on one keep-alive HTTP connection; the codes of the errors it was answered."""

    def __init__(
        self, base_url: str, key: str, timeout: float = 60, *, patient: bool = False
    ) -> None:
        """`patient`: turned away for its key's rate (HTTP 429), wait as long as Retry-After
        says and ask again, as a well-behaved client does. A reader is patient: reading a
        proof's whole workspace again and again spends a worker's share of the rate."""
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )
        self.patient = patient
        self.codes: Counter[str] = Counter()

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The answer's body; a transport error (the server is gone) is raised."""
        payload = {"query": query, "variables": variables or {}}
        response = self.http.post("/graphql", json=payload)
        for _ in range(_PATIENCE if self.patient else 0):
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))  # as the server asks
            response = self.http.post("/graphql", json=payload)
        if response.status_code != 200:
            body: dict[str, Any] = {
                "errors": [{"extensions": {"code": f"HTTP {response.status_code}"}}]
            }
        else:
            body = response.json()
        self.codes.update(codes_of(body))
        return body

    def close(self) -> None:
        self.http.close()


def codes_of(body: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []]


def described(body: dict[str, Any], what: str) -> list[str]:
    errors = body.get("errors") or []
    return [
        f"{what}: {code} {e.get('message', '')} at {e.get('path')}"
        for e, code in zip(errors, codes_of(body), strict=True)
    ]


@dataclass
class Reading:
    """One message as every API path answers it; `errors` says which paths failed."""

    id: str
    message: dict[str, Any] | None = None  # its fields now, without the history
    history: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any] | None] = field(default_factory=list)  # messageAt 1, 2, ...
    events: list[dict[str, Any]] = field(default_factory=list)  # its conversation's events pages
    positions: list[int] = field(default_factory=list)  # each of those events' cursor
    errors: list[str] = field(default_factory=list)


def read_message(client: Client, message_id: str, conversation_id: str) -> Reading:
    """Each message lives in a conversation of its own, so its `events` pages are its own."""
    reading = Reading(message_id)
    after: str | None = None
    while True:
        body = client.post(MESSAGE_PAGE, {"id": message_id, "after": after})
        reading.errors += described(body, "message")
        found = (body.get("data") or {}).get("message")
        if found is None:
            if not body.get("errors"):
                reading.errors.append("message: null")
            break
        page = found.pop("history")
        reading.message = found
        reading.history += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # Every version the message or its history shows (none, when neither could be read).
    last = max([reading.message["version"] if reading.message else 0, len(reading.history)])
    reading.versions = versions_of(client, message_id, last, reading.errors)
    edges, errors = events_pages(client, conversation_id)
    reading.events = [node for _, node in edges]
    reading.positions = [position for position, _ in edges]
    reading.errors += errors
    return reading


def versions_of(client: Client, message_id: str, last: int, errors: list[str]) -> list[Any]:
    found: list[dict[str, Any] | None] = []
    for start in range(1, last + 1, VERSIONS_A_REQUEST):
        numbers = range(start, min(last, start + VERSIONS_A_REQUEST - 1) + 1)
        fields = " ".join(
            f"v{n}: messageAt(id: $id, version: {n}) {{ {MESSAGE_FIELDS} }}" for n in numbers
        )
        body = client.post(f"query($id: ID!) {{ {fields} }}", {"id": message_id})
        errors += described(body, "messageAt")
        data = body.get("data") or {}
        for n in numbers:
            found.append(data.get(f"v{n}"))
            if data.get(f"v{n}") is None and not body.get("errors"):
                errors.append(f"messageAt: null at version {n}")
    return found


def events_pages(
    client: Client, conversation_id: str | None = None
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Every event with its position, page by page (of one conversation, or of the workspace);
    a page that fails ends the walk, since its cursor is lost with it."""
    events: list[tuple[int, dict[str, Any]]] = []
    errors: list[str] = []
    after: str | None = None
    while True:
        body = client.post(EVENTS_PAGE, {"conversation": conversation_id, "after": after})
        errors += described(body, f"events of {conversation_id or 'the workspace'}")
        page = (body.get("data") or {}).get("events")
        if page is None:
            return events, errors
        events += [(int(edge["cursor"]), edge["node"]) for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return events, errors
        after = page["pageInfo"]["endCursor"]


def cli_histories(
    database_url: str, message_ids: list[str]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """`herald history ID` for each message."""
    runs = herald_cli_calls(database_url, [["history", mid] for mid in message_ids])
    return dict(zip(message_ids, runs, strict=True))


def cli_problems(runs: dict[str, subprocess.CompletedProcess[str]]) -> dict[str, str]:
    return {
        mid: f"herald history exited {run.returncode}: {run.stderr.strip().splitlines()[-1:]}"
        for mid, run in runs.items()
        if run.returncode != 0
    }


def verify_views(database_url: str) -> str | None:
    """None when `herald projections verify` is clean, else what it said."""
    run = herald_cli(database_url, "projections", "verify")
    if run.returncode == 0:
        return None
    said = (run.stdout + run.stderr).strip().splitlines()
    return f"projections verify exited {run.returncode}: {said[-1] if said else ''}"
