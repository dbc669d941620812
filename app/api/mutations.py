"""Mutations: each checks its input, then makes one store call, which returns only after the
views hold its events (read-your-writes)."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.types import Info

from app.domain import Message
from app.errors import NotFound, ValidationFailed
from app.store import MessageStore
from app.workspaces import Principal

from . import checks
from .actions import MessageActionResult, handle_action
from .context import blocking, context_of
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


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def draft_message(self, info: Info, input: DraftMessageInput) -> MessageType:
        ctx = context_of(info)
        fields = checks.draft_fields(input)
        p = ctx.principal()
        await _check_reply_to(info, p, fields["reply_to"])
        msg = await blocking(
            ctx.herald.store.draft, p, input.idempotency_key, actor=p.actor(input.actor), **fields
        )
        return message_of(msg)

    @strawberry.mutation
    async def edit_message(self, info: Info, input: EditMessageInput) -> MessageType:
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

    @strawberry.mutation(description="Approving a draft sends it.")
    async def approve_message(self, info: Info, input: ApproveMessageInput) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version,
            actor=input.actor,
            idempotency_key=input.idempotency_key,
        )
        return await _command(info, MessageStore.approve, input, input.idempotency_key)

    @strawberry.mutation
    async def reject_message(self, info: Info, input: RejectMessageInput) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version, actor=input.actor, reason=input.reason
        )
        return await _command(info, MessageStore.reject, input, input.reason)

    @strawberry.mutation
    async def send_message(self, info: Info, input: SendMessageInput) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version,
            actor=input.actor,
            idempotency_key=input.idempotency_key,
        )
        return await _command(info, MessageStore.send, input, input.idempotency_key)

    @strawberry.mutation
    async def redact_message(self, info: Info, input: RedactMessageInput) -> MessageType:
        checks.check_common(
            expected_version=input.expected_version, actor=input.actor, reason=input.reason
        )
        return await _command(info, MessageStore.redact, input, input.reason)

    @strawberry.mutation
    async def update_message(self, info: Info, input: UpdateMessageInput) -> MessageType:
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

    @strawberry.mutation
    async def record_delivery_status(
        self, info: Info, input: RecordDeliveryStatusInput
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
        conversation_id: strawberry.ID,
        message_id: strawberry.ID,
        metadata: MessageActionMetadataInput,
    ) -> MessageActionResult:
        return await handle_action(info, str(conversation_id), str(message_id), metadata)
