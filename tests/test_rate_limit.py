"""Per-key rate limiting in cost points: LIMIT_EXCEEDED, and HTTP 429 with Retry-After over
HTTP; other keys are unaffected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.settings import Settings
from tests.conftest import LiveServer, served
from tests.figures import record
from tests.ws import init, run_over

QUERY = {"query": "{ messages(first: 1) { edges { cursor } } }"}
COST = 2  # the messages object and its answer's own: the first answer reports it
WAIT = 15.0


@pytest.fixture
def limited(sqlite_settings: Settings) -> Iterator[LiveServer]:
    # One point a second, ten at once: twelve queries of two points back to back run into it.
    with served(replace(sqlite_settings, rate_limit=1.0, rate_burst=10)) as live:
        yield live


def test_a_key_over_its_rate_gets_429_and_limit_exceeded_while_another_key_goes_on(
    limited: LiveServer,
) -> None:
    busy = limited.client("acme", "busy")
    calm = limited.client("acme", "calm")
    try:
        answers = [busy.http.post(busy.url, json=QUERY, headers=busy.headers()) for _ in range(12)]
        statuses = [a.status_code for a in answers]
        assert answers[0].json()["extensions"]["cost"]["actualQueryCost"] == COST
        assert statuses[:5] == [200] * 5, "the burst is allowed: ten points, two a query"
        refused = [a for a in answers if a.status_code == 429]
        assert len(refused) >= 5
        for answer in refused:
            [error] = answer.json()["errors"]
            assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
            assert error["extensions"]["retryAfter"] > 0
            assert int(answer.headers["retry-after"]) >= 1
            assert "retry in" in error["message"]
        # Until its Retry-After has passed, the key is turned away before its request is read:
        # even a document that does not parse gets LIMIT_EXCEEDED, not VALIDATION_FAILED.
        broken = busy.http.post(busy.url, json={"query": "{"}, headers=busy.headers())
        assert broken.status_code == 429
        assert broken.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        ok = calm.http.post(calm.url, json=QUERY, headers=calm.headers())
        assert ok.status_code == 200
        assert "errors" not in ok.json()
        record("limits", "sqlite", rate_limited_429=len(refused))
    finally:
        busy.close()
        calm.close()


@pytest.fixture
def scarce(sqlite_settings: Settings) -> Iterator[LiveServer]:
    # Three at once, then one every hundred seconds: no refill within the test.
    with served(replace(sqlite_settings, rate_limit=0.01, rate_burst=3)) as live:
        yield live


def open_connection(server: LiveServer, key: str | None, protocol: str) -> dict[str, object]:
    """connection_init with `key`: the server's answer, or how it closed the connection."""
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol(protocol)]
    ) as ws:
        ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        try:
            answer: dict[str, object] = json.loads(ws.recv(timeout=WAIT))
        except ConnectionClosed as closed:
            return {"closed": None if closed.rcvd is None else closed.rcvd.code}
        return answer


def test_websocket_connections_over_a_keys_rate_are_refused_while_another_key_connects(
    scarce: LiveServer,
) -> None:
    busy = scarce.key("acme", "busy")
    calm = scarce.key("acme", "calm")
    # graphql-ws answers LIMIT_EXCEEDED; graphql-transport-ws has no error message before the
    # acknowledgement, so the connection is closed with 4403.
    answers = [open_connection(scarce, busy, "graphql-transport-ws") for _ in range(3)]
    assert answers == [{"type": "connection_ack"}] * 3, "the burst is allowed"
    assert open_connection(scarce, busy, "graphql-transport-ws") == {"closed": 4403}
    refused = open_connection(scarce, busy, "graphql-ws")
    assert refused["type"] == "connection_error", refused
    payload = refused["payload"]
    assert isinstance(payload, dict)
    assert payload["code"] == "LIMIT_EXCEEDED", refused
    assert open_connection(scarce, calm, "graphql-transport-ws") == {"type": "connection_ack"}
    record("limits", "sqlite", rate_limited_websockets=2)


@pytest.fixture
def five_points(sqlite_settings: Settings) -> Iterator[LiveServer]:
    with served(replace(sqlite_settings, rate_limit=0.01, rate_burst=5)) as live:
        yield live


def test_operations_over_one_websocket_count_against_the_keys_rate(
    five_points: LiveServer,
) -> None:
    """A connection carries many operations; each takes its cost from the key's budget, so an
    open connection is no way around the limit."""
    key = five_points.client("acme", "chatty").key
    with connect(
        f"ws://127.0.0.1:{five_points.port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    ) as ws:
        init(ws, key)  # one point of five
        answers = [run_over(ws, str(i), QUERY["query"]) for i in range(4)]
    served = [a for a in answers if "errors" not in a]
    refused = [a for a in answers if "errors" in a]
    assert len(served) == 2, answers  # two points each, from the four the connection left
    assert len(refused) == 2, answers
    for answer in refused:
        assert answer["data"] is None
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["LIMIT_EXCEEDED"]
    record("limits", "sqlite", rate_limited_websocket_operations=len(refused))
