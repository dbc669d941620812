"""What a delivery sends, built when it is sent: the stored event and its message as of that
event, opened with the message's key as it is now. So a retry after a redaction carries no
erased field, and nothing personal is ever copied into the outbox."""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from app.domain import Message
from app.errors import NotFound
from app.store import Event, MessageStore
from app.timestamps import format_datetime
from app.workspaces import Principal

# Each event's name (the topic's last part) and the type its payload carries.
TYPES = {
    "Drafted": "message.drafted",
    "Edited": "message.edited",
    "Approved": "message.approved",
    "Rejected": "message.rejected",
    "Sent": "message.sent",
    "StatusChanged": "message.status_changed",
    "Redacted": "message.redacted",
}
_READER = "webhooks"


@functools.cache
def _camel(name: str) -> str:
    """A field's name as the GraphQL schema spells it (strawberry's rule)."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() if part else "_" for part in rest)


def event_name(topic: str) -> str | None:
    """ "app.domain:Message.Drafted" -> "Drafted"; None for what is not a message event."""
    name = topic.rpartition(".")[2]
    return name if name in TYPES else None


def payload(store: MessageStore, workspace: str, message_id: UUID, version: int) -> bytes:
    """`{type, timestamp, data}`; data holds the event's type, message id, conversation id,
    version, actor and time, and the message as it stood right after the event."""
    msg, event = _as_of(store, workspace, message_id, version)
    name, state = type(event).__name__, vars(event)
    occurred = format_datetime(state["timestamp"])
    data: dict[str, Any] = {
        "type": name,
        "messageId": str(message_id),
        "conversationId": msg.conversation_id,
        "version": version,
        "actor": state.get("actor"),
        "occurredAt": occurred,
    }
    if "status" in state:
        data["status"] = state["status"]
    # Imported here: the API's modules import the runtime, which assembles this package.
    from app.api.types import message_of

    data["message"] = _plain(message_of(msg))
    body = {"type": TYPES[name], "timestamp": occurred, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _as_of(
    store: MessageStore, workspace: str, message_id: UUID, version: int
) -> tuple[Message, Event]:
    """The message right after its event `version`, and that event, opened with the key the
    message has now (none once it is redacted)."""
    if version <= store.settings.snapshot_interval:
        events = store.events_of(message_id, limit=version)  # in one read, then the key
        msg: Any = None
        for e in events:
            msg = e.mutate(msg)  # type: ignore[attr-defined]
        if not isinstance(msg, Message) or msg.workspace != workspace:
            raise NotFound
        return msg, events[-1]
    # A long history: from the latest snapshot at or before the event.
    msg = store.open(Principal(workspace, _READER), str(message_id), version)[0]
    return msg, store.events_of(message_id, after=version - 1, limit=1)[0]


def _plain(value: Any) -> Any:
    """The API's own Message, as JSON with the API's names: one wire form of a message.
    (strawberry.asdict would deep-copy every value first, the bound resolvers included.)"""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(f.name): _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not callable(getattr(value, f.name))
        }
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_datetime(value)
    return value
