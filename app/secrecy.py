"""Crypto-shredding: each message's content is sealed with a key of its own, kept apart from the
events; destroying the key erases the content from every event, snapshot, view and backup."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from app.database import Cursor, Database

log = logging.getLogger(__name__)
SEALED = "sealed"
_FLUSH_TRIES = 5
_NONCE = 12


_UPSERT_KEY = (
    "INSERT INTO herald_content_keys (message_id, key) VALUES (?, ?) "
    "ON CONFLICT (message_id) DO UPDATE SET key = excluded.key"
)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Keys known to the current operation of this thread (see `scope`).
        self._scope = threading.local()
        with db.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS herald_content_keys "
                f"(message_id TEXT PRIMARY KEY, key {db.blob} NOT NULL)"
            )

    @contextlib.contextmanager
    def scope(self, fresh: dict[UUID, bytes] | None = None) -> Iterator[None]:
        """Within one operation (a load, a command, a page), each message's key is read once.
        Never kept beyond it: another process may destroy a key at any moment, and a key kept
        here would go on unsealing what it erased. `fresh` are keys of messages being created,
        which the recorder writes in the same transaction as their first event."""
        outer = getattr(self._scope, "known", None)
        self._scope.known = {**(outer or {}), **(fresh or {})}
        try:
            yield
        finally:
            self._scope.known = outer

    def key_for(self, message_id: UUID, *, create: bool) -> bytes | None:
        known: dict[UUID, bytes | None] | None = getattr(self._scope, "known", None)
        if known is not None and known.get(message_id) is not None:
            return known[message_id]
        if known is not None and not create and message_id in known:
            return None
        key = self._key_for(message_id, create=create)
        if known is not None:
            known[message_id] = key
        return key

    def _key_for(self, message_id: UUID, *, create: bool) -> bytes | None:
        with self.db.transaction(commit=create) as c:
            if create:
                c.execute(
                    self.db.sql(
                        "INSERT INTO herald_content_keys (message_id, key) VALUES (?, ?) "
                        "ON CONFLICT (message_id) DO NOTHING"
                    ),
                    (message_id.hex, new_key()),
                )
            return self.lookup(c, message_id)

    def lookup(self, c: Cursor, message_id: UUID) -> bytes | None:
        c.execute(
            self.db.sql("SELECT key FROM herald_content_keys WHERE message_id = ?"),
            (message_id.hex,),
        )
        row = c.fetchone()
        return None if row is None else bytes(row[0])

    def destroy(self, c: Cursor, message_id: UUID) -> None:
        c.execute(
            self.db.sql("DELETE FROM herald_content_keys WHERE message_id = ?"),
            (message_id.hex,),
        )

    def flush(self) -> None:
        """Push deleted keys out of the write-ahead log, whose old frames still hold them."""
        if self.db.dialect != "sqlite":
            return
        for _ in range(_FLUSH_TRIES):
            with self.db.datastore.get_connection(commit=True) as conn:
                cursor = conn.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = cursor.fetchone()[0]
            if not busy:
                return
        log.error(
            "the write-ahead log could not be truncated; a destroyed key may linger in it "
            "until the next checkpoint"
        )


def write_keys(
    c: Cursor, keys: dict[UUID, bytes], stored_events: Sequence[StoredEvent], *, postgres: bool
) -> None:
    """Record new messages' keys in the transaction of their first events, replacing any orphan
    a failed draft left. Only a message whose first event is in this very insert gets its key
    written: were that message there already, its insert fails and rolls the key back too."""
    first = {e.originator_id for e in stored_events if e.originator_version == 1}
    sql = _UPSERT_KEY.replace("?", "%s") if postgres else _UPSERT_KEY
    for message_id, key in keys.items():
        if message_id in first:
            c.execute(sql, (message_id.hex, key))


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, message_id: UUID, content: Any) -> str:
    nonce = os.urandom(_NONCE)
    plaintext = json.dumps(content, separators=(",", ":")).encode()
    return base64.b64encode(
        nonce + AESGCM(key).encrypt(nonce, plaintext, message_id.bytes)
    ).decode()


def unseal(key: bytes | None, message_id: UUID, sealed: str) -> Any:
    """The content, or None once its key is destroyed (the message was redacted)."""
    if key is None:
        return None
    raw = base64.b64decode(sealed)
    return json.loads(AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], message_id.bytes))


class SealingMapper(Mapper[UUID]):
    """Seals the `content` of events and snapshots before they are stored, unseals on reading."""

    def __init__(self, transcoder: Transcoder, keys: KeyStore) -> None:
        super().__init__(transcoder=transcoder)
        self.keys = keys

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        holder = _content_holder(vars(domain_event))
        if holder is None or holder.get("content") is None:
            return super().to_stored_event(domain_event)
        key = self.keys.key_for(domain_event.originator_id, create=True)
        assert key is not None
        sealed = {SEALED: seal(key, domain_event.originator_id, holder["content"])}
        original = holder["content"]
        holder["content"] = sealed
        try:
            return super().to_stored_event(domain_event)
        finally:
            holder["content"] = original

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.opened(stored_event, lambda mid: self.keys.key_for(mid, create=False))

    def opened(
        self, stored_event: StoredEvent, key_of: Callable[[UUID], bytes | None]
    ) -> DomainEventProtocol[UUID]:
        """The event with its content unsealed by the key `key_of` gives for its message."""
        domain_event = super().to_domain_event(stored_event)
        holder = _content_holder(vars(domain_event))
        sealed = None if holder is None else holder.get("content")
        if holder is not None and isinstance(sealed, dict) and SEALED in sealed:
            message_id = domain_event.originator_id
            holder["content"] = unseal(key_of(message_id), message_id, sealed[SEALED])
        return domain_event

    def still_sealed(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The event as stored, its content left sealed: for whoever only passes it on."""
        return super().to_domain_event(stored_event)


def _content_holder(state: dict[str, Any]) -> dict[str, Any] | None:
    """Events hold content at the top; snapshots hold it inside the aggregate's state."""
    if "content" in state:
        return state
    inner = state.get("state")
    if isinstance(inner, dict) and "content" in inner:
        return inner
    return None
