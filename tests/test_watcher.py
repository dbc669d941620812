"""The PostgreSQL watcher outlives its LISTEN connection: ended by the server, it is noticed,
the views are polled meanwhile, and a new connection listens again; what was written while it
was down is projected all the same."""

from __future__ import annotations

import os
import time

import psycopg
import pytest

from app.runtime import Herald
from app.settings import Settings
from app.watcher import APPLICATION_NAME
from app.workspaces import Principal
from bench.workload import draft_fields
from tests.postgres import fresh_database


@pytest.fixture
def database(postgres_server: str) -> str:
    return fresh_database(postgres_server)


def listen_backends(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            (f"{APPLICATION_NAME}-{os.getpid()}",),
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_the_watcher_recovers_its_ended_listen_connection_and_projects_what_came_meanwhile(
    database: str,
) -> None:
    settings = Settings(database_url=database)
    projector = Herald(settings)  # projects what any process writes, woken by LISTEN
    writer = Herald(settings, project=False)  # a server leaving the views to the projector
    try:
        projector.start()
        deadline = time.monotonic() + 15
        while not (projector.watcher.listening and listen_backends(database)):
            assert time.monotonic() < deadline, "the watcher never listened"
            time.sleep(0.01)
        [first] = listen_backends(database)

        with psycopg.connect(database, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        p = Principal(writer.workspaces.ensure("acme"), "bot")
        written = [
            writer.store.draft(p, None, **draft_fields("c", f"meanwhile {i}")) for i in range(3)
        ]
        last = writer.store.recorder.max_notification_id() or 0
        assert last == 3

        deadline = time.monotonic() + 15
        while projector.projection.position < last:
            assert time.monotonic() < deadline, "what was written meanwhile was never projected"
            time.sleep(0.01)
        for msg in written:
            assert projector.views.message(p.workspace, str(msg.id)) is not None
        while not (projector.watcher.listening and listen_backends(database)):
            assert time.monotonic() < deadline, "the watcher never listened again"
            time.sleep(0.01)
        assert projector.watcher.reconnects == 1
        [second] = listen_backends(database)
        assert second != first

        # Listening again: the next write wakes it as before.
        later = writer.store.draft(p, None, **draft_fields("c", "after"))
        assert projector.views.message(p.workspace, str(later.id)) is not None
    finally:
        writer.close()
        projector.close()
