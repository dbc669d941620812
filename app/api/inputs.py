"""Strawberry input types, as the contract names them."""

from __future__ import annotations

from enum import Enum

import strawberry

from app.lifecycle import Channel as ChannelValue

from .scalars import JSON
from .types import Channel, MessageStatus, RecipientType


@strawberry.input
class RecipientInput:
    identifier_key: str
    identifier_value: str
    type: RecipientType | None = RecipientType.TO


@strawberry.input
class SenderInput:
    name: str
    email: str | None = None


@strawberry.input(description="Give exactly one of text and body.")
class DraftMessageInput:
    conversation_id: strawberry.ID
    channel: Channel | None = ChannelValue.CHAT  # type: ignore[valid-type]
    text: str | None = None
    body: JSON | None = None
    recipients: list[RecipientInput] | None = strawberry.field(default_factory=list)
    sender: SenderInput | None = None
    reply_to_message_id: strawberry.ID | None = None
    reference: str | None = strawberry.field(
        default=None, description="The caller's own reference, given when the draft was made."
    )
    requires_approval: bool | None = strawberry.field(
        default=False, description="When true, only approveMessage can send it."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A retry with the same key in the same workspace returns the first result and "
            "records nothing new."
        ),
    )
    actor: str | None = None


@strawberry.input(
    description=(
        "Give exactly one of text and body. Drafts can always be edited; sent CHAT messages too."
    )
)
class EditMessageInput:
    id: strawberry.ID
    text: str | None = None
    body: JSON | None = None
    expected_version: int | None = None
    actor: str | None = None


@strawberry.input(description="Approving a draft sends it.")
class ApproveMessageInput:
    id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = None
    actor: str | None = None


@strawberry.input
class RejectMessageInput:
    id: strawberry.ID
    reason: str | None = None
    expected_version: int | None = None
    actor: str | None = None


@strawberry.input
class SendMessageInput:
    id: strawberry.ID
    expected_version: int | None = None
    idempotency_key: str | None = None
    actor: str | None = None


@strawberry.input(
    description=(
        "Redaction erases the content of the message and of every earlier event of it. Only "
        "messages that are no longer in progress (SENT, DELIVERED, SENDING_FAILED, "
        "DELIVERY_FAILED) can be redacted."
    )
)
class RedactMessageInput:
    id: strawberry.ID
    reason: str | None = None
    expected_version: int | None = None
    actor: str | None = None


@strawberry.input(
    description=(
        "Update a draft, as Bird's PATCH .../conversations/{conversationId}/messages/{messageId}:\n"
        "at least one field besides the ids; only drafts can be updated; draft: false sends the "
        "draft;\na sent message cannot be turned back into a draft."
    )
)
class UpdateMessageInput:
    conversation_id: strawberry.ID
    id: strawberry.ID
    draft: bool | None = None
    body: JSON | None = None
    sender: SenderInput | None = None
    status: MessageStatus | None = None  # type: ignore[valid-type]
    recipients: list[RecipientInput] | None = None
    add_missing_participants: bool | None = None
    reply_to_message_id: strawberry.ID | None = None
    expected_version: int | None = None
    actor: str | None = None


@strawberry.input(
    description="A channel's report on delivery. Statuses only move forward in the lifecycle order."
)
class RecordDeliveryStatusInput:
    id: strawberry.ID
    status: MessageStatus  # type: ignore[valid-type]
    reason: str | None = None
    actor: str | None = None


@strawberry.enum(description="What the Handle Message Action API does with a message.")
class MessageAction(Enum):
    APPROVE = "APPROVE"
    EDIT = "EDIT"
    REJECT = "REJECT"


@strawberry.input
class MessageActionMetadataInput:
    action: MessageAction
    edited_message: str | None = strawberry.field(
        default=None, description="The new content, used only with EDIT."
    )
