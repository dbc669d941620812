"""Event types of the history, the events page and subscriptions; domain events → wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from app.body_text import plain_text
from app.lifecycle import Channel as ChannelValue
from app.lifecycle import Status
from app.store import Event

from .context import blocking, context_of
from .paging import MAX_HISTORY, check_first, parse_cursor
from .scalars import JSON, DateTime, json_value
from .types import Channel, MessageStatus, PageInfo, Recipient, recipients_of


@strawberry.interface(description="One recorded event of one message.")
class MessageEvent:
    message_id: strawberry.ID = strawberry.field(
        description="The id of the message the event belongs to."
    )
    conversation_id: strawberry.ID = strawberry.field(
        description="The conversation of the message the event belongs to."
    )
    version: int = strawberry.field(
        description="1 for the first event of a message, then 2, 3, ..."
    )
    type: str = strawberry.field(
        description=(
            "The event's name: Drafted, Edited, Approved, Rejected, Sent, StatusChanged or "
            "Redacted."
        )
    )
    occurred_at: DateTime = strawberry.field(description="When the event was recorded.")
    actor: str | None = strawberry.field(
        description="Who caused it: the name of the API key, or the actor the request named."
    )
    cursor: str | None = strawberry.field(
        default=None,
        description=(
            "The event's position in its workspace's events: pass it as `after` to messageEvents "
            "or events to go on after this event. Null in a message's history, whose cursors "
            "are versions."
        ),
    )


@strawberry.type(
    description="The message was drafted (draftMessage): always its first event, version 1."
)
class MessageDrafted(MessageEvent):
    channel: Channel = strawberry.field(  # type: ignore[valid-type]
        description="The channel the message was drafted for."
    )
    text: str | None = strawberry.field(description="Null once the message is redacted.")
    body: JSON | None = strawberry.field(description="Null once the message is redacted.")
    recipients: list[Recipient] = strawberry.field(
        description="The recipients the draft was made with."
    )
    requires_approval: bool = strawberry.field(
        description="True when the draft was made to need approveMessage to send it."
    )


@strawberry.type(
    description=(
        "The message was changed: by editMessage or an EDIT action, or by updateMessage "
        "(which may also change the recipients, sender or replyToMessageId, not shown here)."
    )
)
class MessageEdited(MessageEvent):
    text: str | None = strawberry.field(
        description="Null once the message is redacted, or when this edit did not change the body."
    )
    body: JSON | None = strawberry.field(
        description="Null once the message is redacted, or when this edit did not change the body."
    )
    after_send: bool = strawberry.field(description="True when the message had already been sent.")


@strawberry.type(
    description=(
        "The draft was approved (approveMessage or an APPROVE action). A MessageSent event "
        "always follows it."
    )
)
class MessageApproved(MessageEvent):
    pass


@strawberry.type(
    description="The draft was rejected (rejectMessage or a REJECT action). REJECTED is final."
)
class MessageRejected(MessageEvent):
    reason: str | None = strawberry.field(
        description="The reason the rejecter gave; null when none was given, or once redacted."
    )


@strawberry.type(
    description=(
        "The draft was sent (sendMessage, approveMessage, updateMessage or an APPROVE action): "
        "its status became ACCEPTED."
    )
)
class MessageSent(MessageEvent):
    pass


@strawberry.type(
    description="A channel reported a new delivery status of the message (recordDeliveryStatus)."
)
class MessageStatusChanged(MessageEvent):
    status: MessageStatus = strawberry.field(  # type: ignore[valid-type]
        description="The status the channel reported, which the message then took."
    )
    reason: str | None = strawberry.field(
        description=(
            "The reason the channel gave; null when none was given, or once redacted. With "
            "SENDING_FAILED or "
            "DELIVERY_FAILED it became the message's failureReason."
        )
    )


@strawberry.type(
    description=(
        "The message was redacted (redactMessage): its content and personal fields are now "
        "erased, from the message and from every earlier event of it."
    )
)
class MessageRedacted(MessageEvent):
    reason: str | None = strawberry.field(
        description=(
            "Always null: the reason is sealed with the very key the redaction destroys, so it "
            "is erased with everything else."
        )
    )


@strawberry.type(description="One event and the cursor just after it.")
class MessageEventEdge:
    cursor: str = strawberry.field(
        description=(
            "The event's position. Pass it as `after` to get the events after this one; it stays "
            "valid forever."
        )
    )
    node: MessageEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of events.")
class MessageEventConnection:
    edges: list[MessageEventEdge] = strawberry.field(
        description="The events of this page, each with its cursor, in recorded order."
    )
    page_info: PageInfo = strawberry.field(
        description="Where this page starts and ends, and whether more events follow."
    )


EVENT_TYPES: tuple[type[MessageEvent], ...] = (
    MessageDrafted,
    MessageEdited,
    MessageApproved,
    MessageRejected,
    MessageSent,
    MessageStatusChanged,
    MessageRedacted,
)


def event_of(e: Event, conversation_id: str) -> MessageEvent:
    name = type(e).__name__
    state: dict[str, Any] = vars(e)
    timestamp: datetime = state["timestamp"]
    common: dict[str, Any] = {
        "message_id": strawberry.ID(str(e.originator_id)),
        "conversation_id": strawberry.ID(conversation_id),
        "version": e.originator_version,
        "type": name,
        "occurred_at": DateTime(timestamp),
        "actor": state.get("actor"),
    }
    content = state.get("content")
    text = None if content is None else plain_text(content)
    if name == "Drafted":
        return MessageDrafted(
            **common,
            channel=ChannelValue(state["channel"]),
            text=text,
            body=content,
            recipients=recipients_of(state["recipients"]),
            requires_approval=state["requires_approval"],
        )
    if name == "Edited":
        return MessageEdited(
            **common, text=text, body=json_value(content), after_send=state["after_send"]
        )
    if name == "StatusChanged":
        return MessageStatusChanged(
            **common, status=Status(state["status"]), reason=state.get("reason")
        )
    if name == "Rejected":
        return MessageRejected(**common, reason=state.get("reason"))
    if name == "Redacted":
        return MessageRedacted(**common, reason=state.get("reason"))
    if name == "Approved":
        return MessageApproved(**common)
    return MessageSent(**common)


def event_connection(
    items: list[tuple[int, MessageEvent]], has_next: bool, after: int | None
) -> MessageEventConnection:
    edges = [MessageEventEdge(cursor=str(pos), node=node) for pos, node in items]
    return MessageEventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=bool(after),
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def history_page(
    info: Info, raw_id: str, first: int, after: str | None
) -> MessageEventConnection:
    ctx = context_of(info)
    check_first(first, MAX_HISTORY, "first")
    after_version = parse_cursor(after, "after")
    p = ctx.principal()
    msg = await blocking(ctx.herald.store.load, p, raw_id)
    events = await blocking(ctx.herald.store.history, p, raw_id, after_version, first + 1)
    items = [(e.originator_version, event_of(e, msg.conversation_id)) for e in events[:first]]
    return event_connection(items, len(events) > first, after_version)
