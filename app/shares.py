"""Fair shares of a process between workspaces: at most `capacity` cost points of one
workspace's operations run at once; the rest wait their turn, in order, holding no thread and
no part of the event loop. So one workspace's heavy load, however many connections it comes
on, leaves the others room; an operation dearer than the whole capacity runs alone."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Shares:
    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._held: dict[str, int] = {}
        self._waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}

    def held(self, owner: str) -> int:
        return self._held.get(owner, 0)

    @asynccontextmanager
    async def hold(self, owner: str, points: int) -> AsyncIterator[None]:
        release = await self.take(owner, points)
        try:
            yield
        finally:
            release()

    async def take(self, owner: str, points: int) -> Callable[[], None]:
        """Wait for the points, then hold them until the returned function is called (once;
        calling it again does nothing)."""
        await self._acquire(owner, points)
        held = [True]

        def release() -> None:
            if held.pop() if held else False:
                self._release(owner, points)

        return release

    def _fits(self, owner: str, points: int) -> bool:
        held = self._held.get(owner, 0)
        return held == 0 or held + points <= self.capacity

    async def _acquire(self, owner: str, points: int) -> None:
        queue = self._waiting.get(owner)
        if not queue and self._fits(owner, points):
            self._held[owner] = self._held.get(owner, 0) + points
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, deque()).append((points, turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(owner, points)  # granted as it was cancelled: hand it on
            else:
                self._waiting[owner].remove((points, turn))
                self._wake(owner)
            raise

    def _release(self, owner: str, points: int) -> None:
        self._held[owner] = self._held.get(owner, 0) - points
        self._wake(owner)

    def _wake(self, owner: str) -> None:
        queue = self._waiting.get(owner)
        while queue and self._fits(owner, queue[0][0]):
            points, turn = queue.popleft()
            self._held[owner] = self._held.get(owner, 0) + points
            turn.set_result(None)
        if not queue:
            self._waiting.pop(owner, None)
        if self._held.get(owner) == 0:
            del self._held[owner]
