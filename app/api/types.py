"""Strawberry output types and the conversion of domain state to them."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from app.bodies import plain_text
from app.domain import Message as Aggregate
from app.lifecycle import Channel as ChannelValue
from app.lifecycle import Status

from .scalars import JSON, DateTime, json_value, when

if TYPE_CHECKING:
    from .events import MessageEventConnection

MessageStatus = strawberry.enum(
    Status,
    name="MessageStatus",
    description=(
        "The lifecycle of a message. A draft is DRAFT until it is rejected (REJECTED, final) or\n"
        "sent (ACCEPTED); delivery then moves it forward in the order\n"
        "ACCEPTED -> PROCESSING -> SENT -> DELIVERED, or to SENDING_FAILED / DELIVERY_FAILED."
    ),
)
Channel = strawberry.enum(
    ChannelValue,
    name="Channel",
    description="Where a message lives. Only CHAT messages may be edited after they are sent.",
)


@strawberry.enum(description="How a recipient receives the message.")
class RecipientType(Enum):
    TO = "TO"
    CC = "CC"
    BCC = "BCC"


@strawberry.type(description="Someone a message is for.")
class Recipient:
    identifier_key: str = strawberry.field(description='e.g. "phonenumber" or "emailaddress".')
    identifier_value: str
    type: RecipientType


@strawberry.type(description="Who a message is from.")
class Sender:
    name: str
    email: str | None


@strawberry.type(description="Where a page starts and ends, and whether there is more.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(name="Message", description="A message as it stands now (the read model).")
class MessageType:
    id: strawberry.ID
    conversation_id: strawberry.ID
    channel: Channel  # type: ignore[valid-type]
    version: int = strawberry.field(
        description=(
            "The number of events recorded for this message; pass it back as expectedVersion."
        )
    )
    status: MessageStatus  # type: ignore[valid-type]
    draft: bool
    text: str | None = strawberry.field(
        description="The plain text of the body. Null once redacted."
    )
    body: JSON | None = strawberry.field(
        description=(
            'The structured body, shaped as the Bird body schema ({"type": "text", "text": '
            '{"text": ...}}). Null once redacted.'
        )
    )
    recipients: list[Recipient]
    sender: Sender | None
    reply_to_message_id: strawberry.ID | None
    reference: str | None = strawberry.field(
        description="The caller's own reference, given when the draft was made."
    )
    requires_approval: bool
    approved_by: str | None
    approved_at: DateTime | None
    rejected_by: str | None
    rejection_reason: str | None
    failure_reason: str | None
    edited: bool = strawberry.field(
        description="True once the message has been edited after it was sent."
    )
    redacted: bool
    redacted_at: DateTime | None
    created_at: DateTime
    updated_at: DateTime
    sent_at: DateTime | None

    @strawberry.field(description="Every event of this message, oldest first.")
    async def history(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> Annotated[MessageEventConnection, strawberry.lazy(".events")]:
        from .events import history_page

        return await history_page(info, str(self.id), 100 if first is None else first, after)


def recipients_of(raw: list[dict[str, str]]) -> list[Recipient]:
    return [
        Recipient(
            identifier_key=r["identifierKey"],
            identifier_value=r["identifierValue"],
            type=RecipientType(r.get("type", "TO")),
        )
        for r in raw
    ]


def message_of(m: Aggregate) -> MessageType:
    content = m.content
    sender = m.sender
    return MessageType(
        id=strawberry.ID(str(m.id)),
        conversation_id=strawberry.ID(m.conversation_id),
        channel=ChannelValue(m.channel),
        version=m.version,
        status=Status(m.status),
        draft=m.status == Status.DRAFT,
        text=None if content is None else plain_text(content),
        body=json_value(content),
        recipients=recipients_of(m.recipients),
        sender=None if sender is None else Sender(name=sender["name"], email=sender.get("email")),
        reply_to_message_id=None if m.reply_to is None else strawberry.ID(m.reply_to),
        reference=m.reference,
        requires_approval=m.requires_approval,
        approved_by=m.approved_by,
        approved_at=when(m.approved_at),
        rejected_by=m.rejected_by,
        rejection_reason=m.rejection_reason,
        failure_reason=m.failure_reason,
        edited=m.edited,
        redacted=m.redacted,
        redacted_at=when(m.redacted_at),
        created_at=DateTime(m.created_on),
        updated_at=DateTime(m.modified_on),
        sent_at=when(m.sent_at),
    )
