"""Mutations: each checks its input, then makes one store call, which returns only after the
views hold its events (read-your-writes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.domain import Message
from app.errors import NotFound, ValidationFailed
from app.store import MessageStore
from app.workspaces import Principal

from . import checks
from .actions import MessageActionResult, handle_action
from .context import blocking, context_of
from .erasure import EraseContactInput, EraseContactResult, erase
from .inputs import (
    ApproveMessageInput,
    DraftMessageInput,
    EditMessageInput,
    MessageActionMetadataInput,
    RecordDeliveryStatusInput,
    RedactMessageInput,
    RejectMessageInput,
    SendMessageInput,
    UpdateMessageInput,
)
from .types import MessageType, message_of


async def _check_reply_to(info: Info, p: Principal, reply_to: str | None) -> None:
    if reply_to is not None and not await blocking(
        context_of(info).herald.store.exists, p, reply_to
    ):
        raise ValidationFailed.at("input.replyToMessageId", "no such message in this workspace")


async def _command(
    info: Info,
    command: Callable[..., Message],
    input: ApproveMessageInput | RejectMessageInput | SendMessageInput | RedactMessageInput,
    last: str | None,
) -> MessageType:
    """The common shape: the store's command on (caller, id, expected version, actor, last)."""
    ctx = context_of(info)
    p = ctx.principal()
    store = ctx.herald.store
    msg = await blocking(
        command, store, p, str(input.id), input.expected_version, p.actor(input.actor), last
    )
    return message_of(msg)


@strawberry.type(
    description=(
        "Commands on messages. Each records its events and answers only once queries can see "
        "them, returning the message as it then stands. Errors carry extensions.code: "
        "UNAUTHENTICATED, FORBIDDEN, NOT_FOUND (no such message in your workspace), CONFLICT "
        "(the message's status or version forbids the command; extensions carry currentVersion "
        "and currentStatus), VALIDATION_FAILED (extensions.details maps a JSON path to "
        "messages; nothing is recorded) and LIMIT_EXCEEDED."
    )
)
class Mutation:
    @strawberry.mutation(
        description=(
            "Record a new draft (status DRAFT, version 1). Fails with VALIDATION_FAILED on bad "
            "input; with an idempotencyKey already used in your workspace it returns that "
            "message and records nothing."
        )
    )
    async def draft_message(
        self,
        info: Info,
        input: Annotated[
            DraftMessageInput,
            strawberry.argument(
                description="The new message: its conversation, content, recipients and options."
            ),
        ],
    ) -> MessageType:
        ctx = context_of(info)
        fields = checks.draft_fields(input)
        p = ctx.principal()
        await _check_reply_to(info, p, fields["reply_to"])
        msg = await blocking(
            ctx.herald.store.draft, p, input.idempotency_key, actor=p.actor(input.actor), **fields
        )
        return message_of(msg)

    @strawberry.mutation(
        description=(
            "Change a message's text or body. Allowed on drafts, and on CHAT messages once sent "
            "(they then show edited: true); a rejected, redacted or sent non-CHAT message fails "
            "with CONFLICT."
        )
    )
    async def edit_message(
        self,
        info: Info,
        input: Annotated[
            EditMessageInput,
            strawberry.argument(description="Which message, and its new text or body."),
        ],
    ) -> MessageType:
        ctx = context_of(info)
        text, content = checks.edit_content(input)
        p = ctx.principal()
        msg = await blocking(
            ctx.herald.store.edit,
            p,
            str(input.id),
            input.expected_version,
            p.actor(input.actor),
            text,
            content,
        )
        return message_of(msg)

    @strawberry.mutation(
        description=(
            "Approving a draft sends it: records Approved then Sent, and the status becomes "
            "ACCEPTED. Works whether or not the draft requires approval; anything but a draft "
            "fails with CONFLICT."
        )
    )
    async def approve_message(
        self,
        info: Info,
        input: Annotated[
            ApproveMessageInput, strawberry.argument(description="Which draft to approve.")
        ],
    ) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version,
            actor=input.actor,
            idempotency_key=input.idempotency_key,
        )
        return await _command(info, MessageStore.approve, input, input.idempotency_key)

    @strawberry.mutation(
        description=(
            "Reject a draft: its status becomes REJECTED, which is final. Anything but a draft "
            "fails with CONFLICT."
        )
    )
    async def reject_message(
        self,
        info: Info,
        input: Annotated[
            RejectMessageInput, strawberry.argument(description="Which draft to reject, and why.")
        ],
    ) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version, actor=input.actor, reason=input.reason
        )
        return await _command(info, MessageStore.reject, input, input.reason)

    @strawberry.mutation(
        description=(
            "Send a draft: its status becomes ACCEPTED, and channels report on it from then on. "
            "A message that is not a draft, or a draft that requires approval, fails with "
            "CONFLICT."
        )
    )
    async def send_message(
        self,
        info: Info,
        input: Annotated[SendMessageInput, strawberry.argument(description="Which draft to send.")],
    ) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version,
            actor=input.actor,
            idempotency_key=input.idempotency_key,
        )
        return await _command(info, MessageStore.send, input, input.idempotency_key)

    @strawberry.mutation(
        description=(
            "Erase a message's content and personal fields for good, from the message and from "
            "every event of it: text, body, sender, reference and reasons become null, "
            "recipients keep their identifierKey and type with an empty identifierValue. Drafts, "
            "rejected messages and finished ones (SENT, DELIVERED, SENDING_FAILED, "
            "DELIVERY_FAILED) can be redacted, once; messages in progress (ACCEPTED, PROCESSING) "
            "and redacted ones fail with CONFLICT."
        )
    )
    async def redact_message(
        self,
        info: Info,
        input: Annotated[
            RedactMessageInput, strawberry.argument(description="Which message to redact, and why.")
        ],
    ) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version, actor=input.actor, reason=input.reason
        )
        return await _command(info, MessageStore.redact, input, input.reason)

    @strawberry.mutation(
        description=(
            "Change a draft and, with draft: false or status: ACCEPTED, send it, as Bird's PATCH "
            "of a message. Anything but a draft, or sending one that requires approval, fails "
            "with CONFLICT."
        )
    )
    async def update_message(
        self,
        info: Info,
        input: Annotated[
            UpdateMessageInput,
            strawberry.argument(
                description="Which draft, and the fields to change; at least one besides the ids."
            ),
        ],
    ) -> MessageType:
        ctx = context_of(info)
        send, changes = checks.update_changes(input)
        p = ctx.principal()
        store = ctx.herald.store
        current = await blocking(store.load, p, str(input.id))
        if current.conversation_id != str(input.conversation_id):
            raise NotFound
        await _check_reply_to(info, p, changes["reply_to"])
        msg = await blocking(
            store.update,
            p,
            str(input.id),
            input.expected_version,
            p.actor(input.actor),
            send,
            changes,
        )
        return message_of(msg)

    @strawberry.mutation(
        description=(
            "Record a channel's report on a sent message. Statuses only move forward; a "
            "backward or repeated one fails with CONFLICT, and one a channel may not report "
            "(DRAFT, REJECTED, ACCEPTED) with VALIDATION_FAILED."
        )
    )
    async def record_delivery_status(
        self,
        info: Info,
        input: Annotated[
            RecordDeliveryStatusInput,
            strawberry.argument(description="Which message, and the status the channel reports."),
        ],
    ) -> MessageType:
        ctx = context_of(info)
        status = checks.reported_status(input)
        checks.check_common(actor=input.actor, reason=input.reason)
        p = ctx.principal()
        msg = await blocking(
            ctx.herald.store.record_status,
            p,
            str(input.id),
            p.actor(input.actor),
            status,
            input.reason,
        )
        return message_of(msg)

    @strawberry.mutation(
        description=(
            "The Handle Message Action API: APPROVE approves and sends, EDIT replaces the text, "
            "REJECT rejects."
        )
    )
    async def handle_message_action(
        self,
        info: Info,
        conversation_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=(
                    "The conversation the message belongs to; if it is not the message's "
                    "conversation, the action fails with NOT_FOUND."
                )
            ),
        ],
        message_id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=(
                    "The id of the message. One that names no message in your workspace fails "
                    "with NOT_FOUND."
                )
            ),
        ],
        metadata: Annotated[
            MessageActionMetadataInput,
            strawberry.argument(description="Which action to take, and its content."),
        ],
    ) -> MessageActionResult:
        return await handle_action(info, str(conversation_id), str(message_id), metadata)

    @strawberry.mutation(
        description=(
            "Erase a person: redact every message of your workspace addressed to this identifier, "
            "on any channel and in any conversation, as redactMessage does each. Idempotent: run "
            "it again to finish what a failure interrupted, or once messages in progress have "
            "finished. Another workspace's messages are never touched."
        )
    )
    async def erase_contact(
        self,
        info: Info,
        input: Annotated[
            EraseContactInput, strawberry.argument(description="Whom to erase, and why.")
        ],
    ) -> EraseContactResult:
        return await erase(info, input)
