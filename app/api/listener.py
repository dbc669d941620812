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

    def last_concerning(self, moved: Moved) -> int | None:
        """The last position of the events that pass this one's filter; None if none does."""
        if self.conversation_id is None:
            if self.message_id is None:
                return moved.last
            return moved.by_message.get(self.message_id)
        if self.message_id is None:
            return moved.by_conversation.get(self.conversation_id)
        return moved.by_pair.get((self.conversation_id, self.message_id))

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


@dataclass
class Moved:
    """The events of one workspace that landed together: the last position of each
    (conversation, message) pair, of each conversation, of each message, and of all."""

    by_pair: dict[tuple[str, str], int] = field(default_factory=dict)
    by_conversation: dict[str, int] = field(default_factory=dict)
    by_message: dict[str, int] = field(default_factory=dict)
    last: int = 0

    def add(self, position: int, conversation_id: str, message_id: str) -> None:
        """Positions come in order, so the last one seen is the greatest."""
        self.by_pair[conversation_id, message_id] = position
        self.by_conversation[conversation_id] = position
        self.by_message[message_id] = position
        self.last = position


def wake(listeners: set[Listener], moved: Moved) -> None:
    """Those of `listeners` whose filter some of these events pass, each for the last of them."""
    for listener in listeners:
        upto = listener.last_concerning(moved)
        if upto is not None:
            listener.wake(upto)
