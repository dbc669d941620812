"""Live events: a subscriber reads the events view after its own position (a cursor it was
given, or the present), then again each time the hub wakes it, so it sees every event of its
workspace after that position once, in recorded order, each with its cursor."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from strawberry.types import Info

from app.runtime import Herald

from .context import blocking, context_of
from .events import MessageEvent, event_of
from .hub import hub_of
from .paging import parse_cursor
from .quota import quota_of

_PAGE = 100


def _present(herald: Herald) -> int:
    return herald.projection.position


def at(event: MessageEvent, position: int) -> MessageEvent:
    """The event with its cursor: its position in the notification log."""
    event.cursor = str(position)
    return event


async def message_events(
    info: Info, conversation_id: str | None, message_id: str | None, after: str | None
) -> AsyncGenerator[MessageEvent, None]:
    ctx = context_of(info)
    principal = ctx.principal()
    herald = ctx.herald
    start = None if after is None else parse_cursor(after, "after")
    hub = hub_of(herald)
    with (
        quota_of(herald).subscriptions.take(principal),
        hub.listening(principal, conversation_id, message_id) as listener,
    ):
        # Listening starts before the position is read, so nothing falls between the two.
        position = start if start is not None else await blocking(_present, herald)
        while True:
            page = await blocking(
                herald.views.events,
                principal.workspace,
                conversation_id,
                message_id,
                _PAGE,
                position,
            )
            for pos, (conversation, event) in page.items:
                position = pos
                yield at(event_of(event, conversation), pos)
            if page.has_next:
                await listener.confirm()  # a long catch-up stops too when the key is revoked
            else:
                await listener.wait(position)
