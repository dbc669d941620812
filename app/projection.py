"""The views' projection: what each event means to the read models, and nothing else. It runs
inside the catch-up loop's transaction (app/catchup.py), which records its position with the
rows. Personal values pass through still sealed; only a recipient's address is opened, to index
the message under its contact's keyed hash (app/contacts.py), never stored."""

from __future__ import annotations

from collections.abc import Sequence
from functools import singledispatch
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from app.contacts import ContactSecrets, digest
from app.database import Cursor
from app.domain import Drafted, Edited, Message, Redacted
from app.personal import ADDRESS
from app.secrecy import KeyStore, SealingMapper, unseal
from app.views import Rows, Views

# Any constant will do: every Herald process contends for this one PostgreSQL advisory lock.
PROJECTOR_LOCK = 0x4E52414C44
# Told on PostgreSQL after each batch, so that every process wakes its subscribers.
PROJECTED_CHANNEL = "herald_projected"


class Projection:
    name = "herald_views"
    lock = PROJECTOR_LOCK

    def __init__(
        self, views: Views, sealing: SealingMapper, keys: KeyStore, secrets: ContactSecrets
    ) -> None:
        self.views = views
        self.sealing = sealing
        self.keys = keys
        self.secrets = secrets

    def apply(self, c: Cursor, batch: Sequence[Notification]) -> None:
        rows = Rows()
        for notification in batch:
            event = self.sealing.to_domain_event(notification)
            seen = rows.messages.get(event.originator_id)
            before = seen[1] if seen else self._before(c, event.originator_id, event)
            msg = event.mutate(before)  # type: ignore[attr-defined]
            assert isinstance(msg, Message)
            rows.messages[msg.id] = (seen[0] if seen else notification.id, msg)
            if before is None:
                rows.drafted.add(msg.id)
            rows.events.append(
                (notification.id, msg.workspace, msg.conversation_id, msg.id.hex, msg.version)
            )
            contacts = _contacts(event, msg, self, c)
            if contacts is not None:
                rows.contacts[msg.id] = (msg.workspace, contacts)
        self.views.write(c, rows)

    def clear(self, c: Cursor) -> None:
        self.views.clear(c, unindexed=True)

    def finish_replay(self, c: Cursor) -> None:
        self.views.index(c)

    def _before(self, c: Cursor, message_id: UUID, event: Any) -> Message | None:
        if event.originator_version == Message.INITIAL_VERSION:
            return None
        return self.views.current(c, message_id)

    def contacts_of(self, c: Cursor, msg: Message) -> list[str]:
        """The keyed hashes of the message's recipients' addresses, opened with its key."""
        if not msg.recipients:
            return []
        key = self.keys.read_within(c, msg.id)
        if key is None:
            return []  # redacted: indexed under nobody
        secret = self.secrets.of(c, msg.workspace, create=True)
        assert secret is not None
        addresses = [unseal(key, msg.id, r.get(ADDRESS)) for r in msg.recipients]
        return [digest(secret, a) for a in addresses if isinstance(a, str)]


# Which events change whom a message is indexed under: None leaves its contacts as they are.


@singledispatch
def _contacts(event: Any, msg: Message, projection: Projection, c: Cursor) -> list[str] | None:
    return None


@_contacts.register(Drafted)
@_contacts.register(Edited)
def _addressed(event: Any, msg: Message, projection: Projection, c: Cursor) -> list[str] | None:
    if event.originator_version > Message.INITIAL_VERSION and event.recipients is None:
        return None  # an edit that left the recipients alone
    return projection.contacts_of(c, msg)


@_contacts.register(Redacted)
def _erased(event: Any, msg: Message, projection: Projection, c: Cursor) -> list[str] | None:
    return []
