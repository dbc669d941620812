"""Read models and all their SQL: one row per message (its state as a sealed snapshot), one per
event, and the contacts index; written by the projection in its catch-up's transaction, read by
queries with the message's key joined in the same statement."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from app.database import Cursor, Database
from app.domain import Message
from app.secrecy import KEYS_TABLE, SealingMapper

TABLES = (
    "CREATE TABLE IF NOT EXISTS view_messages (id TEXT PRIMARY KEY, workspace TEXT NOT NULL, "
    "conversation_id TEXT NOT NULL, status TEXT NOT NULL, seq BIGINT NOT NULL, "
    "version INTEGER NOT NULL, state TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS view_messages_by_seq ON view_messages (workspace, seq)",
    "CREATE INDEX IF NOT EXISTS view_messages_by_conversation "
    "ON view_messages (workspace, conversation_id, seq)",
    "CREATE INDEX IF NOT EXISTS view_messages_by_status ON view_messages (workspace, status, seq)",
    "CREATE TABLE IF NOT EXISTS view_events (notification_id BIGINT PRIMARY KEY, "
    "workspace TEXT NOT NULL, conversation_id TEXT NOT NULL, message_id TEXT NOT NULL, "
    "version INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS view_events_by_workspace "
    "ON view_events (workspace, notification_id)",
    "CREATE INDEX IF NOT EXISTS view_events_by_conversation "
    "ON view_events (workspace, conversation_id, notification_id)",
    "CREATE TABLE IF NOT EXISTS view_contacts (workspace TEXT NOT NULL, contact TEXT NOT NULL, "
    "message_id TEXT NOT NULL, PRIMARY KEY (workspace, contact, message_id))",
    "CREATE INDEX IF NOT EXISTS view_contacts_by_message ON view_contacts (message_id)",
)
VIEW_TABLES = ("view_messages", "view_events", "view_contacts")
_INDEXES = [s.split()[5] for s in TABLES if s.startswith("CREATE INDEX")]
# Kept through a rebuild: a message's contacts are replaced by its id, and without this index
# each replacement would read the whole table.
_KEPT = ("view_contacts_by_message",)
# Memory for sorting the keys of an index being built (KiB): a million rows sort in it at once.
_SORT_KIB = 128 * 1024
_SNAPSHOT_TOPIC = get_topic(Message.Snapshot)

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[int, T]]  # (cursor position, item)
    has_next: bool


@dataclass
class Rows:
    """What one batch of events changes in the views."""

    events: list[tuple[int, str, str, str, int]] = field(default_factory=list)
    # Each message touched, at its state after the batch, with the position of its draft.
    messages: dict[UUID, tuple[int, Message]] = field(default_factory=dict)
    # Messages whose contacts are replaced by these (none: the message is no longer indexed).
    contacts: dict[UUID, tuple[str, list[str]]] = field(default_factory=dict)
    # Messages whose first event is in this batch.
    drafted: set[UUID] = field(default_factory=set)


class Views:
    def __init__(
        self, db: Database, sealing: SealingMapper, events_table: str, *, indexed: bool = True
    ) -> None:
        self.db = db
        self.sealing = sealing
        # A view row points at its stored event by the notification id both share.
        self.events_table = events_table
        position = "rowid" if db.dialect == "sqlite" else "notification_id"
        self.event_join = f"s.{position} = e.notification_id"
        with db.transaction(commit=True) as c:
            for statement in TABLES:
                if indexed or not statement.startswith("CREATE INDEX"):
                    c.execute(statement)

    def clear(self, c: Cursor, *, unindexed: bool = False) -> None:
        """Empty the views. `unindexed` also drops their secondary indexes, so that a replay
        appends rows without updating B-trees at random places; `index` builds them again, as
        does the start of any process that finds them missing."""
        for table in VIEW_TABLES:
            c.execute(f"DELETE FROM {table}")
        if unindexed:
            for name in _INDEXES:
                if name not in _KEPT:
                    c.execute(f"DROP INDEX IF EXISTS {name}")

    def index(self, c: Cursor) -> None:
        if self.db.dialect != "sqlite":
            self._create_indexes(c)
            return
        # SQLite sorts an index's keys within the connection's page cache, which the pool keeps
        # small: a million rows sorted in 1 MiB would spill to disk many times over.
        c.execute("PRAGMA cache_size")
        kept = int(c.fetchone()[0])
        c.execute(f"PRAGMA cache_size=-{_SORT_KIB}")
        try:
            self._create_indexes(c)
        finally:
            c.execute(f"PRAGMA cache_size={kept}")

    @staticmethod
    def _create_indexes(c: Cursor) -> None:
        for statement in TABLES:
            if statement.startswith("CREATE INDEX"):
                c.execute(statement)

    # Writing, in the projection's transaction.

    def current(self, c: Cursor, message_id: UUID) -> Message:
        """A message as its row holds it, its personal values still sealed."""
        c.execute(
            self.db.sql("SELECT version, state FROM view_messages WHERE id = ?"),
            (message_id.hex,),
        )
        row = c.fetchone()
        assert row is not None, f"no view row for {message_id}; rebuild the views"
        return self._opened(message_id, row[0], row[1], None, sealed=True)

    def write(self, c: Cursor, rows: Rows) -> None:
        sql = self.db.sql
        c.executemany(
            sql(
                "INSERT INTO view_events (notification_id, workspace, conversation_id, "
                "message_id, version) VALUES (?, ?, ?, ?, ?)"
            ),
            rows.events,
        )
        c.executemany(
            sql(
                "INSERT INTO view_messages (id, workspace, conversation_id, status, seq, "
                "version, state) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
                "version = excluded.version, state = excluded.state"
            ),
            [
                (m.id.hex, m.workspace, m.conversation_id, m.status, seq, m.version, self._state(m))
                for seq, m in rows.messages.values()
            ],
        )
        for message_id, (workspace, contacts) in rows.contacts.items():
            if message_id not in rows.drafted:  # a new message is indexed under nobody yet
                c.execute(sql("DELETE FROM view_contacts WHERE message_id = ?"), (message_id.hex,))
            c.executemany(
                sql("INSERT INTO view_contacts (workspace, contact, message_id) VALUES (?, ?, ?)"),
                [(workspace, contact, message_id.hex) for contact in sorted(set(contacts))],
            )

    def _state(self, msg: Message) -> str:
        # Stamped with the message's own time, not the clock's, so a replay writes the same row.
        snapshot = dataclasses.replace(Message.Snapshot.take(msg), timestamp=msg.modified_on)
        return self.sealing.sealed(snapshot, None).state.decode()

    # Reading: one indexed look-up or range scan each, whatever the size of the store.

    def message(self, workspace: str, raw_id: str) -> Message | None:
        row = self.db.read_one(
            "SELECT m.id, m.version, m.state, k.key FROM view_messages m "
            f"LEFT JOIN {KEYS_TABLE} k ON k.message_id = m.id "
            "WHERE m.id = ? AND m.workspace = ?",
            (_hex(raw_id), workspace),
        )
        return None if row is None else self._message(row)

    def messages(
        self,
        workspace: str,
        conversation_id: str | None,
        statuses: list[str] | None,
        first: int,
        before: int | None,
    ) -> Page[Message]:
        where, params = ["m.workspace = ?"], list[object]([workspace])
        if conversation_id is not None:
            where.append("m.conversation_id = ?")
            params.append(conversation_id)
        if statuses:
            where.append(f"m.status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if before is not None:
            where.append("m.seq < ?")
            params.append(before)
        rows = self._all(
            "SELECT m.seq, m.id, m.version, m.state, k.key FROM view_messages m "
            f"LEFT JOIN {KEYS_TABLE} k ON k.message_id = m.id "
            f"WHERE {' AND '.join(where)} ORDER BY m.seq DESC LIMIT ?",
            (*params, first + 1),
        )
        items = [(int(r[0]), self._message(r[1:])) for r in rows[:first]]
        return Page(items, len(rows) > first)

    def events(
        self,
        workspace: str,
        conversation_id: str | None,
        message_id: str | None,
        first: int,
        after: int,
    ) -> Page[tuple[str, Any]]:
        where, params = (
            ["e.workspace = ?", "e.notification_id > ?"],
            list[object]([workspace, after]),
        )
        if conversation_id is not None:
            where.append("e.conversation_id = ?")
            params.append(conversation_id)
        if message_id is not None:
            where.append("e.message_id = ?")
            params.append(_hex(message_id))
        rows = self._all(
            "SELECT e.notification_id, e.conversation_id, s.originator_id, "
            "s.originator_version, s.topic, s.state, k.key "
            f"FROM view_events e JOIN {self.events_table} s ON {self.event_join} "
            f"LEFT JOIN {KEYS_TABLE} k ON k.message_id = e.message_id "
            f"WHERE {' AND '.join(where)} ORDER BY e.notification_id LIMIT ?",
            (*params, first + 1),
        )
        items = [(int(r[0]), (str(r[1]), self._event(r[2:]))) for r in rows[:first]]
        return Page(items, len(rows) > first)

    def contact_messages(
        self, workspace: str, contact: str, statuses: Iterable[str], first: int
    ) -> list[str]:
        """Ids of the messages in one of `statuses` that the contact is indexed under, oldest
        first."""
        wanted = sorted(statuses)
        marks = ", ".join("?" * len(wanted))
        rows = self._all(
            "SELECT c.message_id FROM view_contacts c JOIN view_messages m ON m.id = c.message_id "
            f"WHERE c.workspace = ? AND c.contact = ? AND m.status IN ({marks}) "
            "ORDER BY m.seq LIMIT ?",
            (workspace, contact, *wanted, first),
        )
        return [str(UUID(str(r[0]))) for r in rows]

    def _all(self, statement: str, params: tuple[object, ...]) -> list[Any]:
        with self.db.transaction(commit=False) as c:
            c.execute(self.db.sql(statement), params)
            return list(c.fetchall())

    def _event(self, row: Any) -> Any:
        stored = StoredEvent(_uuid(row[0]), row[1], row[2], bytes(row[3]))
        return self.sealing.opened(stored, None if row[4] is None else bytes(row[4]))

    def _message(self, row: Any) -> Message:
        key = None if row[3] is None else bytes(row[3])
        return self._opened(_uuid(row[0]), row[1], row[2], key, sealed=False)

    def _opened(
        self, message_id: UUID, version: int, state: str, key: bytes | None, *, sealed: bool
    ) -> Message:
        stored = StoredEvent(message_id, version, _SNAPSHOT_TOPIC, state.encode())
        snapshot = (
            self.sealing.to_domain_event(stored) if sealed else self.sealing.opened(stored, key)
        )
        msg = snapshot.mutate(None)  # type: ignore[attr-defined]
        assert isinstance(msg, Message)
        return msg


def _hex(raw_id: str) -> str:
    try:
        return UUID(raw_id).hex
    except (ValueError, AttributeError, TypeError):
        return ""


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
