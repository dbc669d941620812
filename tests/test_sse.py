"""GraphQL over Server-Sent Events (graphql-sse) at /graphql/stream, against the live server:
the distinct connections mode (one operation a stream) and the single connection mode (one
reserved stream for every operation of a client), with the same keys, caps and revocation as
WebSocket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app.api import sse_single
from app.settings import Settings
from tests.conftest import Api, LiveServer, draft, served
from tests.processes import herald_cli
from tests.sse import WAIT, Stream, streamed
from tests.ws import init

SUBSCRIBE = """
subscription($after: String) {
  messageEvents(after: $after) { messageId version type cursor conversationId }
}
"""
EVENTS = "query($after: String) { events(after: $after) { edges { cursor } } }"
TOKEN = "x-graphql-event-stream-token"


@pytest.fixture
def server(sqlite_server: LiveServer) -> LiveServer:
    """SQLite only: what these tests prove does not depend on the backend (the hub's and
    the keys' SQL run on both in test_live_wakes.py and test_resume.py)."""
    return sqlite_server


def url(server: LiveServer) -> str:
    return f"{server.base_url}/graphql/stream"


def bearer(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.key}"}


def end_cursor(api: Api) -> str:
    edges = api.ok(EVENTS, {"after": None})["events"]["edges"]
    return str(edges[-1]["cursor"]) if edges else "0"


def event_of(stream: Stream) -> dict[str, Any]:
    result = stream.result()
    assert "errors" not in result, result
    event: dict[str, Any] = result["data"]["messageEvents"]
    return event


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result["errors"]]


def test_an_sse_subscription_streams_its_workspace_and_resumes_after_its_last_cursor(
    server: LiveServer, api: Api
) -> None:
    globex = server.client("globex")
    http = httpx.Client()
    try:
        draft(api, "before")
        start = end_cursor(api)
        with streamed(
            http, url(server), bearer(api), query=SUBSCRIBE, variables={"after": start}
        ) as stream:
            mine = draft(api, "mine", conversationId="sse-1")["id"]
            draft(globex, "not mine")
            api.ok(
                "mutation($i: EditMessageInput!) { editMessage(input: $i) { id } }",
                {"i": {"id": mine, "text": "mine, edited"}},
            )
            got = [event_of(stream), event_of(stream)]
        later = draft(api, "written while nobody listens")["id"]
        resume = got[-1]["cursor"]
        with streamed(
            http, url(server), bearer(api), query=SUBSCRIBE, variables={"after": resume}
        ) as stream:
            got.append(event_of(stream))
    finally:
        http.close()
        globex.close()

    assert [(e["messageId"], e["version"], e["type"]) for e in got] == [
        (mine, 1, "Drafted"),
        (mine, 2, "Edited"),
        (later, 1, "Drafted"),
    ]
    cursors = [e["cursor"] for e in got]
    assert cursors == [
        edge["cursor"] for edge in api.ok(EVENTS, {"after": start})["events"]["edges"]
    ]


def test_sse_answers_a_query_by_get_and_refuses_a_mutation_by_get(
    server: LiveServer, api: Api
) -> None:
    query = "{ messages(first: 1) { edges { node { id } } } }"
    mutation = 'mutation { draftMessage(input: {conversationId: "c", text: "no"}) { id } }'
    with httpx.Client(timeout=WAIT) as http:
        for document, expect in ((query, None), (mutation, ["VALIDATION_FAILED"])):
            with http.stream(
                "GET",
                url(server),
                params={"query": document},
                headers={"Accept": "text/event-stream", **bearer(api)},
            ) as response:
                stream = Stream(response)
                result = stream.result()
                stream.completed()
            if expect is None:
                assert result["data"] == {"messages": {"edges": []}}
            else:
                assert codes(result) == expect
    assert api.ok(query)["messages"]["edges"] == [], "the mutation recorded nothing"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer hk_not-a-key"}],
    ids=["no key", "an unknown key"],
)
def test_an_sse_operation_without_a_valid_key_ends_with_unauthenticated(
    server: LiveServer, headers: dict[str, str]
) -> None:
    with httpx.Client() as http, streamed(http, url(server), headers, query=SUBSCRIBE) as stream:
        assert codes(stream.result()) == ["UNAUTHENTICATED"]
        stream.completed()


def test_revoking_a_key_ends_its_sse_subscription(server: LiveServer) -> None:
    watcher = server.client("acme", "sse-watcher")
    with (
        httpx.Client() as http,
        streamed(
            http, url(server), bearer(watcher), query=SUBSCRIBE, variables={"after": "0"}
        ) as stream,
    ):
        written = draft(watcher, "seen while the key is good")["id"]
        assert event_of(stream)["messageId"] == written
        done = herald_cli(
            server.herald.settings.database_url,
            *("keys", "revoke", "--workspace", "acme", "--name", "sse-watcher"),
        )
        assert done.returncode == 0, done.stderr
        ending = stream.result()  # nothing written since: the revocation alone ends it
        assert codes(ending) == ["UNAUTHENTICATED"]
        assert ending.get("data") is None
        stream.completed()
    watcher.close()


@pytest.fixture
def one_connection(sqlite_settings: Settings) -> Iterator[LiveServer]:
    with served(replace(sqlite_settings, max_connections_per_key=1)) as live:
        yield live


def test_sse_streams_and_websockets_share_their_keys_connection_cap(
    one_connection: LiveServer,
) -> None:
    api = one_connection.client("acme")
    assert api.key is not None
    try:
        with httpx.Client() as http:
            with connect(
                f"ws://127.0.0.1:{one_connection.port}/graphql",
                subprotocols=[Subprotocol("graphql-transport-ws")],
            ) as ws:
                init(ws, api.key)
                with streamed(http, url(one_connection), bearer(api), query=SUBSCRIBE) as stream:
                    assert codes(stream.result()) == ["LIMIT_EXCEEDED"]
                    stream.completed()
            # The WebSocket's place comes back once the server has seen it close.
            deadline = time.monotonic() + WAIT
            while True:
                with streamed(
                    http, url(one_connection), bearer(api), query="{ __typename }"
                ) as stream:
                    result = stream.result()
                if "errors" not in result or time.monotonic() > deadline:
                    break
            assert result["data"] == {"__typename": "Query"}
    finally:
        api.close()


def reserve(http: httpx.Client, server: LiveServer, api: Api) -> str:
    response = http.put(url(server), headers=bearer(api))
    assert response.status_code == 201, response.text
    return response.text


def operate(
    http: httpx.Client, server: LiveServer, api: Api, token: str, operation_id: str, **op: Any
) -> httpx.Response:
    return http.post(
        url(server),
        json={**op, "extensions": {"operationId": operation_id}},
        headers={TOKEN: token, **bearer(api)},
    )


def tagged(stream: Stream) -> tuple[str, str, Any]:
    kind, data = stream.next()
    return kind, data["id"], data.get("payload")


def test_one_reserved_stream_carries_every_operation_of_its_key_tagged_with_its_id(
    server: LiveServer, api: Api
) -> None:
    start = end_cursor(api)
    with httpx.Client(timeout=WAIT) as http:
        token = reserve(http, server, api)
        with http.stream(
            "GET", url(server), params={"token": token}, headers={"Accept": "text/event-stream"}
        ) as response:
            assert response.status_code == 200
            stream = Stream(response)
            watch = operate(
                http, server, api, token, "watch", query=SUBSCRIBE, variables={"after": start}
            )
            ask = operate(http, server, api, token, "ask", query="{ __typename }")
            assert (watch.status_code, ask.status_code) == (202, 202)
            written = draft(api, "down the one stream")["id"]

            seen: dict[str, list[Any]] = {"watch": [], "ask": []}
            while len(seen["watch"]) < 1 or len(seen["ask"]) < 2:
                kind, operation, payload = tagged(stream)
                seen[operation].append(payload["data"] if kind == "next" else kind)
            assert seen["ask"] == [{"__typename": "Query"}, "complete"]
            assert seen["watch"][0]["messageEvents"]["messageId"] == written

            stop = http.delete(url(server), params={"operationId": "watch"}, headers={TOKEN: token})
            assert stop.status_code == 200
            again = operate(http, server, api, token, "watch", query="{ __typename }")
            assert again.status_code == 202  # the id is free once its operation has stopped
            kind, operation, payload = tagged(stream)
            assert (kind, operation) == ("next", "watch")
            assert payload["data"] == {"__typename": "Query"}


def test_a_reserved_stream_refuses_another_key_a_second_reader_and_unknown_tokens(
    server: LiveServer, api: Api
) -> None:
    other = server.client("globex")
    try:
        with httpx.Client(timeout=WAIT) as http:
            token = reserve(http, server, api)
            stolen = operate(http, server, other, token, "x", query="{ __typename }")
            assert (stolen.status_code, stolen.json()["errors"][0]["extensions"]["code"]) == (
                403,
                "FORBIDDEN",
            )
            unnamed = http.post(
                url(server), json={"query": "{ __typename }"}, headers={TOKEN: token, **bearer(api)}
            )
            assert unnamed.status_code == 400
            unknown = operate(http, server, api, "no-such-token", "x", query="{ __typename }")
            assert unknown.status_code == 404
            with http.stream(
                "GET", url(server), headers={TOKEN: token, "Accept": "text/event-stream"}
            ) as first:
                assert first.status_code == 200
                second = http.get(
                    url(server), headers={TOKEN: token, "Accept": "text/event-stream"}
                )
                assert second.status_code == 409
            unreserved = http.put(url(server))
            assert unreserved.status_code == 401
    finally:
        other.close()


def test_a_reservation_nobody_opens_lapses_and_gives_its_connection_back(
    one_connection: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse_single, "_UNCLAIMED", 0.2)
    api = one_connection.client("acme")
    try:
        with httpx.Client(timeout=WAIT) as http:
            token = reserve(http, one_connection, api)
            over = http.put(url(one_connection), headers=bearer(api))
            assert (over.status_code, over.json()["errors"][0]["extensions"]["code"]) == (
                429,
                "LIMIT_EXCEEDED",
            )
            deadline = time.monotonic() + WAIT
            while (again := http.put(url(one_connection), headers=bearer(api))).status_code != 201:
                assert time.monotonic() < deadline, "the unopened reservation never lapsed"
            assert again.text != token
            lapsed = operate(http, one_connection, api, token, "x", query="{ __typename }")
            assert lapsed.status_code == 404
    finally:
        api.close()
