"""Changes a database written by an earlier release needs, made once, at start, in one
transaction each: a kill -9 leaves a migration done or not begun, and the next start does it.

`sealed-personal-fields`: releases before it sealed only a message's content. Every other
personal value (app/personal.py) stored in clear is sealed now with its message's key, or erased
when the message was redacted; a key that outlived its message's redaction (a fault of that
release) is destroyed; snapshots, which are only a cache, are dropped; and the views, whose rows
changed shape, are emptied to be projected again by the catch-up that follows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from app.database import Cursor
from app.domain import Redacted
from app.personal import transform
from app.projection import Projection
from app.secrecy import KeyChanges, is_sealed, seal_state
from app.store import MessageStore

log = logging.getLogger(__name__)
_TABLE = "herald_migrations"
_BATCH = 1_000
_TRIES = 5


def migrate(store: MessageStore) -> None:
    db = store.db
    with db.transaction(commit=True) as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (name TEXT PRIMARY KEY)")
    for name, step in _MIGRATIONS:
        for attempt in range(_TRIES):
            try:
                with db.transaction(commit=True) as c:
                    c.execute(db.sql(f"SELECT 1 FROM {_TABLE} WHERE name = ?"), (name,))
                    if c.fetchone() is not None:
                        break
                    log.info("migrating the database: %s", name)
                    step(store, c)
                    c.execute(db.sql(f"INSERT INTO {_TABLE} (name) VALUES (?)"), (name,))
                store.keys.flush()
                break
            except Exception:
                # Another process starting on the same SQLite file may have written meanwhile;
                # the migration is all or nothing, so it is simply tried again.
                if attempt == _TRIES - 1:
                    raise
                log.info("migration %s: trying again", name, exc_info=True)


def _seal_personal_fields(store: MessageStore, c: Cursor) -> None:
    db = store.db
    events = store.recorder.events_table_name  # type: ignore[attr-defined]
    position = "rowid" if db.dialect == "sqlite" else "notification_id"
    # A key must not outlive its message's Redacted event.
    c.execute(
        db.sql(f"SELECT DISTINCT originator_id FROM {events} WHERE topic = ?"),
        (get_topic(Redacted),),
    )
    redacted = frozenset(_uuid(r[0]) for r in c.fetchall())
    store.keys.apply(c, KeyChanges(ended=redacted))
    transcoder = store.sealing.transcoder
    keys: dict[UUID, bytes | None] = {}
    after = 0
    while True:
        c.execute(
            db.sql(
                f"SELECT {position}, originator_id, originator_version, state FROM {events} "
                f"WHERE {position} > ? ORDER BY {position} LIMIT ?"
            ),
            (after, _BATCH),
        )
        rows = c.fetchall()
        if not rows:
            break
        after = int(rows[-1][0])
        for _, raw_id, version, state in rows:
            message_id = _uuid(raw_id)
            decoded: dict[str, Any] = transcoder.decode(bytes(state))
            if not _has_clear_values(decoded):
                continue
            if message_id not in keys:
                keys[message_id] = store.keys.read_within(c, message_id)
            sealed = seal_state(decoded, keys[message_id], message_id, erasing=True)
            c.execute(
                db.sql(
                    f"UPDATE {events} SET state = ? "
                    "WHERE originator_id = ? AND originator_version = ?"
                ),
                (transcoder.encode(sealed), raw_id, version),
            )
    if store.snapshots is not None:
        c.execute(f"DELETE FROM {store.snapshots.recorder.events_table_name}")  # type: ignore[attr-defined]
    c.execute("DROP TABLE IF EXISTS view_messages")
    c.execute("DROP TABLE IF EXISTS view_events")
    c.execute(
        db.sql(f"DELETE FROM {store.tracking_table} WHERE application_name = ?"), (Projection.name,)
    )


def _has_clear_values(state: dict[str, Any]) -> bool:
    found: list[bool] = []
    transform(state, lambda value: found.append(not is_sealed(value)))
    return any(found)


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


_MIGRATIONS: list[tuple[str, Callable[[MessageStore, Cursor], None]]] = [
    ("sealed-personal-fields", _seal_personal_fields),
]
