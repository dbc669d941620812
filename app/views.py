"""Read models: one row per message and one per event, kept beside the event store; queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Transcoder

from app.database import Cursor, Database
from app.domain import Message
from app.secrecy import KeyStore, unseal
from app.store import Event, MessageStore

TABLES = (
    "CREATE TABLE IF NOT EXISTS view_messages (id TEXT PRIMARY KEY, workspace TEXT NOT NULL, "
    "conversation_id TEXT NOT NULL, status TEXT NOT NULL, seq BIGINT NOT NULL, "
    "version INTEGER NOT NULL, state TEXT NOT NULL, content TEXT)",
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
)
_VIEW_TABLES = ("view_messages", "view_events")
_INDEXES = [s.split()[5] for s in TABLES if s.startswith("CREATE INDEX")]


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[int, T]]  # (cursor position, item)
    has_next: bool


class StateCodec:
    """A message's state as a row: the aggregate's own attributes, content kept sealed apart."""

    def __init__(self, transcoder: Transcoder) -> None:
        self.transcoder = transcoder

    def encode(self, msg: Message) -> tuple[str, Any]:
        state = dict(vars(msg))
        for private in ("_pending_events", "content"):
            state.pop(private, None)
        return self.transcoder.encode(state).decode(), msg.content

    def decode(self, state: str, content: Any) -> Message:
        attributes = self.transcoder.decode(state.encode())
        attributes["_pending_events"] = []
        attributes["content"] = content
        msg = object.__new__(Message)
        object.__setattr__(msg, "__dict__", attributes)
        return msg


class Views:
    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.db: Database = store.db
        self.keys: KeyStore = store.keys
        self.codec = StateCodec(store.mapper.transcoder)
        # A view row points at its stored event by the notification id both share.
        self.events_table: str = store.recorder.events_table_name  # type: ignore[attr-defined]
        position = "rowid" if self.db.dialect == "sqlite" else "notification_id"
        self.event_join = f"s.{position} = e.notification_id"
        with self.db.transaction(commit=True) as c:
            for statement in TABLES:
                c.execute(statement)

    def clear(self, c: Cursor, *, unindexed: bool = False) -> None:
        """Empty the views. `unindexed` also drops their secondary indexes, so that a replay
        appends rows without updating five B-trees at random places; `index` builds them again,
        as does the start of any process that finds them missing."""
        for table in _VIEW_TABLES:
            c.execute(f"DELETE FROM {table}")
        if unindexed:
            for name in _INDEXES:
                c.execute(f"DROP INDEX IF EXISTS {name}")

    def index(self, c: Cursor) -> None:
        for statement in TABLES:
            if statement.startswith("CREATE INDEX"):
                c.execute(statement)

    # Reading: one indexed look-up or range scan each, whatever the size of the store.

    def message(self, workspace: str, raw_id: str) -> Message | None:
        row = self.db.read_one(
            "SELECT m.state, m.content, k.key FROM view_messages m "
            "LEFT JOIN herald_content_keys k ON k.message_id = m.id "
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
        with self.db.transaction(commit=False) as c:
            c.execute(
                self.db.sql(
                    "SELECT m.seq, m.state, m.content, k.key FROM view_messages m "
                    "LEFT JOIN herald_content_keys k ON k.message_id = m.id "
                    f"WHERE {' AND '.join(where)} ORDER BY m.seq DESC LIMIT ?"
                ),
                (*params, first + 1),
            )
            rows = c.fetchall()
        items = [(int(r[0]), self._message(r[1:])) for r in rows[:first]]
        return Page(items, len(rows) > first)

    def events(
        self,
        workspace: str,
        conversation_id: str | None,
        message_id: str | None,
        first: int,
        after: int,
    ) -> Page[tuple[str, Event]]:
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
        with self.db.transaction(commit=False) as c:
            c.execute(
                self.db.sql(
                    "SELECT e.notification_id, e.conversation_id, s.originator_id, "
                    "s.originator_version, s.topic, s.state, k.key "
                    f"FROM view_events e JOIN {self.events_table} s ON {self.event_join} "
                    "LEFT JOIN herald_content_keys k ON k.message_id = e.message_id "
                    f"WHERE {' AND '.join(where)} ORDER BY e.notification_id LIMIT ?"
                ),
                (*params, first + 1),
            )
            rows = c.fetchall()
        items = [(int(r[0]), (str(r[1]), self._event(r[2:]))) for r in rows[:first]]
        return Page(items, len(rows) > first)

    def _event(self, row: Any) -> Event:
        stored = StoredEvent(_uuid(row[0]), row[1], row[2], bytes(row[3]))
        key = None if row[4] is None else bytes(row[4])
        return self.store.sealing.opened(stored, lambda _: key)

    def _message(self, row: Any) -> Message:
        state, sealed, key = row[0], row[1], row[2]
        msg = self.codec.decode(state, None)
        if sealed is not None:
            msg.content = unseal(None if key is None else bytes(key), msg.id, sealed)
        return msg


def _hex(raw_id: str) -> str:
    try:
        return UUID(raw_id).hex
    except (ValueError, AttributeError, TypeError):
        return ""


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
