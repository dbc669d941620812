"""The operator's read-only commands: they open only a database that exists and say which;
`herald status` tells positions, lag, each workspace's messages and events, and the servers
with their open subscriptions."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from websockets.sync.client import connect
from websockets.typing import Subprotocol

from app import status
from app.runtime import Herald
from app.settings import Settings
from tests.conftest import Api, LiveServer, draft
from tests.postgres import fresh_database
from tests.test_cli import herald_cli
from tests.ws import init

READ_ONLY = (("history", str(uuid.uuid4())), ("status",), ("projections", "verify"))


def test_read_only_commands_refuse_a_database_that_does_not_exist_and_create_nothing(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in READ_ONLY:
        # The default URL, sqlite:///data/herald.db, from a folder that has no data/.
        done = herald_cli("", *args, cwd=elsewhere)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"no Herald database: SQLite file {elsewhere}/data/herald.db" in done.stderr
        assert list(elsewhere.iterdir()) == []
    missing = tmp_path / "missing" / "herald.db"
    done = herald_cli(f"sqlite:///{missing}", "status")
    assert done.returncode == 2
    assert str(missing) in done.stderr
    assert not missing.parent.exists()


def test_read_only_commands_refuse_a_postgres_database_herald_never_set_up(
    postgres_server: str,
) -> None:
    absent = postgres_server.rsplit("/", 1)[0] + f"/nosuch_{uuid.uuid4().hex[:8]}"
    done = herald_cli(absent, "status")
    assert done.returncode == 2, done.stderr
    assert "no Herald database: PostgreSQL database nosuch_" in done.stderr
    empty = fresh_database(postgres_server)  # exists, but no Herald ever ran on it
    done = herald_cli(empty, "history", str(uuid.uuid4()))
    assert done.returncode == 2, done.stderr


def test_keys_revoke_names_a_workspace_that_does_not_exist(herald: Herald) -> None:
    settings = herald.settings
    herald.workspaces.create_key("acme", "acme-key")
    done = herald_cli(
        settings.database_url, "keys", "revoke", "--workspace", "nosuch", "--name", "acme-key"
    )
    assert done.returncode == 1
    assert "no workspace 'nosuch'" in done.stderr
    revoked = herald_cli(
        settings.database_url, "keys", "revoke", "--workspace", "acme", "--name", "acme-key"
    )
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked 1 key(s) of workspace 'acme'" in revoked.stdout


def test_status_tells_positions_workspaces_and_the_open_subscriptions_of_running_servers(
    settings: Settings, server: LiveServer, api: Api
) -> None:
    for text in ("one", "two"):
        made = draft(api, text)
    api.ok("mutation($id: ID!) { sendMessage(input: {id: $id}) { id } }", {"id": made["id"]})
    other = server.client("globex")
    draft(other, "theirs")
    other.close()
    with connect(
        f"ws://127.0.0.1:{server.port}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        init(ws, server.key("acme"))
        query = "subscription { messageEvents { type } }"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        deadline = time.monotonic() + 15
        while status.gather(server.herald)["open_subscriptions"] != 1:
            assert time.monotonic() < deadline, "the server never told its open subscription"
            time.sleep(0.05)
        done = herald_cli(settings.database_url, "status", "--json")
    assert done.returncode == 0, done.stderr
    assert f"database: {settings.describe()}" in done.stderr
    found = json.loads(done.stdout)
    assert found["events"] == 4
    consumers = {c["name"]: c for c in found["consumers"]}
    assert consumers["herald_views"] == {"name": "herald_views", "position": 4, "lag": 0}
    # The webhook outbox is a consumer too (with no endpoint it moves on once a second or so).
    assert set(consumers) <= {"herald_views", "herald_webhooks"}
    assert found["workspaces"] == [
        {"name": "acme", "messages": 2, "events": 3},
        {"name": "globex", "messages": 1, "events": 1},
    ]
    assert found["open_subscriptions"] == 1
    [up] = found["servers"]
    assert up["subscriptions"] == 1
    assert up["projecting"] is True
    shown = status.render(found)
    assert "open subscriptions: 1" in shown
    assert "  acme                            2 messages          3 events" in shown
