"""Many Herald processes on one PostgreSQL database (skipped, with the reason, without one)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import DRAFT, Api
from tests.figures import record
from tests.postgres import fresh_database
from tests.processes import HeraldProcess, ServerProcess, create_key, herald_cli

T = TypeVar("T")
EDIT = "mutation($i: EditMessageInput!) { editMessage(input: $i) { version text } }"
READ = "query($id: ID!) { message(id: $id) { version text status } }"


@pytest.fixture
def database(postgres_server: str) -> str:
    return fresh_database(postgres_server)


@pytest.fixture
def clients() -> Iterator[Callable[[str, str], Api]]:
    """Makes API clients and closes them all at the end."""
    made: list[Api] = []

    def client(url: str, key: str) -> Api:
        made.append(Api(url, key))
        return made[-1]

    yield client
    for api in made:
        api.close()


@pytest.fixture
def servers(database: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    started = [ServerProcess(database, tmp_path / f"server{i}.log") for i in range(2)]
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.stop()


def eventually(check: Callable[[], T | None], what: str, timeout: float = 15) -> T:
    """Wait for another process to make `check` true; the deadline only bounds a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result is not None:
            return result
        time.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def draft_through(api: Api, text: str) -> dict[str, Any]:
    made: dict[str, Any] = api.ok(DRAFT, {"input": {"conversationId": "c1", "text": text}})[
        "draftMessage"
    ]
    return made


def test_a_draft_made_through_one_server_is_read_through_the_other(
    database: str, servers: list[ServerProcess], clients: Callable[[str, str], Api]
) -> None:
    key = create_key(database, "acme")
    one, other = (clients(s.url, key) for s in servers)
    made = draft_through(one, "hello from one")
    assert one.ok(READ, {"id": made["id"]})["message"]["text"] == "hello from one"

    def seen() -> dict[str, Any] | None:
        found: dict[str, Any] | None = other.ok(READ, {"id": made["id"]})["message"]
        return found

    assert eventually(seen, "the other server reads the draft")["version"] == 1


def test_a_subscriber_on_one_server_receives_events_written_through_the_other(
    database: str, servers: list[ServerProcess], clients: Callable[[str, str], Api]
) -> None:
    key = create_key(database, "acme")
    writer = clients(servers[0].url, key)
    with connect(
        f"ws://127.0.0.1:{servers[1].port}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    ) as ws:
        ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription { messageEvents { type version messageId } }"
                    },
                }
            )
        )
        first = draft_through(writer, "one")  # the subscription may start after this one
        second = draft_through(writer, "two")
        writer.ok(
            "mutation($id: ID!) { approveMessage(input: {id: $id}) { version } }",
            {"id": second["id"]},
        )
        received: list[tuple[str, str, int]] = []
        deadline = time.monotonic() + 15
        while ("Sent", second["id"], 3) not in received and time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=15))
            assert message["type"] == "next", message
            event = message["payload"]["data"]["messageEvents"]
            received.append((event["type"], event["messageId"], event["version"]))
    tail = [e for e in received if e[1] == second["id"]]
    assert tail == [
        ("Drafted", second["id"], 1),
        ("Approved", second["id"], 2),
        ("Sent", second["id"], 3),
    ]
    assert len(received) == len(set(received)), "each event once"
    assert all(e[1] in (first["id"], second["id"]) for e in received)


def race(work: Callable[[int], T], n: int = 8) -> list[T]:
    barrier = threading.Barrier(n)

    def one(i: int) -> T:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_racing_edits_split_across_two_servers_have_one_winner_and_lose_nothing(
    database: str, servers: list[ServerProcess], clients: Callable[[str, str], Api]
) -> None:
    key = create_key(database, "acme")
    apis = [clients(s.url, key) for s in servers]
    pinned = draft_through(apis[0], "pinned")
    answers = race(
        lambda i: apis[i % 2].post(
            EDIT, {"i": {"id": pinned["id"], "text": f"pinned {i}", "expectedVersion": 1}}
        )
    )
    winners = [a for a in answers if "errors" not in a]
    losers = [a["errors"][0]["extensions"] for a in answers if "errors" in a]
    assert len(winners) == 1
    assert [e["code"] for e in losers] == ["CONFLICT"] * 7
    assert apis[1].ok(READ, {"id": pinned["id"]})["message"]["version"] == 2

    free = draft_through(apis[1], "free")
    texts = [f"free {i}" for i in range(8)]
    race(lambda i: apis[i % 2].ok(EDIT, {"i": {"id": free["id"], "text": texts[i]}}))
    history = apis[0].ok(
        "query($id: ID!) { message(id: $id) { version history { edges { node {"
        " ... on MessageEdited { text } } } } } }",
        {"id": free["id"]},
    )["message"]
    assert history["version"] == 9
    edited = sorted(e["node"]["text"] for e in history["history"]["edges"][1:])
    assert edited == sorted(texts)


def test_killing_the_projector_while_writes_continue_leaves_complete_consistent_views(
    database: str, tmp_path: Path, clients: Callable[[str, str], Api]
) -> None:
    key = create_key(database, "acme")
    projectors = [
        HeraldProcess(database, tmp_path / f"project{i}.log", "project") for i in range(2)
    ]
    server = ServerProcess(database, tmp_path / "server.log", "--no-projections")
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    killed = threading.Event()
    try:
        server.wait_ready()
        api = clients(server.url, key)

        def writer(n: int) -> None:
            client = clients(server.url, key)
            for i in range(25):
                made = draft_through(client, f"w{n} m{i}")
                edited = client.ok(EDIT, {"i": {"id": made["id"], "text": f"w{n} m{i} edited"}})
                with lock:
                    acknowledged[made["id"]] = edited["editMessage"]["version"]
                    if len(acknowledged) == 20 and not killed.is_set():
                        killed.set()
                        projectors[0].kill()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(writer, range(4)))
        assert killed.is_set()
        for mid, version in acknowledged.items():
            assert api.ok(READ, {"id": mid})["message"]["version"] == version
    finally:
        server.stop()
        for projector in projectors:
            projector.stop()
    assert len(acknowledged) == 100
    verified = herald_cli(database, "projections", "verify")
    record(
        "exactly-once projections",
        "postgres",
        projector_kills=1,
        writes_checked=sum(acknowledged.values()),
        projections_verified=int(verified.returncode == 0),
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
