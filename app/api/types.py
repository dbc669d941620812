"""Strawberry output types and the conversion of domain state to them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info
from strawberry.types.enum import has_enum_definition

from app.body_text import plain_text
from app.domain import Message as Aggregate
from app.lifecycle import Channel as ChannelValue
from app.lifecycle import Status

from .node import Node
from .revisions import approval_field, revisions_field
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


def _describe_values(enum: type[Enum], descriptions: Mapping[str, str]) -> None:
    """Describe each GraphQL value of an enum on strawberry's definition of it.

    strawberry.enum_value() only works inside the Enum class itself, and Status and Channel live
    in app.lifecycle, where their values are plain strings the whole app relies on. So the
    descriptions go on strawberry's definition of the enum instead: the GraphQL names and the
    Python values stay exactly as they are.
    """
    if not has_enum_definition(enum):
        raise TypeError(f"{enum.__name__} is not a strawberry enum")
    values = enum.__strawberry_definition__.values
    if {value.name for value in values} != set(descriptions):
        raise ValueError(f"describe exactly the values of {enum.__name__}")
    for value in values:
        value.description = descriptions[value.name]


_describe_values(
    MessageStatus,
    {
        "DRAFT": (
            "Not sent yet. A draft can be edited, updated, sent (unless it requires approval), "
            "approved, rejected or redacted; it cannot take a delivery status. A redacted draft "
            "stays DRAFT, and no command can change it any more (CONFLICT)."
        ),
        "REJECTED": (
            "Rejected before it was sent. Final: no command but redactMessage changes it any more "
            "(the others fail with CONFLICT)."
        ),
        "ACCEPTED": (
            "Sent by Herald (sendMessage, approveMessage or updateMessage) and handed to the "
            "channel, which has not reported on it yet. Cannot be redacted yet."
        ),
        "PROCESSING": (
            "The channel reported that it is sending the message. Cannot be redacted yet."
        ),
        "SENT": "The channel reported that it has sent the message.",
        "DELIVERED": "The channel reported that the message reached its recipient. Final.",
        "SENDING_FAILED": (
            "The channel could not send the message (reported from ACCEPTED or PROCESSING). "
            "Final; the channel's reason is in failureReason."
        ),
        "DELIVERY_FAILED": (
            "The message was sent but not delivered (reported from PROCESSING or SENT). "
            "Final; the channel's reason is in failureReason."
        ),
    },
)
_describe_values(
    Channel,
    {
        "CHAT": "A chat message: the only channel whose messages can be edited after sending.",
        "SMS": "A text message to a phone number.",
        "EMAIL": "An email.",
        "WHATSAPP": "A WhatsApp message.",
    },
)


@strawberry.enum(description="How a recipient receives the message.")
class RecipientType(Enum):
    TO = "TO"
    CC = "CC"
    BCC = "BCC"


# Not strawberry.enum_value(): that would type RecipientType.TO.value as an EnumValueDefinition
# for mypy, and app.api.checks stores .value as a str.
_describe_values(
    RecipientType,
    {
        "TO": "A main recipient of the message.",
        "CC": "Receives a copy of the message (carbon copy).",
        "BCC": "Receives a copy that the other recipients are not shown (blind carbon copy).",
    },
)


@strawberry.type(description="Someone a message is for.")
class Recipient:
    identifier_key: str = strawberry.field(description='e.g. "phonenumber" or "emailaddress".')
    identifier_value: str = strawberry.field(
        description=(
            'The address itself, of the kind identifierKey names, e.g. "+15550100". Erased by '
            "redaction: then an empty string (the contract keeps this field non-null)."
        )
    )
    type: RecipientType = strawberry.field(description="How this recipient receives the message.")


@strawberry.type(description="Who a message is from.")
class Sender:
    name: str = strawberry.field(description="The sender's name, as given.")
    email: str | None = strawberry.field(
        description="The sender's email address; null when none was given."
    )


@strawberry.type(description="Where a page starts and ends, and whether there is more.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when more items follow this page: ask again with after: endCursor."
    )
    has_previous_page: bool = strawberry.field(
        description="True when this page was asked for after a cursor, so items come before it."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the first item of this page; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description=(
            "The cursor of the last item of this page; pass it as `after` to get the next page. "
            "Null when the page is empty."
        )
    )


def page_info(cursors: list[str], *, has_next: bool, has_previous: bool) -> PageInfo:
    """Where a page of these cursors starts and ends."""
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type(name="Message", description="A message as it stands now (the read model).")
class MessageType(Node):
    id: strawberry.ID = strawberry.field(
        description="The message's id (a UUID), given by Herald when the draft was recorded."
    )
    conversation_id: strawberry.ID = strawberry.field(
        description="The conversation the message belongs to, as given when it was drafted."
    )
    channel: Channel = strawberry.field(  # type: ignore[valid-type]
        description="The channel the message is for; set when it was drafted."
    )
    version: int = strawberry.field(
        description=(
            "The number of events recorded for this message; pass it back as expectedVersion."
        )
    )
    status: MessageStatus = strawberry.field(  # type: ignore[valid-type]
        description="Where the message is in its lifecycle (see MessageStatus)."
    )
    draft: bool = strawberry.field(description="True while the status is DRAFT.")
    text: str | None = strawberry.field(
        description="The plain text of the body. Null once redacted."
    )
    body: JSON | None = strawberry.field(
        description=(
            'The structured body, shaped as the Bird body schema ({"type": "text", "text": '
            '{"text": ...}}). Null once redacted.'
        )
    )
    recipients: list[Recipient] = strawberry.field(
        description="Who the message is for, in the order given; empty when nobody was named."
    )
    sender: Sender | None = strawberry.field(
        description="Who the message is from; null when no sender was given, or once redacted."
    )
    reply_to_message_id: strawberry.ID | None = strawberry.field(
        description="The id of the message this one replies to; null when it is not a reply."
    )
    reference: str | None = strawberry.field(
        description="The caller's own reference, given when the draft was made."
    )
    requires_approval: bool = strawberry.field(
        description=(
            "True when only approveMessage can send it: sendMessage, and updateMessage with "
            "draft: false, fail with CONFLICT."
        )
    )
    approved_by: str | None = strawberry.field(
        description="The actor who approved the message; null unless it was approved."
    )
    approved_at: DateTime | None = strawberry.field(
        description="When the message was approved; null unless it was approved."
    )
    rejected_by: str | None = strawberry.field(
        description="The actor who rejected the message; null unless it was rejected."
    )
    rejection_reason: str | None = strawberry.field(
        description=(
            "The reason given when the message was rejected; null when none was given, or once "
            "redacted."
        )
    )
    failure_reason: str | None = strawberry.field(
        description=(
            "The reason the channel gave with SENDING_FAILED or DELIVERY_FAILED; null otherwise, "
            "and once redacted."
        )
    )
    edited: bool = strawberry.field(
        description="True once the message has been edited after it was sent."
    )
    redacted: bool = strawberry.field(
        description=(
            "True once the message has been redacted: its content and every personal field "
            "(recipients' addresses, sender, reference, reasons) are erased for good, from the "
            "message and from every event of it."
        )
    )
    redacted_at: DateTime | None = strawberry.field(
        description="When the message was redacted; null unless it was redacted."
    )
    created_at: DateTime = strawberry.field(description="When the draft was recorded.")
    updated_at: DateTime = strawberry.field(
        description="When the latest event of this message was recorded."
    )
    sent_at: DateTime | None = strawberry.field(
        description="When the message was sent (its status became ACCEPTED); null until then."
    )

    @strawberry.field(description="Every event of this message, oldest first.")
    async def history(
        self,
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=(
                    "How many events to return: 0 to 100 (default 100); anything else fails "
                    "with VALIDATION_FAILED."
                )
            ),
        ] = 100,
        after: Annotated[
            str | None,
            strawberry.argument(
                description=(
                    "A cursor this API gave out (an event's version): only events after it are "
                    "returned. Leave it out to start at the first event; anything that is not "
                    "such a cursor fails with VALIDATION_FAILED."
                )
            ),
        ] = None,
    ) -> Annotated[MessageEventConnection, strawberry.lazy(".events")]:
        from .events import history_page

        return await history_page(info, str(self.id), 100 if first is None else first, after)

    revisions = revisions_field()
    approval = approval_field()


def recipients_of(raw: list[dict[str, str | None]]) -> list[Recipient]:
    return [
        Recipient(
            identifier_key=str(r["identifierKey"]),
            identifier_value=r.get("identifierValue") or "",
            type=RecipientType(r.get("type") or "TO"),
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
