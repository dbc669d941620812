"""What a delivery sends, built when it is sent: the stored event and its message as of that
event, opened with the message's key as it is now. So a retry after a redaction carries no
erased field, and nothing personal is ever copied into the outbox."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.utils.str_converters import to_camel_case

from app.api.scalars import format_datetime
from app.api.types import message_of
from app.store import MessageStore
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


def event_name(topic: str) -> str | None:
    """ "app.domain:Message.Drafted" -> "Drafted"; None for what is not a message event."""
    name = topic.rpartition(".")[2]
    return name if name in TYPES else None


def payload(store: MessageStore, workspace: str, message_id: UUID, version: int) -> bytes:
    """`{type, timestamp, data}`; data holds the event's type, message id, conversation id,
    version, actor and time, and the message as it stood right after the event."""
    msg, _ = store.open(Principal(workspace, _READER), str(message_id), version)
    stored = store.recorder.select_events(message_id, gt=version - 1, lte=version)
    # The event's own type, actor, time and status are stored in clear; it is not opened.
    event = store.sealing.to_domain_event(stored[0])
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
    data["message"] = _plain(strawberry.asdict(message_of(msg)))
    body = {"type": TYPES[name], "timestamp": occurred, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _plain(value: Any) -> Any:
    """The API's own Message, as JSON with the API's names: one wire form of a message."""
    if isinstance(value, dict):
        return {to_camel_case(k): _plain(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return format_datetime(value)
    return value
