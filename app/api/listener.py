"""One subscription's side of the hub (hub.py): its workspace and filter, which decide the
events that wake it, and the key that must still be valid each time it reads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from uuid import UUID

from app.errors import Unauthenticated
from app.workspaces import Principal

from .keycheck import KeyChecks


@dataclass(eq=False)
class Listener:
    """One subscription's side of the hub: woken when an event may concern it."""

    keys: KeyChecks
    principal: Principal
    conversation_id: str | None
    message_id: str | None
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    # The last position of the events it was woken for; None: woken for all (a revocation,
    # a failure of the hub), so the subscription reads whatever its position.
    woken_to: int | None = 0
    revoked: bool = False

    def __post_init__(self) -> None:
        if self.message_id is not None:
            try:
                self.message_id = UUID(self.message_id).hex  # as the view stores it
            except ValueError:
                self.message_id = ""  # names no message: matches nothing

    def concerns(
        self, pairs: set[tuple[str, str]], conversations: set[str], messages: set[str]
    ) -> bool:
        """Whether events of these (conversation, message) pairs pass this one's filter."""
        if self.conversation_id is None:
            return self.message_id is None or self.message_id in messages
        if self.message_id is None:
            return self.conversation_id in conversations
        return (self.conversation_id, self.message_id) in pairs

    async def wait(self, read_to: int) -> None:
        """Until an event after `read_to`, the position the subscription has read to, may
        concern it; then its key must still be valid. A wake for events it has already read
        (it read them as they landed, before the hub woke it) is let go."""
        while True:
            await self.woken.wait()
            self.woken.clear()
            woken_to, self.woken_to = self.woken_to, 0
            await self.confirm()
            if woken_to is None or woken_to > read_to:
                return

    def wake(self, upto: int | None) -> None:
        """For events up to `upto` (None: for anything)."""
        if upto is None or self.woken_to is None:
            self.woken_to = None
        else:
            self.woken_to = max(self.woken_to, upto)
        self.woken.set()

    async def confirm(self) -> None:
        if self.revoked or not await self.keys.confirm(self.principal.key_digest):
            raise Unauthenticated("the API key was revoked")


def wake(listeners: set[Listener], pairs: set[tuple[str, str]], upto: int) -> None:
    """Those of `listeners` whose filter events of these (conversation, message) pairs pass,
    for the events up to position `upto`."""
    conversations = {conversation for conversation, _ in pairs}
    messages = {message for _, message in pairs}
    for listener in listeners:
        if listener.concerns(pairs, conversations, messages):
            listener.wake(upto)
