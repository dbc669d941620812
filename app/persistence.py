"""eventsourcing's SQLite persistence, with every connection set up for durability and erasure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)

from app.secrecy import write_keys

# Application.save(..., content_keys={message id: key}) hands new messages' keys to the recorder.
CONTENT_KEYS = "content_keys"


class ErasingConnectionPool(SQLiteConnectionPool):
    """Connections that overwrite deleted content, so a destroyed key leaves no bytes behind."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        # WAL with FULL sync makes every acknowledged commit survive power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        return connection


class SQLiteRecorder(SQLiteApplicationRecorder):
    # Runs in each transaction that records events, after them (the views' projection).
    within_insert: Callable[[SQLiteCursor], None] | None = None

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        write_keys(c, kwargs.get(CONTENT_KEYS) or {}, stored_events, postgres=False)
        ids = super()._insert_events(c, stored_events, **kwargs)
        if self.within_insert is not None and stored_events:
            self.within_insert(c)
        return ids


class PostgresRecorder(PostgresApplicationRecorder):
    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        write_keys(curs, kwargs.get(CONTENT_KEYS) or {}, stored_events, postgres=True)
        super()._insert_events(curs, stored_events, **kwargs)


class HeraldPostgresFactory(PostgresFactory):
    application_recorder_class = PostgresRecorder


class HeraldSQLiteFactory(SQLiteFactory):
    application_recorder_class = SQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        plain = self.datastore.pool
        self.datastore.pool = ErasingConnectionPool(
            db_name=plain.db_name, lock_timeout=plain.lock_timeout
        )
        plain.close()
