"""One small seam over the event store's own datastore, so views and keys share its transactions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.sqlite import SQLiteCursor, SQLiteTransaction
from psycopg.rows import tuple_row


class Cursor(Protocol):
    def execute(self, statement: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, statement: str, params: Sequence[Sequence[Any]]) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Any: ...


class Database:
    """Runs SQL written with `?` placeholders on the datastore eventsourcing already opened."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.dialect = "postgres" if "postgres" in type(datastore).__module__ else "sqlite"

        self.blob = "BYTEA" if self.dialect == "postgres" else "BLOB"
        self.sqlite_path: str | None = None
        if self.dialect == "sqlite":
            self.sqlite_path = str(datastore.pool.db_name)

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Cursor]:
        """A transaction on the datastore's connections. On SQLite one that commits takes the
        write lock first (BEGIN IMMEDIATE): a deferred one that read before it wrote would fail
        at once (SQLITE_BUSY_SNAPSHOT) had another process written between its first read and its
        first write, and which transactions read first is not worth remembering at each call."""
        if self.dialect == "sqlite" and commit:
            with (
                self.datastore.get_connection(commit=True) as conn,
                _Immediate(conn, commit=True) as cursor,
                cursor,
            ):
                yield cursor
            return
        with self.datastore.transaction(commit=commit) as cursor:
            if self.dialect == "postgres":
                # Rows by position on both dialects; eventsourcing sets dict rows on PostgreSQL.
                cursor.row_factory = tuple_row
            yield cursor

    def read_one(self, statement: str, params: Sequence[Any]) -> Any:
        """The first row of one SELECT. On SQLite a lone statement is a transaction of its own,
        so it goes without the BEGIN and ROLLBACK a `transaction` adds around it."""
        if self.dialect != "sqlite":
            with self.transaction(commit=False) as c:
                c.execute(self.sql(statement), params)
                return c.fetchone()
        with self.datastore.get_connection(commit=False) as connection:
            cursor = connection.cursor()
            cursor.execute(statement, params)
            return cursor.fetchone()

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgres" else statement


class _Immediate(SQLiteTransaction):
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor
