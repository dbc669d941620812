"""eventsourcing's SQLite persistence, with every connection set up for durability and erasure."""

from __future__ import annotations

from typing import Any

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory


class ErasingConnectionPool(SQLiteConnectionPool):
    """Connections that overwrite deleted content, so a destroyed key leaves no bytes behind."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        # WAL with FULL sync makes every acknowledged commit survive power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        return connection


class HeraldSQLiteFactory(SQLiteFactory):
    def __init__(self, env: Any) -> None:
        super().__init__(env)
        plain = self.datastore.pool
        self.datastore.pool = ErasingConnectionPool(
            db_name=plain.db_name, lock_timeout=plain.lock_timeout
        )
        plain.close()
