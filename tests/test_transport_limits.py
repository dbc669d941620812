"""Both transports refuse alike and never answer bad input with a 5xx or INTERNAL_SERVER_ERROR:
WebSocket messages stop at the HTTP body limit, a request's headers and body must arrive in
time, and requests without a valid key, or refused before they ran, are rate-limited per client
address."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.settings import Settings
from bench.fairness import chain
from tests.conftest import Api, LiveServer, served
from tests.processes import ServerProcess
from tests.ws import init, receive, run_over

STATUSES = "query($s: [MessageStatus!]) { messages(status: $s) { edges { cursor } } }"
TRANSPORT = "graphql-transport-ws"


def raw_post(api: Api, body: bytes) -> Any:
    headers = {**api.headers(), "content-type": "application/json"}
    return api.http.post(api.url, content=body, headers=headers)


def test_an_unknown_operation_name_with_a_lone_surrogate_is_a_typed_refusal(api: Api) -> None:
    body = json.dumps({"query": "query A { __typename }", "operationName": "\ud800"})
    response = raw_post(api, body.encode())
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION_FAILED"


def test_a_subscription_over_http_is_a_typed_refusal(api: Api) -> None:
    body = json.dumps({"query": "subscription { messageEvents { version } }"})
    response = raw_post(api, body.encode())
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "VALIDATION_FAILED"
    assert "subscriptions" in error["message"]


def test_a_huge_status_list_is_limit_exceeded_over_http_and_websocket(
    server: LiveServer, api: Api
) -> None:
    variables = {"s": ["SENT"] * 100_000}
    response = raw_post(api, json.dumps({"query": STATUSES, "variables": variables}).encode())
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol(TRANSPORT)]
    ) as ws:
        init(ws, api.key)
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": STATUSES, "variables": variables},
                }
            )
        )
        answer = receive(ws)
    assert answer["type"] == "next", answer
    assert [e["extensions"]["code"] for e in answer["payload"]["errors"]] == ["LIMIT_EXCEEDED"]


def test_a_status_list_of_repeats_is_read_once(server: LiveServer, api: Api) -> None:
    body = api.post(STATUSES, {"s": ["SENT", "DRAFT"] * 2_000})
    assert body["data"] == {"messages": {"edges": []}}, body


def closing(ws: Any) -> int | None:
    """How the server closed the connection: its close code."""
    try:
        while True:
            ws.recv(timeout=15)
    except ConnectionClosed as closed:
        return None if closed.rcvd is None else closed.rcvd.code


@pytest.mark.parametrize("protocol", [TRANSPORT, "graphql-ws"])
def test_a_websocket_message_over_the_http_body_limit_closes_with_1009(
    server: LiveServer, protocol: str
) -> None:
    limit = server.herald.settings.max_request_bytes
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql",
        subprotocols=[Subprotocol(protocol)],
        max_size=None,
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"x": "a" * limit}}))
        assert closing(ws) == 1009


def test_deeply_nested_json_over_websocket_is_refused_with_a_close_code(server: LiveServer) -> None:
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol(TRANSPORT)]
    ) as ws:
        init(ws, server.key("acme"))
        ws.send("[" * 100_000 + "]" * 100_000)
        assert closing(ws) == 4400


@pytest.fixture
def strict(sqlite_settings: Settings) -> Iterator[LiveServer]:
    settings = replace(
        sqlite_settings,
        header_timeout=0.5,
        body_timeout=0.5,
        address_rate_limit=0.01,
        address_rate_burst=5,
    )
    with served(settings) as live:
        yield live


def answer_to(server: LiveServer, sent: bytes) -> bytes:
    """What the server says, until it closes, to a client that sends `sent` and then waits."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(sent)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_headers_that_never_end_are_cut_off(strict: LiveServer) -> None:
    answer = answer_to(strict, b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_connection_that_says_nothing_is_closed(strict: LiveServer) -> None:
    assert answer_to(strict, b"").startswith(b"HTTP/1.1 408")


def test_a_body_that_never_ends_is_cut_off(strict: LiveServer) -> None:
    head = b"POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
    answer = answer_to(strict, head + b"content-length: 100\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"LIMIT_EXCEEDED" in answer


def test_requests_without_a_valid_key_are_limited_per_address(strict: LiveServer) -> None:
    stranger = Api(strict.base_url, "hk_not-a-key")
    member = strict.client("acme")
    try:
        codes = [
            stranger.http.post(
                stranger.url,
                json={"query": '{ message(id: "x") { id } }'},
                headers=stranger.headers(),
            ).status_code
            for _ in range(8)
        ]
        # A point each (the price of the query, paid by the address): UNAUTHENTICATED answers.
        assert codes[:5] == [200] * 5, codes
        assert codes[5:] == [429] * 3, codes
        refused = stranger.http.post(stranger.url, json={"query": "{ __typename }"})
        assert refused.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert int(refused.headers["retry-after"]) >= 1
    finally:
        stranger.close()
        member.close()


def test_a_websocket_without_a_valid_key_counts_against_its_address(strict: LiveServer) -> None:
    for _ in range(5):
        with connect(
            f"ws://127.0.0.1:{strict.port}/graphql", subprotocols=[Subprotocol(TRANSPORT)]
        ) as ws:
            ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer x"}})
            )
            assert closing(ws) == 4403
    with connect(
        f"ws://127.0.0.1:{strict.port}/graphql", subprotocols=[Subprotocol("graphql-ws")]
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer x"}}))
        answer = receive(ws)
    assert answer["type"] == "connection_error", answer
    assert answer["payload"]["code"] == "LIMIT_EXCEEDED", answer


def test_a_valid_key_over_websocket_is_not_slowed_by_the_address_limit(strict: LiveServer) -> None:
    key = strict.key("acme")
    with connect(
        f"ws://127.0.0.1:{strict.port}/graphql", subprotocols=[Subprotocol(TRANSPORT)]
    ) as ws:
        init(ws, key)
        answers = [run_over(ws, str(i), "{ __typename }") for i in range(10)]
    assert all("errors" not in a for a in answers), answers


BOMB = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"


def test_over_websocket_the_same_inputs_get_the_same_typed_answers(server: LiveServer) -> None:
    """The fragment chain is served, the introspection bomb is LIMIT_EXCEEDED, and an unknown
    operation name with a lone surrogate is a typed refusal: never INTERNAL_SERVER_ERROR."""
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol(TRANSPORT)]
    ) as ws:
        init(ws, server.key("acme"))
        assert run_over(ws, "chain", chain(60))["data"] == {"__typename": "Query"}
        bomb = codes_of(ws, "bomb", {"query": BOMB})
        named = codes_of(ws, "name", {"query": "query A { __typename }", "operationName": "\ud800"})
    assert bomb == ["LIMIT_EXCEEDED"]
    assert named == ["VALIDATION_FAILED"]


def codes_of(ws: Any, operation_id: str, payload: dict[str, Any]) -> list[str]:
    """The codes of the errors an operation is answered with, as `error` or as `next`."""
    ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": payload}))
    answer = receive(ws)
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    return [e["extensions"]["code"] for e in errors]


def test_herald_serve_cuts_off_headers_that_never_end_in_each_of_its_workers(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_HEADER_TIMEOUT", "0.5")
    server = ServerProcess(sqlite_settings.database_url, tmp_path / "serve.log", "--workers", "2")
    try:
        server.wait_ready()
        for _ in range(4):  # connections land on either worker
            with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
                sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), (answer, server.output())
    finally:
        server.stop()
