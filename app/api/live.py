"""Live events: a subscriber reads the events view after its own position, woken whenever the
projection moves, so it sees every event of its workspace once, in recorded order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from strawberry.types import Info

from app.errors import Unauthenticated

from .context import blocking, context_of
from .events import MessageEvent, event_of

_PAGE = 100
_RECHECK_KEY = 1.0


async def message_events(
    info: Info, conversation_id: str | None, message_id: str | None
) -> AsyncGenerator[MessageEvent, None]:
    ctx = context_of(info)
    principal = ctx.principal()
    herald = ctx.herald
    loop = asyncio.get_running_loop()
    moved = asyncio.Event()

    def wake(_: int) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(moved.set)

    stop = herald.projection.listen(wake)
    try:
        # Listening starts before the position is read, so nothing falls between the two.
        position = herald.projection.position
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
                yield event_of(event, conversation)
            if not page.has_next:
                # Woken by new events, or at least every few seconds to notice a revoked key.
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_RECHECK_KEY):
                        await moved.wait()
                moved.clear()
                if not await blocking(herald.workspaces.is_active, principal):
                    raise Unauthenticated("the API key was revoked")
    finally:
        stop()
