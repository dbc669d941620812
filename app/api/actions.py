"""The Handle Message Action API: APPROVE approves and sends, EDIT replaces the text, REJECT."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.body_text import plain_text
from app.domain import Message
from app.errors import NotFound
from app.lifecycle import SENT_STATES, Status

from .checks import action_text
from .context import blocking, context_of
from .inputs import MessageAction, MessageActionMetadataInput
from .scalars import DateTime


@strawberry.type(description="The message as the Handle Message Action API returns it.")
class ActionMessage:
    id: strawberry.ID = strawberry.field(name="_id", description="The message's id.")
    message: str | None = strawberry.field(
        description="The plain text of the message. Null once redacted."
    )
    to: str | None = strawberry.field(
        description="The address (identifierValue) of the first TO recipient; null when none."
    )
    sent: bool = strawberry.field(
        description="True once the message has been sent (any status from ACCEPTED on)."
    )
    status: str = strawberry.field(description='e.g. "draft", "approved", "rejected", "edited".')
    timestamp: DateTime = strawberry.field(
        description="When the latest event of the message was recorded."
    )


@strawberry.type(description="What the Handle Message Action API answers.")
class MessageActionResult:
    status: str = strawberry.field(description='"success" when the action was taken.')
    message: ActionMessage = strawberry.field(description="The message after the action.")


_DONE = {
    MessageAction.APPROVE: "approved",
    MessageAction.EDIT: "edited",
    MessageAction.REJECT: "rejected",
}


async def handle_action(
    info: Info, conversation_id: str, message_id: str, metadata: MessageActionMetadataInput
) -> MessageActionResult:
    ctx = context_of(info)
    p = ctx.principal()
    store = ctx.herald.store
    text = action_text(metadata)
    current = await blocking(store.load, p, message_id)
    if current.conversation_id != conversation_id:
        raise NotFound  # the message is not in the conversation the path names
    actor = p.actor(None)
    if metadata.action is MessageAction.APPROVE:
        msg = await blocking(store.approve, p, message_id, None, actor, None)
    elif metadata.action is MessageAction.EDIT:
        msg = await blocking(store.edit, p, message_id, None, actor, text)
    else:
        msg = await blocking(store.reject, p, message_id, None, actor, None)
    return MessageActionResult(
        status="success", message=action_message(msg, _DONE[metadata.action])
    )


def action_message(msg: Message, status: str) -> ActionMessage:
    to = next((r["identifierValue"] for r in msg.recipients if r.get("type", "TO") == "TO"), None)
    return ActionMessage(
        id=strawberry.ID(str(msg.id)),
        message=None if msg.content is None else plain_text(msg.content),
        to=to,
        sent=Status(msg.status) in SENT_STATES,
        status=status,
        timestamp=DateTime(msg.modified_on),
    )
