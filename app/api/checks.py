"""Checks of inputs: bad input becomes VALIDATION_FAILED with details keyed by JSON path,
before anything is recorded."""

from __future__ import annotations

from typing import Any

from app.bodies import validate_body
from app.body_text import text_body
from app.content import MAX_CONTENT, UNSTORABLE, BodyError, storable
from app.errors import ValidationFailed
from app.lifecycle import REPORTABLE_STATES, Status
from app.lifecycle import Channel as ChannelValue

from .inputs import (
    DraftMessageInput,
    EditMessageInput,
    MessageAction,
    MessageActionMetadataInput,
    RecipientInput,
    RecordDeliveryStatusInput,
    SenderInput,
    UpdateMessageInput,
)
from .types import RecipientType

_SHORT = 256
_RECIPIENTS = 100
_REASON = 2_000


def check_filter(path: str, value: str | None) -> None:
    if value is not None and (len(value) > _SHORT or not storable(value)):
        raise ValidationFailed.at(path, f"must be at most {_SHORT} storable characters")


class Checks:
    """Collects every problem of one input, so a client learns them all at once."""

    def __init__(self) -> None:
        self.details: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.details.setdefault(path, []).append(message)

    def short(self, path: str, value: str | None, *, required: bool = False) -> None:
        if value is None:
            return
        if required and not value.strip():
            self.add(path, "must not be empty")
        elif len(value) > _SHORT:
            self.add(path, f"must be at most {_SHORT} characters")
        elif not storable(value):
            self.add(path, UNSTORABLE)

    def reason(self, path: str, value: str | None) -> None:
        if value is not None and len(value) > _REASON:
            self.add(path, f"must be at most {_REASON} characters")
        elif value is not None and not storable(value):
            self.add(path, UNSTORABLE)

    def version(self, path: str, value: int | None) -> None:
        if value is not None and value < 1:
            self.add(path, "must be 1 or more")

    def content(
        self, path: str, text: str | None, body: Any, *, required: bool = True
    ) -> dict[str, Any] | None:
        if text is not None and body is not None:
            self.add(path, "give exactly one of text and body, not both")
            return None
        if text is not None:
            self.text(f"{path}.text", text)
            return text_body(text)
        if body is not None:
            try:
                return validate_body(body, f"{path}.body")
            except BodyError as e:
                for p, messages in e.details.items():
                    for message in messages:
                        self.add(p, message)
                return None
        if required:
            self.add(path, "give exactly one of text and body")
        return None

    def text(self, path: str, text: str) -> None:
        """A message's plain text, on every path that sets one."""
        if not text.strip():
            self.add(path, "must not be empty")
        elif len(text) > MAX_CONTENT:
            self.add(path, f"must be at most {MAX_CONTENT} characters")
        elif not storable(text):
            self.add(path, UNSTORABLE)

    def recipients(self, path: str, given: list[RecipientInput] | None) -> list[dict[str, str]]:
        given = given or []
        if len(given) > _RECIPIENTS:
            self.add(path, f"must list at most {_RECIPIENTS} recipients")
        for i, r in enumerate(given):
            self.short(f"{path}[{i}].identifierKey", r.identifier_key, required=True)
            self.short(f"{path}[{i}].identifierValue", r.identifier_value, required=True)
        return [
            {
                "identifierKey": r.identifier_key,
                "identifierValue": r.identifier_value,
                "type": (r.type or RecipientType.TO).value,
            }
            for r in given
        ]

    def sender(self, path: str, given: SenderInput | None) -> dict[str, str | None] | None:
        if given is None:
            return None
        self.short(f"{path}.name", given.name, required=True)
        self.short(f"{path}.email", given.email)
        if given.email is not None and "@" not in given.email:
            self.add(f"{path}.email", "must be an email address")
        return {"name": given.name, "email": given.email}

    def done(self) -> None:
        if self.details:
            raise ValidationFailed(self.details)


def draft_fields(i: DraftMessageInput) -> dict[str, Any]:
    c = Checks()
    c.short("input.conversationId", i.conversation_id, required=True)
    c.short("input.reference", i.reference)
    c.short("input.idempotencyKey", i.idempotency_key, required=True)
    c.short("input.actor", i.actor)
    c.short("input.replyToMessageId", i.reply_to_message_id, required=True)
    fields = {
        "conversation_id": str(i.conversation_id),
        "channel": ChannelValue(i.channel or ChannelValue.CHAT).value,
        "content": c.content("input", i.text, i.body),
        "recipients": c.recipients("input.recipients", i.recipients),
        "sender": c.sender("input.sender", i.sender),
        "reply_to": None if i.reply_to_message_id is None else str(i.reply_to_message_id),
        "reference": i.reference,
        "requires_approval": bool(i.requires_approval),
    }
    c.done()
    return fields


def check_common(
    *,
    expected_version: int | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
    reason: str | None = None,
) -> None:
    c = Checks()
    c.version("input.expectedVersion", expected_version)
    c.short("input.actor", actor)
    c.short("input.idempotencyKey", idempotency_key, required=True)
    c.reason("input.reason", reason)
    c.done()


def edit_content(i: EditMessageInput) -> tuple[str | None, dict[str, Any] | None]:
    """The new text alone (kept inside the message's own body type), or a whole new body."""
    c = Checks()
    c.version("input.expectedVersion", i.expected_version)
    c.short("input.actor", i.actor)
    content = c.content("input", i.text, i.body)
    c.done()
    return (i.text, None) if i.text is not None else (None, content)


def update_changes(i: UpdateMessageInput) -> tuple[bool, dict[str, Any]]:
    """Bird's PATCH body → (send it?, changes to the draft)."""
    c = Checks()
    given = (
        i.draft,
        i.body,
        i.sender,
        i.status,
        i.recipients,
        i.add_missing_participants,
        i.reply_to_message_id,
    )
    if all(v is None for v in given):
        c.add("input", "give at least one field to update besides conversationId and id")
    if i.status is not None and i.status != Status.ACCEPTED:
        c.add("input.status", "may only be ACCEPTED, which sends the draft")
    if i.draft is True and i.status is not None:
        c.add("input.draft", "a message cannot stay a draft and be sent at once")
    c.version("input.expectedVersion", i.expected_version)
    c.short("input.actor", i.actor)
    c.short("input.replyToMessageId", i.reply_to_message_id, required=True)
    changes = {
        "content": c.content("input", None, i.body, required=False),
        "recipients": None
        if i.recipients is None
        else c.recipients("input.recipients", i.recipients),
        "sender": c.sender("input.sender", i.sender),
        "reply_to": None if i.reply_to_message_id is None else str(i.reply_to_message_id),
    }
    c.done()
    return (i.draft is False or i.status == Status.ACCEPTED), changes


def reported_status(i: RecordDeliveryStatusInput) -> Status:
    c = Checks()
    status = Status(i.status)
    if status not in REPORTABLE_STATES:
        c.add(
            "input.status",
            "a channel may report PROCESSING, SENT, DELIVERED, SENDING_FAILED or DELIVERY_FAILED",
        )
    c.short("input.actor", i.actor)
    c.done()
    return status


def action_text(metadata: MessageActionMetadataInput) -> str | None:
    """The Handle Message Action API's editedMessage: required to EDIT, and held to the same
    bounds as editMessage's text."""
    c = Checks()
    text = metadata.edited_message
    if metadata.action is MessageAction.EDIT:
        if text is None or not text.strip():
            c.add("metadata.editedMessage", "is required to EDIT a message")
        else:
            c.text("metadata.editedMessage", text)
    c.done()
    return text
