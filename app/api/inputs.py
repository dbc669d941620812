"""Strawberry input types, as the contract names them."""

from __future__ import annotations

from enum import Enum

import strawberry

from app.lifecycle import Channel as ChannelValue

from .scalars import JSON
from .types import Channel, MessageStatus, RecipientType

# Descriptions that several inputs share.
_ID = "The id of the message. One that names no message in your workspace fails with NOT_FOUND."
_CONVERSATION_ID = (
    "The conversation the message belongs to; if it is not the message's conversation, the "
    "command fails with NOT_FOUND."
)
_EXPECTED_VERSION = (
    "The version you last saw; if the message has moved on, the command fails with CONFLICT "
    "and changes nothing. Must be 1 or more. Leave it out to act on the current version."
)
_ACTOR = (
    "Who is acting (at most 256 characters), recorded as the actor of the events this command "
    "records. Leave it out to record the name of your API key."
)
_COMMAND_KEY = (
    "A key of your choosing (1 to 256 characters) that makes retries safe: repeating this "
    "command on the same message with the same key records nothing new and returns the message "
    "as it stands, even if expectedVersion has moved on."
)
_REASON = "Why (at most 2,000 characters); recorded on the event."
_TEXT = "The new plain text (1 to 65,536 characters, not only spaces). Give this or body, not both."
_BODY = (
    'A whole body in the Bird body schema, e.g. {"type": "text", "text": {"text": "Hi"}}; '
    "an invalid one fails with VALIDATION_FAILED, its details keyed by JSON path."
)
_REPLY_TO = (
    "The id of the message this one replies to; it must name a message in your workspace, "
    "else VALIDATION_FAILED."
)
_RECIPIENTS = "Who the message is for: at most 100 recipients."


@strawberry.input(description="Someone a message is for.")
class RecipientInput:
    identifier_key: str = strawberry.field(
        description=(
            'What kind of address identifierValue is, e.g. "phonenumber" or "emailaddress" '
            "(1 to 256 characters)."
        )
    )
    identifier_value: str = strawberry.field(
        description='The address itself, e.g. "+15550100" (1 to 256 characters).'
    )
    type: RecipientType | None = strawberry.field(
        default=RecipientType.TO,
        description="How this recipient receives the message; TO when left out.",
    )


@strawberry.input(description="Who a message is from.")
class SenderInput:
    name: str = strawberry.field(description="The sender's name (1 to 256 characters).")
    email: str | None = strawberry.field(
        default=None,
        description="The sender's email address (at most 256 characters, with an @), if any.",
    )


@strawberry.input(description="Give exactly one of text and body.")
class DraftMessageInput:
    conversation_id: strawberry.ID = strawberry.field(
        description="The conversation the message belongs to (1 to 256 characters)."
    )
    channel: Channel | None = strawberry.field(  # type: ignore[valid-type]
        default=ChannelValue.CHAT,
        description="The channel the message is for; CHAT when left out. It cannot change later.",
    )
    text: str | None = strawberry.field(
        default=None,
        description=(
            "The message as plain text (1 to 65,536 characters, not only spaces); it becomes a "
            "text body. Give this or body, not both."
        ),
    )
    body: JSON | None = strawberry.field(
        default=None,
        description=(
            'The message as a Bird body, e.g. {"type": "text", "text": {"text": "Hi"}}. Give '
            "this or text, not both; an invalid body fails with VALIDATION_FAILED, its details "
            "keyed by JSON path."
        ),
    )
    recipients: list[RecipientInput] | None = strawberry.field(
        default_factory=list, description=f"{_RECIPIENTS} Leave it out for none."
    )
    sender: SenderInput | None = strawberry.field(
        default=None, description="Who the message is from; leave it out for none."
    )
    reply_to_message_id: strawberry.ID | None = strawberry.field(
        default=None, description=_REPLY_TO
    )
    reference: str | None = strawberry.field(
        default=None,
        description=(
            "Your own reference for the message (at most 256 characters), shown as "
            "Message.reference; Herald does not interpret it."
        ),
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
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(
    description=(
        "Give exactly one of text and body. Drafts can always be edited; sent CHAT messages too."
    )
)
class EditMessageInput:
    id: strawberry.ID = strawberry.field(description=_ID)
    text: str | None = strawberry.field(
        default=None,
        description=(
            f"{_TEXT} It replaces only the text: a structured body keeps its other parts where "
            "it has a place for text (e.g. an image's caption), else it becomes a text body."
        ),
    )
    body: JSON | None = strawberry.field(
        default=None,
        description=f"{_BODY} It replaces the whole body. Give this or text, not both.",
    )
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(description="Approving a draft sends it.")
class ApproveMessageInput:
    id: strawberry.ID = strawberry.field(description=_ID)
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=_COMMAND_KEY)
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(
    description="Reject a draft. REJECTED is final: the message can never be sent or changed."
)
class RejectMessageInput:
    id: strawberry.ID = strawberry.field(description=_ID)
    reason: str | None = strawberry.field(
        default=None, description=f"{_REASON} Shown as Message.rejectionReason."
    )
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(
    description="Send a draft that does not require approval (one that does needs approveMessage)."
)
class SendMessageInput:
    id: strawberry.ID = strawberry.field(description=_ID)
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=_COMMAND_KEY)
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(
    description=(
        "Redaction erases the content and every personal field (recipients' identifiers, "
        "sender, reference, reasons) of the message and of every earlier event of it. Messages "
        "still in progress (ACCEPTED, PROCESSING) cannot be redacted; drafts, rejected messages "
        "and finished ones (SENT, DELIVERED, SENDING_FAILED, DELIVERY_FAILED) can."
    )
)
class RedactMessageInput:
    id: strawberry.ID = strawberry.field(description=_ID)
    reason: str | None = strawberry.field(default=None, description=_REASON)
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(
    description=(
        "Update a draft, as Bird's PATCH .../conversations/{conversationId}/messages/{messageId}:\n"
        "at least one field besides the ids; only drafts can be updated; draft: false sends the "
        "draft;\na sent message cannot be turned back into a draft."
    )
)
class UpdateMessageInput:
    conversation_id: strawberry.ID = strawberry.field(description=_CONVERSATION_ID)
    id: strawberry.ID = strawberry.field(description=_ID)
    draft: bool | None = strawberry.field(
        default=None,
        description=(
            "false sends the draft after the other changes (CONFLICT if it requires approval); "
            "true keeps it a draft and cannot be combined with status."
        ),
    )
    body: JSON | None = strawberry.field(default=None, description=f"{_BODY} It replaces the body.")
    sender: SenderInput | None = strawberry.field(default=None, description="Replaces the sender.")
    status: MessageStatus | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description=(
            "Only ACCEPTED, which sends the draft like draft: false; any other status fails "
            "with VALIDATION_FAILED."
        ),
    )
    recipients: list[RecipientInput] | None = strawberry.field(
        default=None, description=f"{_RECIPIENTS} Replaces the whole list."
    )
    add_missing_participants: bool | None = strawberry.field(
        default=None,
        description=(
            "Accepted for compatibility with Bird's PATCH; Herald keeps no participants, so it "
            "changes nothing."
        ),
    )
    reply_to_message_id: strawberry.ID | None = strawberry.field(
        default=None, description=f"{_REPLY_TO} Replaces the one given before."
    )
    expected_version: int | None = strawberry.field(default=None, description=_EXPECTED_VERSION)
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.input(
    description="A channel's report on delivery. Statuses only move forward in the lifecycle order."
)
class RecordDeliveryStatusInput:
    id: strawberry.ID = strawberry.field(description=_ID)
    status: MessageStatus = strawberry.field(  # type: ignore[valid-type]
        description=(
            "The status the channel reports: PROCESSING, SENT, DELIVERED, SENDING_FAILED or "
            "DELIVERY_FAILED (others fail with VALIDATION_FAILED). It must come later in "
            "ACCEPTED -> PROCESSING -> SENT -> DELIVERED than the current status (skipping is "
            "fine); SENDING_FAILED only from ACCEPTED or PROCESSING, DELIVERY_FAILED only from "
            "PROCESSING or SENT. Anything else, e.g. a report on a draft or a repeated status, "
            "fails with CONFLICT."
        )
    )
    reason: str | None = strawberry.field(
        default=None,
        description=(
            f"{_REASON} With SENDING_FAILED or DELIVERY_FAILED it becomes the message's "
            "failureReason."
        ),
    )
    actor: str | None = strawberry.field(default=None, description=_ACTOR)


@strawberry.enum(description="What the Handle Message Action API does with a message.")
class MessageAction(Enum):
    APPROVE = strawberry.enum_value(
        "APPROVE", description="Approve the draft, which sends it (as approveMessage)."
    )
    EDIT = strawberry.enum_value(
        "EDIT",
        description=(
            "Replace the message's text with editedMessage, which is then required (as "
            "editMessage)."
        ),
    )
    REJECT = strawberry.enum_value(
        "REJECT", description="Reject the draft, giving no reason (as rejectMessage)."
    )


@strawberry.input(description="What to do with the message, in the Handle Message Action API.")
class MessageActionMetadataInput:
    action: MessageAction = strawberry.field(description="The action to take.")
    edited_message: str | None = strawberry.field(
        default=None, description="The new content, used only with EDIT."
    )
