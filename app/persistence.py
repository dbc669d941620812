"""eventsourcing's persistence, with what Herald adds to the transaction that records events.

A save hands extra work to the recorder through its keyword arguments, as the library's own
examples pass rows to `_insert_events`: the content keys the events give life to or end
(`SealedEventStore`), and, on SQLite, the views' projection of the new events. Both commit with
the events or not at all, so a kill -9 leaves the events and their keys and views together."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Notification, Recording, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)

from app.database import Cursor
from app.secrecy import KeyChanges, KeyStore, SealingMapper
from app.settings import BLOCKING_THREADS

InTransaction = Callable[[Cursor], None]
# Save keyword arguments: the key to seal each message's events with, and (SQLite) what to run
# in the same transaction after the events are inserted.
KEYS = "keys"
AFTER_EVENTS = "after_events"
_BEFORE_EVENTS = "before_events"
# Threads beside the blocking ones that take connections: the event loop, the projector, the
# watcher, a command line's own.
_OTHER_THREADS = 4
_PAGE_CACHE_KIB = 1024


class SealedEventStore(EventStore[UUID]):
    """Seals each event with its message's key and hands the recorder the key changes the
    events make. `owns_keys` is False for the snapshot store: snapshots never make or end one."""

    def __init__(self, mapper: SealingMapper, recorder: Any, keys: KeyStore | None) -> None:
        super().__init__(mapper, recorder)
        self.sealing = mapper
        self.key_store = keys

    def put(
        self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any
    ) -> list[Recording[UUID]]:
        keys: Mapping[UUID, bytes | None] = kwargs.pop(KEYS, None) or {}
        stored = [self.sealing.sealed(e, keys.get(e.originator_id)) for e in domain_events]
        if self.key_store is not None:
            changes, store = KeyChanges.of(domain_events, keys), self.key_store
            kwargs[_BEFORE_EVENTS] = lambda c: store.apply(c, changes)
        ids = self.recorder.insert_events(stored, **kwargs)
        return [
            Recording(d, _notification(s, n))
            for d, s, n in zip(domain_events, stored, ids or [], strict=False)
        ]


def _notification(stored: StoredEvent, notification_id: int) -> Notification:
    return Notification(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
        id=notification_id,
    )


class ErasingConnectionPool(SQLiteConnectionPool):
    """Connections that overwrite deleted content, so a destroyed key leaves no bytes behind."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The connection returned last is given first: its page cache is the warm one. The
        # library's queue hands them out in turn, each with a cache as cold as the pool is long.
        self._pool = _LastInFirstOut(self._pool)

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        # WAL with FULL sync makes every acknowledged commit survive power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        # The pool keeps a connection for each thread, each with its own page cache (2 MB by
        # default, filled by the large contents it reads); the OS caches the file for them all.
        cursor.execute(f"PRAGMA cache_size=-{_PAGE_CACHE_KIB}")
        return connection


class _LastInFirstOut(deque[SQLiteConnection]):
    def popleft(self) -> SQLiteConnection:
        return self.pop()


def _run(step: InTransaction | None, c: Cursor) -> None:
    if step is not None:
        step(c)


class SQLiteRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        _run(kwargs.get(_BEFORE_EVENTS), c)
        ids = super()._insert_events(c, stored_events, **kwargs)
        if stored_events:
            _run(kwargs.get(AFTER_EVENTS), c)
        return ids


class PostgresRecorder(PostgresApplicationRecorder):
    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        _run(kwargs.get(_BEFORE_EVENTS), curs)
        super()._insert_events(curs, stored_events, **kwargs)


class HeraldPostgresFactory(PostgresFactory):
    application_recorder_class = PostgresRecorder


class HeraldSQLiteFactory(SQLiteFactory):
    application_recorder_class = SQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        plain = self.datastore.pool
        # A connection the pool cannot keep is closed when returned, and a new one opened,
        # its pragmas set and the schema read again at its first statement: under load, most
        # of a one-row read. The pool keeps one for each thread that may hold one.
        self.datastore.pool = ErasingConnectionPool(
            db_name=plain.db_name,
            lock_timeout=plain.lock_timeout,
            pool_size=BLOCKING_THREADS + _OTHER_THREADS,
            max_overflow=_OTHER_THREADS,
        )
        plain.close()
