"""Racing clients end to end: concurrent commands on one message, each from its own HTTP client
on its own thread, released together by a barrier."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.conftest import DRAFT, Api, LiveServer, draft

RACERS = 8
EDIT = """
mutation($input: EditMessageInput!) { editMessage(input: $input) { id version status text } }
"""
APPROVE = """
mutation($input: ApproveMessageInput!) {
  approveMessage(input: $input) { id version status approvedBy approvedAt sentAt updatedAt }
}
"""
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { id version status } }"
REDACT = """
mutation($input: RedactMessageInput!) {
  redactMessage(input: $input) { id version status redacted text }
}
"""
RECORD = """
mutation($input: RecordDeliveryStatusInput!) {
  recordDeliveryStatus(input: $input) { id version status }
}
"""
HISTORY = """
query($id: ID!) {
  message(id: $id) {
    version status text redacted
    history { edges { node { type version ... on MessageEdited { text } } } }
  }
}
"""
EVENTS = "{ events(first: 500) { edges { node { messageId type version } } } }"

Request = tuple[str, dict[str, Any]]


def race(server: LiveServer, key: str, request: Callable[[int], Request]) -> list[dict[str, Any]]:
    """Send request(i) from each of RACERS clients at once; their response bodies, in order."""
    clients = [Api(server.base_url, key) for _ in range(RACERS)]
    for client in clients:  # connect first, so the race is between requests, not handshakes
        client.ok("{ __typename }")
    barrier = threading.Barrier(RACERS, timeout=10)
    bodies: list[dict[str, Any] | None] = [None] * RACERS
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            query, variables = request(i)
            barrier.wait()
            bodies[i] = clients[i].post(query, variables)
        except BaseException as e:  # reported below, in the test's own thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for client in clients:
        client.close()
    assert not any(thread.is_alive() for thread in threads), "a racer did not finish"
    assert not failures, failures
    answered = [body for body in bodies if body is not None]
    assert len(answered) == RACERS
    return answered


def outcome(bodies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the answers of the racers that succeeded, the one error of each that failed)."""
    won, lost = [], []
    for body in bodies:
        if body.get("errors"):
            assert len(body["errors"]) == 1, body
            lost.append(body["errors"][0]["extensions"])
        else:
            won.append(body["data"])
    return won, lost


def history(api: Api, message_id: str) -> dict[str, Any]:
    message: dict[str, Any] = api.ok(HISTORY, {"id": message_id})["message"]
    return message


def types_of(message: dict[str, Any]) -> Counter[str]:
    return Counter(edge["node"]["type"] for edge in message["history"]["edges"])


def sent_and_reported(api: Api) -> str:
    message_id = str(draft(api, "to be redacted")["id"])
    api.ok(SEND, {"input": {"id": message_id}})
    api.ok(RECORD, {"input": {"id": message_id, "status": "SENT"}})
    return message_id


def test_of_racing_edits_with_the_same_expected_version_exactly_one_wins(
    server: LiveServer, api: Api
) -> None:
    message_id = draft(api, "first words")["id"]

    bodies = race(
        server,
        str(api.key),
        lambda i: (EDIT, {"input": {"id": message_id, "text": f"edit {i}", "expectedVersion": 1}}),
    )

    won, lost = outcome(bodies)
    assert len(won) == 1, bodies
    assert len(lost) == RACERS - 1
    for error in lost:
        assert error == {"code": "CONFLICT", "currentVersion": 2, "currentStatus": "DRAFT"}
    winner = won[0]["editMessage"]
    assert winner["version"] == 2
    message = history(api, message_id)
    assert message["version"] == 2
    assert message["text"] == winner["text"]
    assert types_of(message) == Counter({"Drafted": 1, "Edited": 1})
    assert message["history"]["edges"][1]["node"]["text"] == winner["text"]


def test_racing_edits_without_an_expected_version_all_succeed_and_none_is_lost(
    server: LiveServer, api: Api
) -> None:
    message_id = draft(api, "first words")["id"]
    texts = [f"edit {i}" for i in range(RACERS)]

    bodies = race(
        server, str(api.key), lambda i: (EDIT, {"input": {"id": message_id, "text": texts[i]}})
    )

    won, lost = outcome(bodies)
    assert lost == []
    # Each edit was recorded as a version of its own.
    assert sorted(w["editMessage"]["version"] for w in won) == list(range(2, RACERS + 2))
    message = history(api, message_id)
    assert message["version"] == 1 + RACERS
    edits = [e["node"] for e in message["history"]["edges"] if e["node"]["type"] == "Edited"]
    assert sorted(edit["text"] for edit in edits) == sorted(texts)
    assert message["text"] == edits[-1]["text"]
    last = next(w for w in won if w["editMessage"]["version"] == 1 + RACERS)
    assert last["editMessage"]["text"] == message["text"]


def test_racing_drafts_with_the_same_idempotency_key_make_one_message(
    server: LiveServer, api: Api
) -> None:
    bodies = race(
        server,
        str(api.key),
        lambda i: (
            DRAFT,
            {"input": {"conversationId": "conv-1", "text": f"try {i}", "idempotencyKey": "k-1"}},
        ),
    )

    won, lost = outcome(bodies)
    assert lost == []
    ids = {w["draftMessage"]["id"] for w in won}
    assert len(ids) == 1
    # Every retry answers the first result, whichever racer made it.
    assert len({w["draftMessage"]["text"] for w in won}) == 1
    events = [e["node"] for e in api.ok(EVENTS)["events"]["edges"]]
    assert events == [{"messageId": ids.pop(), "type": "Drafted", "version": 1}]


def test_racing_approvals_with_the_same_idempotency_key_approve_and_send_once(
    server: LiveServer, api: Api
) -> None:
    message_id = draft(api, "please approve", requiresApproval=True)["id"]

    bodies = race(
        server,
        str(api.key),
        lambda _: (APPROVE, {"input": {"id": message_id, "idempotencyKey": "approve-1"}}),
    )

    won, lost = outcome(bodies)
    assert lost == []
    assert all(w == won[0] for w in won), won
    assert won[0]["approveMessage"]["status"] == "ACCEPTED"
    assert won[0]["approveMessage"]["version"] == 3
    message = history(api, message_id)
    assert types_of(message) == Counter({"Drafted": 1, "Approved": 1, "Sent": 1})
    assert message["version"] == 3


def test_of_racing_sends_without_a_key_exactly_one_succeeds(server: LiveServer, api: Api) -> None:
    message_id = draft(api, "send me once")["id"]

    bodies = race(server, str(api.key), lambda _: (SEND, {"input": {"id": message_id}}))

    won, lost = outcome(bodies)
    assert len(won) == 1, bodies
    assert won[0]["sendMessage"] == {"id": message_id, "version": 2, "status": "ACCEPTED"}
    assert lost == [{"code": "CONFLICT", "currentVersion": 2, "currentStatus": "ACCEPTED"}] * (
        RACERS - 1
    )
    assert types_of(history(api, message_id)) == Counter({"Drafted": 1, "Sent": 1})


def test_of_racing_redactions_exactly_one_succeeds(server: LiveServer, api: Api) -> None:
    message_id = sent_and_reported(api)

    bodies = race(server, str(api.key), lambda _: (REDACT, {"input": {"id": message_id}}))

    won, lost = outcome(bodies)
    assert len(won) == 1, bodies
    assert won[0]["redactMessage"] == {
        "id": message_id,
        "version": 4,
        "status": "SENT",
        "redacted": True,
        "text": None,
    }
    assert lost == [{"code": "CONFLICT", "currentVersion": 4, "currentStatus": "SENT"}] * (
        RACERS - 1
    )
    message = history(api, message_id)
    assert types_of(message) == Counter(
        {"Drafted": 1, "Sent": 1, "StatusChanged": 1, "Redacted": 1}
    )
    assert message["redacted"] is True
    assert message["text"] is None
