"""`herald serve` with several worker processes, as it runs by default: whichever worker a
connection lands on, a client reads its own writes, hears every subscription event, is refused
at once after a revocation, and concurrent writes all land. Each step opens new connections, so
that the kernel spreads them over the workers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.settings import Settings
from tests.processes import ServerProcess, create_key, herald_cli
from tests.ws import init, receive

WORKERS = 2
DRAFT = 'mutation($t: String!) { draftMessage(input: {conversationId: "w", text: $t}) { id } }'
READ = "query($id: ID!) { message(id: $id) { id text version } }"


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    key = create_key(settings.database_url, "acme")
    server = ServerProcess(settings.database_url, tmp_path / "server.log", "--workers", "2")
    try:
        server.wait_ready()
        assert_workers_up(settings)
        yield server, key
    finally:
        server.stop()


def assert_workers_up(settings: Settings) -> None:
    """Each worker says it is up in herald_servers (app/presence.py): two rows, two pids."""
    sql = "SELECT pid FROM herald_servers"
    deadline = time.monotonic() + 30
    pids: set[int] = set()
    while time.monotonic() < deadline:
        if settings.is_postgres:
            with psycopg.connect(settings.database_url) as conn:
                pids = {int(r[0]) for r in conn.execute(sql).fetchall()}
        else:
            import sqlite3

            connection = sqlite3.connect(settings.sqlite_path(), timeout=30)
            try:
                pids = {int(r[0]) for r in connection.execute(sql).fetchall()}
            finally:
                connection.close()
        if len(pids) == WORKERS:
            return
        threading.Event().wait(0.1)  # polling workers that are starting
    raise AssertionError(f"workers up: {pids}")


def once(server: ServerProcess, key: str, query: str, variables: dict[str, Any]) -> Any:
    """One request on a connection of its own."""
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    return response.json()


def test_a_write_is_read_back_on_whichever_worker_the_next_connection_reaches(
    served: tuple[ServerProcess, str],
) -> None:
    server, key = served
    for i in range(40):
        wrote = once(server, key, DRAFT, {"t": f"note {i}"})["data"]["draftMessage"]
        read = once(server, key, READ, {"id": wrote["id"]})["data"]["message"]
        assert read == {"id": wrote["id"], "text": f"note {i}", "version": 1}


def test_subscribers_on_every_worker_hear_writes_made_through_every_worker(
    served: tuple[ServerProcess, str],
) -> None:
    server, key = served
    with contextlib.ExitStack() as stack:
        sockets: list[ClientConnection] = []
        for n in range(4):
            ws = stack.enter_context(
                connect(
                    f"ws://127.0.0.1:{server.port}/graphql",
                    subprotocols=[Subprotocol("graphql-transport-ws")],
                )
            )
            sockets.append(ws)
            init(ws, key)
            query = "subscription { messageEvents { messageId type } }"
            ws.send(json.dumps({"id": f"s{n}", "type": "subscribe", "payload": {"query": query}}))
        heard: list[list[str]] = [[] for _ in sockets]
        # Subscriptions start from now: write until every one of them has heard something.
        for _ in range(30):
            once(server, key, DRAFT, {"t": "prime"})
            for ws, got in zip(sockets, heard, strict=True):
                if not got:
                    with contextlib.suppress(TimeoutError):
                        got.append(event_of(receive(ws, wait=1.0)))
            if all(heard):
                break
        assert all(heard), "a subscription never started"
        later = [
            once(server, key, DRAFT, {"t": f"later {i}"})["data"]["draftMessage"]["id"]
            for i in range(20)
        ]
        for ws, got in zip(sockets, heard, strict=True):
            while got[-1] != later[-1]:
                got.append(event_of(receive(ws)))
            assert got[-20:] == later  # every write, once, in order


def event_of(message: dict[str, Any]) -> str:
    mid: str = message["payload"]["data"]["messageEvents"]["messageId"]
    return mid


def test_a_revoked_key_is_refused_by_every_worker_at_once(
    settings: Settings, served: tuple[ServerProcess, str]
) -> None:
    server, _ = served
    key = create_key(settings.database_url, "acme")
    for _ in range(10):
        assert once(server, key, READ, {"id": "x"})["data"] == {"message": None}
    revoked = herald_cli(
        settings.database_url, "keys", "revoke", "--workspace", "acme", "--key", key
    )
    assert revoked.returncode == 0, revoked.stderr
    for _ in range(10):
        answer = once(server, key, READ, {"id": "x"})
        assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", answer


def test_concurrent_drafts_through_every_worker_all_land_once(
    settings: Settings, served: tuple[ServerProcess, str]
) -> None:
    server, key = served
    count = 24
    barrier = threading.Barrier(count, timeout=30)
    ids: list[str | None] = [None] * count

    def write(i: int) -> None:
        with httpx.Client(timeout=60) as client:
            client.post(f"{server.url}/graphql", json={"query": "{ __typename }"})
            barrier.wait()
            answer = client.post(
                f"{server.url}/graphql",
                json={"query": DRAFT, "variables": {"t": f"together {i}"}},
                headers={"Authorization": f"Bearer {key}"},
            ).json()
        ids[i] = answer["data"]["draftMessage"]["id"]

    threads = [threading.Thread(target=write, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert None not in ids
    assert len(set(ids)) == count
    for i, mid in enumerate(ids):
        assert once(server, key, READ, {"id": mid})["data"]["message"]["text"] == f"together {i}"
    verified = herald_cli(settings.database_url, "projections", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_each_worker_spends_its_share_of_a_keys_rate(served: tuple[ServerProcess, str]) -> None:
    """The defaults, 10 000 points a second and bursts of 20 000 a key, divided between the two
    workers, as every answer's cost report shows, whichever worker gives it."""
    server, key = served
    for _ in range(10):
        throttle = once(server, key, READ, {"id": "x"})["extensions"]["cost"]["throttleStatus"]
        assert (throttle["maximumAvailable"], throttle["restoreRate"]) == (10_000, 5_000.0)


def test_a_worker_never_allows_a_burst_below_one_operations_budget() -> None:
    alone = Settings(rate_limit=100.0, rate_burst=12_000, max_cost=10_000)
    assert Settings.shared_by(1, alone) == alone
    shared = Settings.shared_by(4, alone)
    assert (shared.rate_limit, shared.rate_burst, shared.max_cost) == (25.0, 10_000, 10_000)
    assert shared.max_connections_per_key == 5
