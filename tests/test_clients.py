"""Real GraphQL clients against the live server: Python's gql (HTTP and graphql-transport-ws
transports) and the npm graphql-ws client run by node, each in a round trip of draft,
subscribe, edit, approve and history."""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import pytest
from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.conftest import Api, LiveServer, draft

WAIT = 10.0  # seconds a test waits for something that should arrive at once
ATTEMPT = 1.0  # seconds one priming write waits for its event before another is written
CLIENTS = Path(__file__).parent / "clients"
ROUNDTRIP = CLIENTS / "roundtrip.mjs"

EVENT_FIELDS = """
  __typename messageId conversationId version type actor occurredAt
  ... on MessageDrafted { text channel requiresApproval }
  ... on MessageEdited { text afterSend }
"""
SUBSCRIPTION = gql(f"subscription($m: ID) {{ messageEvents(messageId: $m) {{ {EVENT_FIELDS} }} }}")
DRAFT = gql(
    "mutation($input: DraftMessageInput!) { draftMessage(input: $input) { id version status } }"
)
EDIT_QUERY = "mutation($input: EditMessageInput!) { editMessage(input: $input) { id version } }"
EDIT = gql(EDIT_QUERY)
APPROVE_QUERY = """
mutation($input: ApproveMessageInput!) { approveMessage(input: $input) { id version status } }
"""
APPROVE = gql(APPROVE_QUERY)
HISTORY_QUERY = f"""
query($id: ID!) {{
  message(id: $id) {{
    status text
    history {{ edges {{ node {{ {EVENT_FIELDS} }} }} pageInfo {{ hasNextPage }} }}
  }}
}}
"""
HISTORY = gql(HISTORY_QUERY)


def request(document: GraphQLRequest, **variables: Any) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables)


def ws_url(server: LiveServer) -> str:
    return f"ws://127.0.0.1:{server.port}/graphql"


def bearer(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.key}"}


def history_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    history = data["message"]["history"]
    assert history["pageInfo"]["hasNextPage"] is False
    return [edge["node"] for edge in history["edges"]]


# gql


@asynccontextmanager
async def gql_http(server: LiveServer, api: Api) -> AsyncIterator[AsyncClientSession]:
    """gql over HTTP; it fetches the schema by introspection and checks every document
    against it before sending."""
    transport = HTTPXAsyncTransport(url=f"{server.base_url}/graphql", headers=bearer(api))
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        yield session


@asynccontextmanager
async def gql_ws(server: LiveServer, api: Api) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(
        url=ws_url(server),
        init_payload=bearer(api),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        assert transport.subprotocol == "graphql-transport-ws"
        yield session


async def subscribed(
    session: AsyncClientSession, message_id: str, into: asyncio.Queue[dict[str, Any]]
) -> None:
    async for result in session.subscribe(request(SUBSCRIPTION, m=message_id)):
        await into.put(result["messageEvents"])


async def next_event(events: asyncio.Queue[dict[str, Any]], deadline: float) -> dict[str, Any]:
    return await asyncio.wait_for(events.get(), max(0.0, deadline - time.monotonic()))


async def test_gql_drafts_subscribes_edits_approves_and_reads_the_history(
    server: LiveServer, api: Api
) -> None:
    async with gql_http(server, api) as http, gql_ws(server, api) as ws:
        drafted = (
            await http.execute(
                request(
                    DRAFT,
                    input={
                        "conversationId": "gql-1",
                        "text": "Needs a look",
                        "requiresApproval": True,
                    },
                )
            )
        )["draftMessage"]
        message_id = drafted["id"]
        assert (drafted["version"], drafted["status"]) == (1, "DRAFT")

        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        subscription = asyncio.create_task(subscribed(ws, message_id, events))
        try:
            # Prime: edit until an edit comes back (one made before the server started the
            # subscription never will).
            deadline = time.monotonic() + WAIT
            received: list[dict[str, Any]] = []
            for attempt in range(1000):
                edit = request(EDIT, input={"id": message_id, "text": f"warm-up {attempt}"})
                version = (await http.execute(edit))["editMessage"]["version"]
                try:
                    while not received or received[-1]["version"] != version:
                        attempt_ends = min(deadline, time.monotonic() + ATTEMPT)
                        received.append(await next_event(events, attempt_ends))
                    break
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise
            primed = len(received)

            edit = request(EDIT, input={"id": message_id, "text": "Looks good now"})
            edited = (await http.execute(edit))["editMessage"]
            approved = (await http.execute(request(APPROVE, input={"id": message_id})))[
                "approveMessage"
            ]
            assert approved["status"] == "ACCEPTED"
            assert approved["version"] == edited["version"] + 2  # Approved, then Sent
            deadline = time.monotonic() + WAIT
            while received[-1]["version"] < approved["version"]:
                received.append(await next_event(events, deadline))
        finally:
            subscription.cancel()
        with pytest.raises(asyncio.CancelledError):
            await subscription

        history = history_of(await http.execute(request(HISTORY, id=message_id)))

    after = received[primed:]
    assert [(e["__typename"], e["type"], e["version"]) for e in after] == [
        ("MessageEdited", "Edited", edited["version"]),
        ("MessageApproved", "Approved", edited["version"] + 1),
        ("MessageSent", "Sent", edited["version"] + 2),
    ]
    assert after[0]["text"] == "Looks good now"
    assert after[0]["afterSend"] is False
    assert {(e["messageId"], e["conversationId"], e["actor"]) for e in after} == {
        (message_id, "gql-1", "acme-bot")
    }
    # What the subscription saw is the history from its first event on: in order, each once.
    first = received[0]["version"]
    assert received == history[first - 1 :]
    assert history[0]["__typename"] == "MessageDrafted"
    assert history[0]["requiresApproval"] is True
    assert len(history) == approved["version"]


# the npm graphql-ws client, run by node


class NodeClient:
    """tests/clients/roundtrip.mjs as a subprocess: its stdout lines (events) and stderr lines
    arrive on queues, read by threads so that the test can wait with a deadline."""

    def __init__(self, server: LiveServer, key: str, message_id: str, count: int) -> None:
        self.process = subprocess.Popen(
            ["node", str(ROUNDTRIP), server.base_url, key, message_id, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.diagnostics: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.lines)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.diagnostics)),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: queue.Queue[str | None]) -> None:
        for line in stream:
            into.put(line.rstrip("\n"))
        into.put(None)

    def _next(self, lines: queue.Queue[str | None], deadline: float) -> str | None:
        try:
            return lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"node said nothing in time; stderr: {self.stderr}") from None

    def wait_connected(self) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            line = self._next(self.diagnostics, deadline)
            assert line is not None, f"node ended before connecting: {self.stderr}"
            self.stderr.append(line)
            if line == "connected":
                return

    def event(self, deadline: float) -> dict[str, Any]:
        line = self._next(self.lines, deadline)
        assert line is not None, f"node ended its output early: {self.stderr}"
        event: dict[str, Any] = json.loads(line)
        return event

    def finished(self) -> tuple[int, list[str]]:
        """Its exit code and any lines it printed after those read, once it has exited."""
        code = self.process.wait(timeout=WAIT)
        for reader in self.readers:
            reader.join(timeout=WAIT)
        rest = []
        while (line := self.lines.get_nowait()) is not None:
            rest.append(line)
        while (line := self.diagnostics.get_nowait()) is not None:
            self.stderr.append(line)
        return code, rest

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        for reader in self.readers:
            reader.join(timeout=WAIT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def node() -> Iterator[Callable[[LiveServer, str, str, int], NodeClient]]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the npm graphql-ws client cannot run")
    if not (CLIENTS / "node_modules").is_dir():
        pytest.skip(
            "tests/clients/node_modules is absent: run npm ci --prefix tests/clients "
            "--no-audit --no-fund --ignore-scripts"
        )
    started: list[NodeClient] = []

    def start(server: LiveServer, key: str, message_id: str, count: int) -> NodeClient:
        started.append(NodeClient(server, key, message_id, count))
        return started[-1]

    yield start
    for client in started:
        client.close()


def test_the_npm_graphql_ws_client_streams_an_edit_the_approval_and_the_send(
    server: LiveServer, api: Api, node: Callable[[LiveServer, str, str, int], NodeClient]
) -> None:
    message_id = str(
        draft(api, "Needs a look", conversationId="npm-1", requiresApproval=True)["id"]
    )
    assert api.key is not None
    # One warm-up edit, then the edit, the approval and the send.
    client = node(server, api.key, message_id, 4)
    client.wait_connected()

    # Prime: edit until an edit comes back (one made before the server started the
    # subscription never will).
    deadline = time.monotonic() + WAIT
    for attempt in range(1000):
        warm_up = api.ok(EDIT_QUERY, {"input": {"id": message_id, "text": f"warm-up {attempt}"}})
        try:
            first = client.event(min(deadline, time.monotonic() + ATTEMPT))
            break
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise
    assert first["version"] == warm_up["editMessage"]["version"], "an earlier warm-up came late"

    edited = api.ok(EDIT_QUERY, {"input": {"id": message_id, "text": "Looks good now"}})
    approved = api.ok(APPROVE_QUERY, {"input": {"id": message_id}})["approveMessage"]
    deadline = time.monotonic() + WAIT
    after = [client.event(deadline) for _ in range(3)]
    code, rest = client.finished()
    history = history_of(api.ok(HISTORY_QUERY, {"id": message_id}))

    assert (code, rest) == (0, []), client.stderr
    version = edited["editMessage"]["version"]
    assert [(e["__typename"], e["type"], e["version"]) for e in after] == [
        ("MessageEdited", "Edited", version),
        ("MessageApproved", "Approved", version + 1),
        ("MessageSent", "Sent", version + 2),
    ]
    assert approved["version"] == version + 2
    assert after[0]["text"] == "Looks good now"
    assert after[0]["afterSend"] is False
    assert {(e["messageId"], e["conversationId"], e["actor"]) for e in after} == {
        (message_id, "npm-1", "acme-bot")
    }
    assert [first, *after] == history[first["version"] - 1 :]
