"""One small seam over the event store's own datastore, so views and keys share its transactions."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.sqlite import SQLiteCursor, SQLiteTransaction
from psycopg.rows import tuple_row

# A point read touches a few pages: an index's path and its row.
READER_CACHE_KIB = 256


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
        # One-statement reads on SQLite go through a connection of the reading thread's own.
        self._readers = threading.local()
        # Each thread's reader, closed with the thread (the local forgets it) or with this.
        self._opened: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        self._own_readers = False
        if self.dialect == "sqlite":
            self.sqlite_path = str(datastore.pool.db_name)
            self._own_readers = not datastore.pool.is_sqlite_memory_mode

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
        """The first row of one SELECT. On SQLite it runs on a connection of the calling
        thread's own, outside the pool: the pool queues every taker behind a writer waiting for
        SQLite's write lock, which another process may hold for long, and a read on the event
        loop must not wait with it (in WAL a read waits for no writer). A lone statement is a
        transaction of its own, so it goes without a BEGIN and ROLLBACK."""
        if self.dialect != "sqlite":
            with self.transaction(commit=False) as c:
                c.execute(self.sql(statement), params)
                return c.fetchone()
        if not self._own_readers:  # in memory, another connection would be another database
            with self.datastore.get_connection(commit=False) as connection:
                cursor = connection.cursor()
                cursor.execute(statement, params)
                return cursor.fetchone()
        return self._reader().execute(statement, params).fetchone()

    def _reader(self) -> sqlite3.Connection:
        reader: _Reader | None = getattr(self._readers, "reader", None)
        if reader is None:
            assert self.sqlite_path is not None
            reader = _Reader(self.sqlite_path)
            with self._opened_lock:
                self._opened.add(reader)
            self._readers.reader = reader
        return reader.connection

    def close(self) -> None:
        """Closes the readers' connections; the datastore closes its own."""
        with self._opened_lock:
            opened = list(self._opened)
        for reader in opened:
            reader.connection.close()

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgres" else statement


class _Reader:
    """A thread's connection for one-statement reads, closed when the thread is gone."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(
            path, uri=True, check_same_thread=False, isolation_level=None, timeout=30
        )
        self.connection.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")

    def __del__(self) -> None:
        self.connection.close()


class _Immediate(SQLiteTransaction):
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor
