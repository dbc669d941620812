"""Crypto-shredding: each message's personal values (app/personal.py) are sealed with a key of its
own, kept apart from the events; destroying the key erases them from every event, snapshot, view
and backup.

A key has one life. It is born in the transaction of its message's first event and ends in the
transaction of its Redacted event: `KeyChanges.of` says which, from the events being saved, and
`KeyStore.apply` is the only code that writes or deletes a key row, inside the recorder's
transaction (app/persistence.py). Everything else only reads keys, and a key that is missing, or
that cannot open a value, means erased: the value reads as None and never fails a read."""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from app.database import Cursor, Database
from app.domain import Message, Redacted
from app.personal import transform

log = logging.getLogger(__name__)
SEALED = "sealed"
KEYS_TABLE = "herald_content_keys"
_FLUSH_TRIES = 5
_FLUSH_WAIT = 0.1  # seconds a try may hold writers back
_NONCE = 12
_REPORTED_LIMIT = 10_000

Event = DomainEventProtocol[UUID]


class KeyLost(Exception):
    """A personal value must be sealed, but its message has no key: it was redacted meanwhile
    (the command read a state that is no longer current), or its key was lost."""


@dataclass(frozen=True)
class KeyChanges:
    """What a save does to content keys: keys born with their message's first event, and the
    keys of messages whose Redacted event it records."""

    born: dict[UUID, bytes] = field(default_factory=dict)
    ended: frozenset[UUID] = frozenset()

    @classmethod
    def of(cls, events: Iterable[Event], keys: Mapping[UUID, bytes | None]) -> KeyChanges:
        born: dict[UUID, bytes] = {}
        ended: set[UUID] = set()
        for e in events:
            if e.originator_version == Message.INITIAL_VERSION:
                key = keys.get(e.originator_id)
                if key is None:
                    raise KeyLost(f"a new message {e.originator_id} needs a key")
                born[e.originator_id] = key
            if ends_key(e):
                ended.add(e.originator_id)
        return cls(born, frozenset(ended))


def ends_key(event: Event) -> bool:
    return isinstance(event, Redacted)


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} "
                f"(message_id TEXT PRIMARY KEY, key {db.blob} NOT NULL)"
            )

    def read(self, message_id: UUID) -> bytes | None:
        row = self.db.read_one(
            f"SELECT key FROM {KEYS_TABLE} WHERE message_id = ?", (message_id.hex,)
        )
        return None if row is None else bytes(row[0])

    def read_within(self, c: Cursor, message_id: UUID) -> bytes | None:
        """The key as the transaction `c` sees it."""
        c.execute(
            self.db.sql(f"SELECT key FROM {KEYS_TABLE} WHERE message_id = ?"), (message_id.hex,)
        )
        row = c.fetchone()
        return None if row is None else bytes(row[0])

    def apply(self, c: Cursor, changes: KeyChanges) -> None:
        """In the transaction that records the events. A message that exists already makes the
        insert of its first event fail, and with it this transaction, so the upsert cannot
        replace a live key; it only heals a row an older release left behind."""
        for message_id, key in changes.born.items():
            c.execute(
                self.db.sql(
                    f"INSERT INTO {KEYS_TABLE} (message_id, key) VALUES (?, ?) "
                    "ON CONFLICT (message_id) DO UPDATE SET key = excluded.key"
                ),
                (message_id.hex, key),
            )
        for message_id in changes.ended:
            c.execute(
                self.db.sql(f"DELETE FROM {KEYS_TABLE} WHERE message_id = ?"), (message_id.hex,)
            )

    def flush(self) -> None:
        """Push deleted keys out of SQLite's write-ahead log, whose old frames still hold them
        (the main file overwrites them itself: secure_delete). A truncating checkpoint holds
        writers back while it waits for readers, so each try waits briefly, never the whole
        busy timeout; a key left over goes with the next checkpoint, at the latest at start."""
        path = self.db.sqlite_path
        if path is None:
            return
        for _ in range(_FLUSH_TRIES):
            connection = sqlite3.connect(path, timeout=_FLUSH_WAIT, isolation_level=None)
            try:
                busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:
                busy = 1
            finally:
                connection.close()
            if not busy:
                return
            time.sleep(_FLUSH_WAIT)  # let the writers it held back through
        log.warning(
            "the write-ahead log could not be truncated now; a destroyed key may linger in it "
            "until the next checkpoint"
        )


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def seal(key: bytes, message_id: UUID, value: Any) -> dict[str, str]:
    nonce = os.urandom(_NONCE)
    # UTF-8, not \u escapes: six bytes a character of non-Latin text made each read six
    # times the work (encoding, encryption, base64 and decoding all hold the GIL).
    plaintext = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, message_id.bytes)
    return {SEALED: base64.b64encode(sealed).decode()}


def unseal(key: bytes | None, message_id: UUID, value: Any) -> Any:
    """The value, or None once its key is gone. A value an older release stored in clear reads
    as it is; one that cannot be opened reads as erased, and is reported once."""
    if not is_sealed(value):
        return value
    if key is None:
        return None
    try:
        raw = base64.b64decode(value[SEALED])
        plaintext = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], message_id.bytes)
        return json.loads(plaintext.decode("utf-8", "surrogatepass"))
    except Exception:
        _report_unreadable(message_id)
        return None


def seal_state(
    state: dict[str, Any], key: bytes | None, message_id: UUID, *, erasing: bool = False
) -> dict[str, Any]:
    """`erasing`: the state is that of the event that ends the key, so without a key there is
    nothing to keep its values from, and they are dropped."""

    def sealed(value: Any) -> Any:
        if is_sealed(value):
            return value  # passing through, as the projection does
        if key is None and erasing:
            return None
        if key is None:
            raise KeyLost(f"message {message_id} has no content key")
        return seal(key, message_id, value)

    return transform(state, sealed)


def open_state(state: dict[str, Any], key: bytes | None, message_id: UUID) -> dict[str, Any]:
    return transform(state, lambda value: unseal(key, message_id, value))


_reported: set[UUID] = set()
_reported_lock = threading.Lock()


def _report_unreadable(message_id: UUID) -> None:
    with _reported_lock:
        if message_id in _reported or len(_reported) >= _REPORTED_LIMIT:
            return
        _reported.add(message_id)
    log.error("content of message %s cannot be unsealed; it reads as erased", message_id)


class SealingMapper(Mapper[UUID]):
    """Events and snapshots with their personal values sealed by the key given for their
    message. The library's own entry points seal nothing new and open nothing: an event passes
    through them as it is stored."""

    def sealed(self, domain_event: Event, key: bytes | None) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id: UUID = state.pop("originator_id")
        originator_version: int = state.pop("originator_version")
        if isinstance(domain_event, CanSnapshotAggregate):
            state["state"] = seal_state(state["state"], key, originator_id)
        else:
            state = seal_state(state, key, originator_id, erasing=ends_key(domain_event))
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=self.transcoder.encode(state),
        )

    def opened(self, stored_event: StoredEvent, key: bytes | None) -> Event:
        domain_event = super().to_domain_event(stored_event)
        message_id = domain_event.originator_id
        state: dict[str, Any] = vars(domain_event)
        if isinstance(domain_event, CanSnapshotAggregate):
            state["state"] = open_state(state["state"], key, message_id)
        else:
            state.update(open_state(state, key, message_id))
        return domain_event

    def to_stored_event(self, domain_event: Event) -> StoredEvent:
        return self.sealed(domain_event, None)

    def to_domain_event(self, stored_event: StoredEvent) -> Event:
        return super().to_domain_event(stored_event)
