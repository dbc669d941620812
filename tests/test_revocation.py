"""`herald keys revoke` takes effect at once: for the next request and for open subscriptions."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import LiveServer, draft
from tests.figures import backend_of, record
from tests.processes import herald_cli
from tests.ws import WAIT, init, receive, run_over

READ = "{ messages { edges { node { id } } } }"
WRITE = 'mutation { draftMessage(input: {conversationId: "c", text: "no"}) { id } }'
SUBSCRIBE = "subscription { messageEvents { type messageId } }"


def test_a_revoked_key_is_refused_at_its_next_request_and_others_keep_working(
    server: LiveServer,
) -> None:
    doomed = server.client("acme", "doomed")
    kept = server.client("acme", "kept")
    try:
        draft(doomed, "before the revocation")
        assert "revoked 1 key" in revoke_by_cli(server, "doomed").stdout
        assert doomed.error(READ)["code"] == "UNAUTHENTICATED"
        assert doomed.error(WRITE)["code"] == "UNAUTHENTICATED"
        assert len(kept.ok(READ)["messages"]["edges"]) == 1
        record(
            "revocation",
            backend_of(server.herald.settings.database_url),
            keys_revoked=1,
            requests_refused_after=2,
        )
        again = revoke_by_cli(server, "doomed", expect=1)
        assert again.returncode == 1, "nothing left to revoke"
    finally:
        doomed.close()
        kept.close()


def test_a_key_just_read_from_memory_is_refused_once_another_process_revokes_it(
    server: LiveServer,
) -> None:
    doomed = server.client("acme", "doomed")
    try:
        for _ in range(3):  # reads only: nothing committed, so the key is answered from memory
            assert doomed.ok(READ)["messages"]["edges"] == []
        revoke_by_cli(server, "doomed")
        assert doomed.error(READ)["code"] == "UNAUTHENTICATED"
    finally:
        doomed.close()


def test_revoking_a_key_ends_its_open_subscription(server: LiveServer) -> None:
    watcher = server.client("acme", "watcher")
    writer = server.client("acme", "writer")
    try:
        with connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws:
            subscribe(ws, str(watcher.key), "graphql-transport-ws")
            first = draft(writer, "seen while the key is good")
            assert receive(ws)["payload"]["data"]["messageEvents"]["messageId"] == first["id"]

            assert server.herald.workspaces.revoke("acme", key=watcher.key) == 1
            draft(writer, "written after the revocation")
            ending = receive(ws)
            assert ending["type"] == "next", ending
            assert ending["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert receive(ws) == {"id": "1", "type": "complete"}
        record(
            "revocation",
            backend_of(server.herald.settings.database_url),
            keys_revoked=1,
            subscriptions_ended=1,
        )
    finally:
        watcher.close()
        writer.close()


def revoke_by_cli(
    server: LiveServer, name: str, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    """`herald keys revoke` of acme's keys called `name`, from a process of its own."""
    done = herald_cli(
        server.herald.settings.database_url, "keys", "revoke", "--workspace", "acme", "--name", name
    )
    assert done.returncode == expect, done.stderr
    return done


def subscribe(ws: Any, key: str, protocol: str) -> None:
    """Open the connection with `key` and subscribe to every event of its workspace as "1"."""
    init(ws, key)
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": SUBSCRIBE}}))


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_keys_revoke_ends_an_idle_subscription_without_waiting_for_an_event(
    server: LiveServer, protocol: str
) -> None:
    """`herald keys revoke`, another process, which the server hears of only through the
    database: a subscription with nothing to stream ends by itself, and what is written after
    the revocation never reaches it."""
    watcher = server.client("acme", "idle-watcher")
    writer = server.client("acme", "writer")
    assert watcher.key is not None
    try:
        with connect(
            f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol(protocol)]
        ) as ws:
            subscribe(ws, watcher.key, protocol)
            live(ws, lambda: str(draft(writer, "seen while the key is good")["id"]))

            revoke_by_cli(server, "idle-watcher")

            ending = receive(ws)  # nothing was written since: the revocation alone ends it
            assert ending["id"] == "1", ending
            error = ending["payload"]["errors"][0]
            assert error["extensions"]["code"] == "UNAUTHENTICATED", ending
            assert ending["payload"].get("data") is None, ending
            draft(writer, "written after the revocation")
            assert receive(ws) == {"id": "1", "type": "complete"}  # the event never comes
        record(
            "revocation",
            backend_of(server.herald.settings.database_url),
            keys_revoked=1,
            subscriptions_ended=1,
        )
    finally:
        watcher.close()
        writer.close()


def live(ws: Any, write: Callable[[], str]) -> None:
    """Return once the subscription streams: write a message and wait for its event, again
    with a new one while none comes (one written before the subscription started never will)."""
    deadline = time.monotonic() + WAIT
    while True:
        written = write()
        try:
            while True:
                got = receive(ws, wait=min(1.0, deadline - time.monotonic()))
                assert got["type"] in ("next", "data"), got
                if got["payload"]["data"]["messageEvents"]["messageId"] == written:
                    return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise


def test_a_revoked_key_can_do_nothing_more_over_a_websocket_it_opened_before(
    server: LiveServer,
) -> None:
    """A connection is authenticated when it opens, and each operation over it again: after
    `herald keys revoke`, a query, mutation or new subscription sent over the old connection
    is UNAUTHENTICATED, and the mutation records nothing. (graphql-transport-ws carries all
    three; the legacy graphql-ws only subscriptions, whose revocation the tests above cover.)"""
    holder = server.client("acme", "holder")
    reader = server.client("acme", "reader")
    assert holder.key is not None
    try:
        with connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws:
            init(ws, holder.key)
            assert "errors" not in run_over(ws, "before", WRITE), (
                "the key works before it is revoked"
            )
            revoke_by_cli(server, "holder")
            before = reader.ok(READ)["messages"]["edges"]
            for operation_id, query in (("write", WRITE), ("read", READ), ("watch", SUBSCRIBE)):
                answer = run_over(ws, operation_id, query)
                assert answer.get("data") is None, answer
                codes = [e["extensions"]["code"] for e in answer["errors"]]
                assert codes == ["UNAUTHENTICATED"], answer
            assert reader.ok(READ)["messages"]["edges"] == before, "the refused write is absent"
        record(
            "revocation",
            backend_of(server.herald.settings.database_url),
            keys_revoked=1,
            websocket_operations_refused=3,
        )
    finally:
        holder.close()
        reader.close()
