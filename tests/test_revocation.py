"""`herald keys revoke` takes effect at once: for the next request and for open subscriptions."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import LiveServer, draft
from tests.processes import herald_cli

WAIT = 15.0
READ = "{ messages { edges { node { id } } } }"


def test_a_revoked_key_is_refused_at_its_next_request_and_others_keep_working(
    server: LiveServer,
) -> None:
    doomed = server.client("acme", "doomed")
    kept = server.client("acme", "kept")
    try:
        draft(doomed, "before the revocation")
        done = herald_cli(
            server.herald.settings.database_url,
            "keys",
            "revoke",
            "--workspace",
            "acme",
            "--name",
            "doomed",
        )
        assert done.returncode == 0, done.stderr
        assert "revoked 1 key" in done.stdout
        assert doomed.error(READ)["code"] == "UNAUTHENTICATED"
        assert len(kept.ok(READ)["messages"]["edges"]) == 1
        again = herald_cli(
            server.herald.settings.database_url,
            "keys",
            "revoke",
            "--workspace",
            "acme",
            "--name",
            "doomed",
        )
        assert again.returncode == 1, "nothing left to revoke"
    finally:
        doomed.close()
        kept.close()


def test_revoking_a_key_ends_its_open_subscription(server: LiveServer) -> None:
    watcher = server.client("acme", "watcher")
    writer = server.client("acme", "writer")
    try:
        with connect(
            f"ws://127.0.0.1:{server.port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        ) as ws:
            ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {watcher.key}"},
                    }
                )
            )
            assert json.loads(ws.recv(timeout=WAIT))["type"] == "connection_ack"
            ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": "subscription { messageEvents { type messageId } }"},
                    }
                )
            )
            first = draft(writer, "seen while the key is good")
            assert receive(ws)["payload"]["data"]["messageEvents"]["messageId"] == first["id"]

            assert server.herald.workspaces.revoke("acme", key=watcher.key) == 1
            draft(writer, "written after the revocation")
            ending = receive(ws)
            assert ending["type"] == "next", ending
            assert ending["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert receive(ws) == {"id": "1", "type": "complete"}
    finally:
        watcher.close()
        writer.close()


def receive(ws: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        if message["type"] != "ping":
            return message
