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

    async def wait(self) -> None:
        """Until an event may concern this subscription; then its key must still be valid."""
        await self.woken.wait()
        self.woken.clear()
        await self.confirm()

    async def confirm(self) -> None:
        if self.revoked or not await self.keys.confirm(self.principal.key_digest):
            raise Unauthenticated("the API key was revoked")


def wake(listeners: set[Listener], pairs: set[tuple[str, str]]) -> None:
    conversations = {conversation for conversation, _ in pairs}
    messages = {message for _, message in pairs}
    for listener in listeners:
        if listener.concerns(pairs, conversations, messages):
            listener.woken.set()
