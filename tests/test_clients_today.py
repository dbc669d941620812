"""Real clients from the registries using what issue 16 added: Python's gql resuming a
subscription with `after` and asking Relay's `node`; the npm graphql-sse client subscribing and
resuming, in both of its modes; Apollo Client with its persisted-queries link."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.conftest import Api, LiveServer, draft

WAIT = 30.0
CLIENTS = Path(__file__).parent / "clients"
SUBSCRIPTION = gql(
    "subscription($after: String) { messageEvents(after: $after) "
    "{ messageId version type cursor } }"
)
EVENTS = """
query($after: String) {
  events(after: $after, first: 500) { edges { node { messageId version type cursor } } }
}
"""
NODE = gql(
    "query($id: ID!) { node(id: $id) { __typename id "
    "... on Message { text status conversationId } } }"
)


@pytest.fixture
def server(sqlite_server: LiveServer) -> LiveServer:
    """SQLite only: the clients speak to the API, which is the same on either backend."""
    return sqlite_server


def recorded_after(api: Api, cursor: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in api.ok(EVENTS, {"after": cursor})["events"]["edges"]]


def end_cursor(api: Api) -> str:
    events = recorded_after(api, "0")
    return str(events[-1]["cursor"]) if events else "0"


def writes(api: Api, count: int, label: str) -> None:
    for n in range(count):
        draft(api, f"{label} {n}")


# gql


@asynccontextmanager
async def gql_ws(server: LiveServer, api: Api) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(
        url=f"ws://127.0.0.1:{server.port}/graphql",
        init_payload={"Authorization": f"Bearer {api.key}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        yield session


async def take(session: AsyncClientSession, after: str, count: int) -> list[dict[str, Any]]:
    request = GraphQLRequest(SUBSCRIPTION, variable_values={"after": after})
    got: list[dict[str, Any]] = []
    async for result in session.subscribe(request):
        got.append(result["messageEvents"])
        if len(got) == count:
            break  # leaving the loop stops the subscription
    return got


async def test_gql_resumes_a_subscription_from_the_last_cursor_it_got(
    server: LiveServer, api: Api
) -> None:
    start = end_cursor(api)
    writer = threading.Thread(target=writes, args=(api, 4, "before the drop"))
    writer.start()
    async with gql_ws(server, api) as session:
        got = await asyncio.wait_for(take(session, start, 3), WAIT)
    writer.join()  # the session is closed: what is written now waits for the resume
    await asyncio.to_thread(writes, api, 3, "while away")
    async with gql_ws(server, api) as session:
        got += await asyncio.wait_for(take(session, got[-1]["cursor"], 4), WAIT)

    assert got == recorded_after(api, start)
    assert len(got) == 7


async def test_gql_asks_relay_node_for_a_message_by_its_id(server: LiveServer, api: Api) -> None:
    made = draft(api, "a node", conversationId="relay-gql")
    transport = HTTPXAsyncTransport(
        url=f"{server.base_url}/graphql", headers={"Authorization": f"Bearer {api.key}"}
    )
    # gql fetches the schema and checks the document against it before sending it.
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        found = await session.execute(GraphQLRequest(NODE, variable_values={"id": made["id"]}))
        missing = await session.execute(
            GraphQLRequest(NODE, variable_values={"id": "00000000-0000-0000-0000-000000000000"})
        )
    assert found["node"] == {
        "__typename": "Message",
        "id": made["id"],
        "text": "a node",
        "status": "DRAFT",
        "conversationId": "relay-gql",
    }
    assert missing == {"node": None}


# npm clients, run by node


@pytest.fixture
def node() -> str:
    binary = shutil.which("node")
    if binary is None:
        pytest.skip("node is not installed: the npm graphql-sse and Apollo clients cannot run")
    if not (CLIENTS / "node_modules").is_dir():
        pytest.skip(
            "tests/clients/node_modules is absent: run npm ci --prefix tests/clients "
            "--no-audit --no-fund --ignore-scripts"
        )
    return binary


@pytest.mark.parametrize("mode", ["distinct", "single"])
def test_the_npm_graphql_sse_client_subscribes_and_resumes_from_its_cursor(
    server: LiveServer, api: Api, node: str, mode: str
) -> None:
    """Three events wait before it subscribes; three more are written while it runs. It
    takes two, unsubscribes, and resumes from the last cursor it got."""
    start = end_cursor(api)
    writes(api, 3, "waiting")
    client = subprocess.Popen(
        [node, str(CLIENTS / "sse.mjs"), server.base_url, str(api.key), start, "2", "6", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        writes(api, 3, "live")
        out, err = client.communicate(timeout=WAIT)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    assert client.returncode == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert got == recorded_after(api, start)
    assert f"resuming after {got[1]['cursor']}" in err


def test_apollo_client_sends_hashes_registers_on_not_found_and_gets_queries_by_get(
    server: LiveServer, api: Api, node: str
) -> None:
    done = subprocess.run(
        [node, str(CLIENTS / "apollo.mjs"), server.base_url, str(api.key)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["requests"] == [
        # The mutation: its hash alone (POST, never GET), unknown; then with its document.
        {"method": "POST", "withDocument": False, "status": 400},
        {"method": "POST", "withDocument": True, "status": 200},
        # The query: its hash by GET, unknown; with its document; then its hash alone, known.
        {"method": "GET", "withDocument": False, "status": 400},
        {"method": "POST", "withDocument": True, "status": 200},
        {"method": "GET", "withDocument": False, "status": 200},
    ]
    drafted = answer["drafted"]["draftMessage"]
    assert drafted["text"] == "from Apollo"
    assert answer["first"] == answer["second"]
    assert [edge["node"]["id"] for edge in answer["first"]["messages"]["edges"]] == [drafted["id"]]
